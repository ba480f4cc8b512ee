/**
 * Trained networks as policy model files (the contract of docs/POLICY.md), and any policy model file scored on a data
 * set through onnxruntime-node (what the proxy runs), so evaluation and promotion judge the file, not the trainer.
 */
import { rename, writeFile } from 'node:fs/promises';
import { paperActions } from '../policy/actions.ts';
import { FEATURE_VERSION, featureNames } from '../policy/features.ts';
import { policyMetadataProps } from '../policy/model-metadata.ts';
import { OnnxPolicy } from '../policy/onnx-policy.ts';
import { type Activation, type DenseLayer, encodeMlpOnnx } from '../policy/onnx-writer.ts';
import type { ImageRow } from './dataset.ts';

export interface ModelDescription {
  modelId: string;
  provider: string;
  operation: string;
  rewardWeights: Record<string, number>;
  dataSummary: unknown;
}

export function encodePolicy(
  layers: DenseLayer[],
  activations: Activation[],
  description: ModelDescription,
): Uint8Array {
  return encodeMlpOnnx({
    layers,
    activations,
    inputName: 'features',
    outputName: 'scores',
    producerName: 'adacompress-trainer',
    metadata: policyMetadataProps({
      model_id: description.modelId,
      actions: paperActions.map((a) => ({ ...a })),
      input: 'features',
      output: 'scores',
      feature_version: FEATURE_VERSION,
      feature_names: [...featureNames],
      provider: description.provider,
      operation: description.operation,
      reward_weights: description.rewardWeights,
      data_summary: description.dataSummary,
    }),
  });
}

/** Write then rename: a proxy watching the file never sees a half-written model. */
export async function writeAtomically(path: string, bytes: Uint8Array | string): Promise<void> {
  const temporary = `${path}.tmp-${process.pid}`;
  await writeFile(temporary, bytes);
  await rename(temporary, path);
}

/** The greedy action index a model file picks for each row (its argmax score), via onnxruntime. */
export async function choicesOfModel(
  bytes: Uint8Array,
  rows: readonly ImageRow[],
  onRow: () => void = () => {},
): Promise<number[]> {
  const policy = await OnnxPolicy.fromBytes(bytes, { exploration: { kind: 'epsilon-greedy', epsilon: 0 } });
  try {
    const choices: number[] = [];
    for (const row of rows) {
      if (row.featureVersion !== FEATURE_VERSION) {
        throw new Error(`data has features v${row.featureVersion}, code v${FEATURE_VERSION}: collect again`);
      }
      const scores = await policy.scores(Float32Array.from(row.features));
      let best = 0;
      for (let k = 1; k < scores.length; k++) if (scores[k]! > scores[best]!) best = k;
      // Map the model's action to the data's action by quality (a model may list actions in another order).
      const quality = policy.actions[best]!.quality;
      const index = row.qualities.indexOf(quality);
      choices.push(index >= 0 ? index : row.qualities.indexOf(75));
      onRow();
    }
    return choices;
  } finally {
    await policy.release();
  }
}
