import { paperActions } from './actions.ts';
import { FEATURE_VERSION, featureNames } from './features.ts';
import { type PolicyMetadata, policyMetadataProps } from './model-metadata.ts';
import type { Activation, DenseLayer, MlpSpec } from './onnx-writer.ts';

/**
 * The hand-derived PLACEHOLDER policy (until the trainer ships trained ones), as a real 2-layer network.
 *
 * Rule: a target quality
 *   q* = clamp(35 + 10 * (1.5 - log_bits_per_pixel) + 40 * (0.9 - source_quality), 0, 95)
 * i.e. about 35 for a typical ImageNet photo (~4.5 bits/pixel at q90+), higher for sources that are already small
 * per pixel or already coarsely quantised (little left to remove, artefacts would compound), lower for very busy ones.
 * Layer 1 (Gemm + Relu, 2 units): h0 = relu(q*raw), h1 = relu(q*raw - 95); h0 - h1 is q* clamped to [0, 95].
 * Layer 2 (Gemm, one score per action): score_a = (2 q_a (h0 - h1) - q_a^2) / 30^2, which is -(q_a - q*)^2 / 30^2 up to
 * a term that is the same for every action: the argmax is the action nearest q*, and softmax exploration prefers
 * neighbours. Scores are preferences, not calibrated expected rewards.
 */
export const PLACEHOLDER_MODEL_ID = `placeholder-rule-f${FEATURE_VERSION}`;

const SPREAD = 30;

export function placeholderSpec(): MlpSpec {
  const n = featureNames.length;
  const index = (name: string): number => {
    const i = featureNames.indexOf(name);
    if (i < 0) throw new Error(`placeholder: no feature ${name}`);
    return i;
  };
  const w1 = new Float32Array(2 * n);
  // q*raw = 35 + 15 - 10 * log_bpp + 36 - 40 * source_quality
  for (const row of [0, 1]) {
    w1[row * n + index('log_bits_per_pixel')] = -10;
    w1[row * n + index('source_quality')] = -40;
  }
  const base = 35 + 10 * 1.5 + 40 * 0.9;
  const layer1: DenseLayer = { weights: w1, bias: Float32Array.of(base, base - 95), rows: 2, cols: n };
  const a = paperActions.length;
  const w2 = new Float32Array(a * 2);
  const b2 = new Float32Array(a);
  paperActions.forEach(({ quality }, i) => {
    w2[i * 2] = (2 * quality) / SPREAD ** 2;
    w2[i * 2 + 1] = (-2 * quality) / SPREAD ** 2;
    b2[i] = -(quality ** 2) / SPREAD ** 2;
  });
  const layer2: DenseLayer = { weights: w2, bias: b2, rows: a, cols: 2 };
  const activations: Activation[] = ['relu', 'linear'];
  const metadata: PolicyMetadata = {
    model_id: PLACEHOLDER_MODEL_ID,
    actions: paperActions.map((action) => ({ ...action })),
    input: 'features',
    output: 'scores',
    feature_version: FEATURE_VERSION,
    feature_names: [...featureNames],
    provider: '*',
    operation: '*',
    reward_weights: { accuracy: 1, size: 1 },
    data_summary: { kind: 'placeholder', note: 'hand-derived rule, no training data; replace with a trained model' },
  };
  return {
    layers: [layer1, layer2],
    activations,
    inputName: 'features',
    outputName: 'scores',
    metadata: policyMetadataProps(metadata),
  };
}
