/**
 * Write models/default.onnx (the hand-derived placeholder policy, a real ONNX MLP) and its model card.
 * Usage: node scripts/make-placeholder-policy.ts [outDir]   (default: models/ at the repo root)
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { paperActions } from '../src/policy/actions.ts';
import { FEATURE_VERSION, featureNames } from '../src/policy/features.ts';
import { encodeMlpOnnx } from '../src/policy/onnx-writer.ts';
import { PLACEHOLDER_MODEL_ID, placeholderSpec } from '../src/policy/placeholder.ts';

const outDir = process.argv[2] ?? fileURLToPath(new URL('../models/', import.meta.url));
await mkdir(outDir, { recursive: true });
const bytes = encodeMlpOnnx(placeholderSpec());
// Write then rename: a proxy watching the file never loads a half-written model.
const target = join(outDir, 'default.onnx');
await writeFile(`${target}.tmp`, bytes);
await rename(`${target}.tmp`, target);

const card = `# Model card: default.onnx — PLACEHOLDER

**This is a placeholder, not a trained policy.** Its weights encode a hand-derived rule; it ships so the proxy has a
real ONNX policy to load, validate, hot-reload and explore with until the trainer exports trained models.
Replace it with \`adacompress train\` output (same contract, see docs/POLICY.md).

- model_id: \`${PLACEHOLDER_MODEL_ID}\`
- network: Gemm(${featureNames.length}→2) + Relu, Gemm(2→${paperActions.length}); input \`features\` float32 [batch, ${featureNames.length}], output \`scores\` float32 [batch, ${paperActions.length}]
- features: version ${FEATURE_VERSION} (src/policy/features.ts); only \`log_bits_per_pixel\` and \`source_quality\` have non-zero weights
- actions: JPEG qualities ${paperActions.map((a) => a.quality).join(', ')}
- provider / operation: \`*\` / \`*\` (any)
- rule: target quality q* = clamp(35 + 10·(1.5 − log_bits_per_pixel) + 40·(0.9 − source_quality), 0, 95); score of
  action a = −(q_a − q*)²/30² up to a per-image constant. About q35 for a typical ImageNet photo, higher for sources
  that are already small per pixel or coarsely quantised.
- scores are preferences, not calibrated expected rewards: exploration temperatures tuned on it do not transfer.
- training data: none. Evaluation: none. Size: ${bytes.length} bytes.
- regenerate: \`node scripts/make-placeholder-policy.ts\`
`;
await writeFile(join(outDir, 'default.md'), card);
console.log(`wrote ${target} (${bytes.length} bytes) and default.md`);
