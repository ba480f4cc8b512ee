#!/usr/bin/env bash
# Choose --calibration-levels on training photos the policy never saw (docs/BENCHMARKS.md, run AB). The shipped label
# models were fitted on every training photo, so on those photos their per-photo predictions are in sample and flatter
# the model's levels. This refits the Baidu labels policy, with the shipped recipe (scripts/train-defaults.sh, against
# the q75 reference the shipped models were trained with), on four fifths of the training split, and streams the held-out
# fifth (testkit/shared-data.ts heldOutFoldPhotos) through the calibration bench on MobileNetV3-Small (foreign to the
# policy): the refitted model's levels, then the model-free ladder, three streams each. Validation is never touched.
# Cost measured here: collect 3 min, train 3 min, streams 8 min. Run it as `npm run levels-fold-cv`.
# The same fold chooses the trainer's reference: REFERENCE=original refits against the client's original (the proxy's
# default reference) instead of q75; LEVELS=model streams one variant only; RUNS sets the streams per variant. The
# collect is kept (it is resumable and the same for every reference), the model is written per reference.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=.data/fold-cv
KEY=baidu/image-classify/v2/advanced_general
REFERENCE=${REFERENCE:-q75}
LEVELS=${LEVELS:-model ladder}
RUNS=${RUNS:-3}
MODEL=$OUT/model-$REFERENCE.onnx
rm -rf "$OUT/fit"
mkdir -p "$OUT/fit"
# The fit photos, linked under their names so that the trainer reads them in the same order: the fold is defined
# once, beside the fixed split (testkit/shared-data.ts), and the bench streams its other part.
node --input-type=module -e "
  import { fitFoldPhotos } from './testkit/shared-data.ts';
  for (const file of fitFoldPhotos()) console.log(file);" |
  while read -r file; do ln -s "$(realpath "$file")" "$OUT/fit/$(basename "$file")"; done
node bin/adacompress.js collect --images "$OUT/fit" --apis "$KEY" --out "$OUT/collect" --concurrency 4
node bin/adacompress.js train --key "$KEY" --data "$OUT/collect" --out "$MODEL" --seed 1 \
  --images "$OUT/fit" --accuracy-target 0.95 --reference "$REFERENCE"
for levels in $LEVELS; do
  ADACOMPRESS_POLICY_MODELS="$KEY=$MODEL" ADACOMPRESS_CALIBRATION_LEVELS=$levels \
    ADACOMPRESS_BENCH_SPLIT=held-out-fold ADACOMPRESS_BENCH_RUNS=$RUNS ADACOMPRESS_BENCH_CALIBRATION=advanced \
    node bench/run.ts calibration
done
