/**
 * Trained networks as policy model files (the contract of docs/POLICY.md), and any policy model file scored on a data
 * set through onnxruntime-node with the proxy's own decision code, so evaluation and promotion judge the file as the
 * proxy would run it, not the trainer's view of it.
 */
import { rename, writeFile } from 'node:fs/promises';
import type { EncodeAction } from '../codec/types.ts';
import { FEATURE_VERSION, featureNames } from '../policy/features.ts';
import { encodeGridNetOnnx } from '../policy/grid-net.ts';
import { policyMetadataProps } from '../policy/model-metadata.ts';
import { OnnxPolicy } from '../policy/onnx-policy.ts';
import { encodeMlpOnnx } from '../policy/onnx-writer.ts';
import { seededRng } from '../policy/rng.ts';
import type { ImageLimits } from '../providers/types.ts';
import { columnOf, type ImageRow } from './dataset.ts';
import { type ExportedPolicy, OUTPUTS } from './fit.ts';

export interface ModelDescription {
  modelId: string;
  provider: string;
  operation: string;
  /** The model's actions, in output order (the grid it was trained on). */
  actions: readonly EncodeAction[];
  rewardWeights: Record<string, number>;
  /** The threshold cross-validation chose for the threshold rule: where the proxy's calibration starts. */
  threshold?: number;
  dataSummary: unknown;
}

export function encodePolicy(policy: ExportedPolicy, description: ModelDescription): Uint8Array {
  const metadata = policyMetadataProps({
    model_id: description.modelId,
    actions: description.actions.map((a) => ({ ...a })),
    input: 'features',
    output: OUTPUTS.scores,
    agreement_output: OUTPUTS.agreement,
    size_output: OUTPUTS.size,
    ...(description.threshold === undefined ? {} : { operating_point: { threshold: description.threshold } }),
    feature_version: FEATURE_VERSION,
    feature_names: [...featureNames],
    provider: description.provider,
    operation: description.operation,
    reward_weights: description.rewardWeights,
    data_summary: description.dataSummary,
  });
  const producerName = 'adacompress-trainer';
  if (policy.kind === 'grid') {
    return encodeGridNetOnnx({ ...policy.spec, names: { input: 'features', ...OUTPUTS }, metadata, producerName });
  }
  return encodeMlpOnnx({
    layers: policy.trunk,
    activations: policy.activations,
    heads: policy.heads,
    ...(policy.clip ? { inputClip: policy.clip } : {}),
    inputName: 'features',
    outputName: OUTPUTS.scores,
    producerName,
    metadata,
  });
}

/** Write then rename: a proxy watching the file never sees a half-written model. */
export async function writeAtomically(path: string, bytes: Uint8Array | string): Promise<void> {
  const temporary = `${path}.tmp-${process.pid}`;
  await writeFile(temporary, bytes);
  await rename(temporary, path);
}

/**
 * The column of each row a model file sends, decided by the proxy's code (OnnxPolicy.decideFromFeatures, no
 * exploration) under the operation's limits at the model's own operating point (its trained threshold, no side floor).
 * A decision that sends something the data does not hold (an action outside the collected grid) is an error.
 */
export async function choicesOfModel(
  bytes: Uint8Array,
  rows: readonly ImageRow[],
  limits: ImageLimits | undefined,
  onRow: () => void = () => {},
): Promise<number[]> {
  const policy = await OnnxPolicy.fromBytes(bytes, {
    exploration: { kind: 'epsilon-greedy', epsilon: 0 },
    rng: seededRng(1),
  });
  try {
    const choices: number[] = [];
    for (const row of rows) {
      if (row.featureVersion !== FEATURE_VERSION) {
        throw new Error(`data has features v${row.featureVersion}, code v${FEATURE_VERSION}: collect again`);
      }
      const context = limits ? { limits } : {};
      const decision = await policy.decideFromFeatures(Float32Array.from(row.features), row, context);
      const column = columnOf(row, decision.action);
      if (column < 0) {
        throw new Error(
          `${policy.id} sends ${row.image} at quality ${decision.action.quality}${decision.action.maxSide ? `, side ${decision.action.maxSide}` : ''}, which the collected data does not hold (its grid: ${row.actions.length} actions)`,
        );
      }
      choices.push(column);
      onRow();
    }
    return choices;
  } finally {
    await policy.release();
  }
}
