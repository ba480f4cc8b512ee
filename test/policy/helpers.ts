import { mkdtemp, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { paperActions } from '../../src/policy/actions.ts';
import { FEATURE_VERSION, featureNames } from '../../src/policy/features.ts';
import { type PolicyMetadata, policyMetadataProps } from '../../src/policy/model-metadata.ts';
import { encodeMlpOnnx, type MlpSpec } from '../../src/policy/onnx-writer.ts';

/** Metadata a test model needs to load (current features, `features` in, `scores` out), with overrides. */
export function testMetadata(overrides: Partial<PolicyMetadata> & Pick<PolicyMetadata, 'actions'>): PolicyMetadata {
  return {
    model_id: 'test-model',
    input: 'features',
    output: 'scores',
    feature_version: FEATURE_VERSION,
    feature_names: [...featureNames],
    provider: '*',
    operation: '*',
    reward_weights: { accuracy: 1, size: 1 },
    data_summary: 'test',
    ...overrides,
  };
}

/** A linear policy whose scores are a fixed vector (bias only), with overridable metadata. */
export function constantSpec(scores: number[], overrides: Partial<PolicyMetadata> = {}): MlpSpec {
  const n = featureNames.length;
  const metadata = testMetadata({
    model_id: 'test-constant',
    actions: paperActions.slice(0, scores.length).map((a) => ({ ...a })),
    ...overrides,
  });
  return {
    layers: [
      { weights: new Float32Array(scores.length * n), bias: Float32Array.from(scores), rows: scores.length, cols: n },
    ],
    activations: ['linear'],
    inputName: 'features',
    outputName: 'scores',
    metadata: policyMetadataProps(metadata),
  };
}

export async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'adacompress-policy-'));
}

/** Replace a file the way deploy tools do: write a temporary file, rename over the target. */
export async function atomicWrite(path: string, bytes: Uint8Array): Promise<void> {
  await writeFile(`${path}.tmp`, bytes);
  await rename(`${path}.tmp`, path);
}

export function modelBytes(scores: number[], overrides: Partial<PolicyMetadata> = {}): Uint8Array {
  return encodeMlpOnnx(constantSpec(scores, overrides));
}
