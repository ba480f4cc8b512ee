/**
 * Method choices of the trainer, judged on the TRAINING split only (repeated k-fold CV, the hardest-fold rule): for a
 * collected key, each variant's threshold rule and argmax-of-scores rule at the accuracy target, next to the cheapest
 * fixed grid action reaching the same pooled CV accuracy on the same photos. The validation photos are never read.
 *
 *   node scripts/trainer-cv.ts --key rekognition/DetectLabels [--target 0.95] [--data .data/collect]
 *     [--variants 'inputs=none,inputs=all;epochs=100'] [--cv-repeats 2]
 * A variant is name=value pairs of FitOptions joined by ';' (inputs=all|basic|size|none, hidden=16 or 16x8); ',' separates variants.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultCollectDir, recordFileName } from '../src/trainer/data.ts';
import { buildDataset, metricsOf } from '../src/trainer/dataset.ts';
import { crossValidate, defaultFitOptions, type FitOptions } from '../src/trainer/fit.ts';
import { readRecordsWithCurrentFeatures } from '../src/trainer/refeature.ts';
import { FEATURE_SETS } from '../src/trainer/train-config.ts';

const { values } = parseArgs({
  options: {
    key: { type: 'string', default: 'rekognition/DetectLabels' },
    target: { type: 'string', default: '0.95' },
    data: { type: 'string', default: defaultCollectDir },
    variants: { type: 'string', default: 'inputs=none,inputs=size,inputs=all' },
    'cv-repeats': { type: 'string', default: '2' },
  },
});
const key = values.key;
const dataset = buildDataset(key, await readRecordsWithCurrentFeatures(join(values.data, recordFileName(key))));
const train = dataset.rows.filter((r) => r.split === 'train');
const target = Number(values.target);
console.log(
  `${key}: ${train.length} training photos, ${dataset.actions.length} actions, target ${target} (hardest folds)`,
);

/** The cheapest fixed grid action (pooled over the training photos) at least as accurate as `accuracy`. */
function fixedAt(accuracy: number) {
  let best: { name: string; sizeRatio: number; accuracy: number } | undefined;
  dataset.actions.forEach((a, k) => {
    const m = metricsOf(train, () => k);
    if (m.accuracy >= accuracy - 1e-9 && (!best || m.sizeRatio < best.sizeRatio)) {
      best = { name: `q${a.quality}@${a.maxSide ?? 'full'}`, sizeRatio: m.sizeRatio, accuracy: m.accuracy };
    }
  });
  return best;
}

const f3 = (x: number) => x.toFixed(3);
for (const variant of values.variants.split(',')) {
  const settings: Record<string, unknown> = {};
  for (const pair of variant.split(';')) {
    const [name, value] = pair.split('=') as [string, string];
    const parsed =
      name === 'inputs'
        ? FEATURE_SETS[value as keyof typeof FEATURE_SETS]
        : name === 'hidden'
          ? value.split('x').map(Number)
          : /^[0-9.e-]+$/.test(value)
            ? Number(value)
            : value === 'true'
              ? true
              : value === 'false'
                ? false
                : value;
    settings[name] = parsed;
  }
  const options: FitOptions = {
    ...defaultFitOptions,
    kind: dataset.kind,
    accuracyTarget: target,
    cvRepeats: Number(values['cv-repeats']),
    ...settings,
  };
  const started = Date.now();
  const cv = crossValidate(train, options);
  const t = cv.chosenThreshold;
  const fixed = fixedAt(t.accuracy);
  console.log(
    `${variant}: threshold ${t.threshold}: pooled ${f3(t.accuracy)}, hardest ${f3(t.hardFoldAccuracy)}${cv.thresholdMet ? '' : ' (not met)'}, size ${f3(t.sizeRatio)}` +
      ` | fixed at that accuracy: ${fixed ? `${fixed.name} ${f3(fixed.sizeRatio)} (x${f3(t.sizeRatio / fixed.sizeRatio)})` : 'none'}` +
      ` | argmax w ${cv.chosen.sizeWeight}: pooled ${f3(cv.chosen.accuracy)}, hardest ${f3(cv.chosen.hardFoldAccuracy)}, size ${f3(cv.chosen.sizeRatio)}` +
      ` (${((Date.now() - started) / 1000).toFixed(0)} s)`,
  );
  console.log(
    `  thresholds: ${cv.thresholdTrials.map((x) => `${x.threshold}: ${f3(x.accuracy)}/${f3(x.hardFoldAccuracy)}/${f3(x.sizeRatio)}`).join('  ')}`,
  );
}
