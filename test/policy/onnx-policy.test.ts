import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { inspectImage } from '../../src/codec/inspect.ts';
import { AGREEMENT_LADDER, paperActions } from '../../src/policy/actions.ts';
import { PolicyError } from '../../src/policy/errors.ts';
import { featureNames, featuresOf } from '../../src/policy/features.ts';
import { FixedQualityPolicy } from '../../src/policy/fixed.ts';
import { policyMetadataProps } from '../../src/policy/model-metadata.ts';
import { OnnxPolicy } from '../../src/policy/onnx-policy.ts';
import { encodeMlpOnnx, forwardMlp } from '../../src/policy/onnx-writer.ts';
import { PLACEHOLDER_MODEL_ID, placeholderSpec } from '../../src/policy/placeholder.ts';
import { seededRng } from '../../src/policy/rng.ts';
import { syntheticJpeg } from '../codec/images.ts';
import { modelBytes, tempDir, testMetadata } from './helpers.ts';

const greedy = { exploration: { kind: 'epsilon-greedy' as const, epsilon: 0 } };
const context = { provider: 'rekognition' as const, operation: 'DetectLabels' };

test('the written placeholder network gives in onnxruntime the same scores as the TS forward pass', async () => {
  const spec = placeholderSpec();
  const session = await ort.InferenceSession.create(encodeMlpOnnx(spec));
  const rng = seededRng(3);
  for (let trial = 0; trial < 20; trial++) {
    const x = Float32Array.from(featureNames, () => rng() * 4 - 2);
    const out = await session.run({ features: new ort.Tensor('float32', x, [1, x.length]) });
    const onnx = out.scores!.data as Float32Array;
    const ts = forwardMlp(spec.layers, spec.activations, x);
    assert.equal(onnx.length, paperActions.length);
    for (let i = 0; i < ts.length; i++) assert.ok(Math.abs(onnx[i]! - ts[i]!) < 1e-4, `${onnx[i]} vs ${ts[i]}`);
  }
  await session.release();
});

test('the shipped models/default.onnx loads and decides for a real image', async () => {
  const policy = await OnnxPolicy.load(new URL('../../models/default.onnx', import.meta.url).pathname, greedy);
  const image = await inspectImage(await syntheticJpeg(500, 375, 92), { maxInputPixels: 1e7 });
  const decision = await policy.decide(image, context);
  assert.equal(decision.modelId, PLACEHOLDER_MODEL_ID);
  assert.equal(decision.propensity, 1);
  assert.ok(paperActions.some((a) => a.quality === decision.action.quality));
  assert.deepEqual(decision.features?.values, Array.from(featuresOf(image)));
  await policy.release();
});

test('decisions follow the scores; the propensity is the chosen action probability', async () => {
  const policy = await OnnxPolicy.fromBytes(modelBytes([0, 0.2, 0.9, 0.1]), {
    exploration: { kind: 'epsilon-greedy', epsilon: 0.2 },
    rng: seededRng(1),
  });
  const features = new Float32Array(featureNames.length);
  const seen = new Map<number, number>();
  for (let i = 0; i < 200; i++) {
    const d = await policy.decideFromFeatures(features, { width: 400, height: 300 });
    assert.deepEqual(d.action, policy.actions[d.actionIndex]);
    assert.ok(Math.abs(d.propensity - (d.actionIndex === 2 ? 0.85 : 0.05)) < 1e-9);
    seen.set(d.actionIndex, (seen.get(d.actionIndex) ?? 0) + 1);
  }
  assert.equal(seen.size, 4, 'exploration reaches every action');
  assert.ok(seen.get(2)! > 140);
  await policy.release();
});

async function refused(bytes: Uint8Array, code: string, options = {}): Promise<void> {
  await assert.rejects(
    OnnxPolicy.fromBytes(bytes, { ...greedy, ...options }),
    (error: unknown) => error instanceof PolicyError && error.code === code,
  );
}

test('refuses files that do not match what the code provides', async () => {
  await refused(modelBytes([0, 1], { feature_version: 99 }), 'METADATA_MISMATCH');
  await refused(modelBytes([0, 1], { feature_names: [...featureNames].reverse() }), 'METADATA_MISMATCH');
  await refused(modelBytes([0, 1], { input: 'pixels' }), 'METADATA_MISMATCH');
  await refused(modelBytes([0, 1, 2], { actions: [{ quality: 5 }, { quality: 15 }] }), 'INFERENCE_FAILED');
  await refused(modelBytes([0, 1], { provider: 'baidu' }), 'METADATA_MISMATCH', {
    expect: { provider: 'rekognition' },
  });
  await refused(modelBytes([0, 1], { actions: [{ quality: 0 }, { quality: 15 }] }), 'METADATA_INVALID');
  await refused(Buffer.from('definitely not onnx'), 'MODEL_UNREADABLE');
  const dir = await tempDir();
  await assert.rejects(OnnxPolicy.load(join(dir, 'missing.onnx'), greedy), { code: 'MODEL_UNREADABLE' });
});

test('refuses a model whose metadata lacks a required key', async () => {
  const { onnx } = (await import('onnx-proto')).default;
  const model = onnx.ModelProto.decode(modelBytes([0, 1]));
  model.metadataProps = model.metadataProps.filter((p) => p.key !== 'reward_weights');
  const dir = await tempDir();
  const path = join(dir, 'm.onnx');
  await writeFile(path, onnx.ModelProto.encode(model).finish());
  await assert.rejects(OnnxPolicy.load(path, greedy), /reward_weights/);
  assert.ok((await readFile(path)).length > 0);
});

test('fixed policy: configured quality, propensity 1, stable id', async () => {
  const image = await inspectImage(await syntheticJpeg(32, 32, 90), { maxInputPixels: 1e7 });
  assert.deepEqual(await new FixedQualityPolicy(75).decide(image, context), {
    action: { quality: 75 },
    actionIndex: -1,
    propensity: 1,
    modelId: 'fixed-q75',
  });
  assert.throws(() => new FixedQualityPolicy(0), RangeError);
});

test('a model with agreement and size heads sends the cheapest action whose agreement clears the level', async () => {
  const actions = [{ quality: 75 }, { quality: 35 }, { quality: 75, maxSide: 512 }, { quality: 35, maxSide: 512 }];
  const n = featureNames.length;
  const head = (values: number[]) => ({
    weights: new Float32Array(values.length * n),
    bias: Float32Array.from(values),
  });
  const layer = (values: number[]) => ({ ...head(values), rows: values.length, cols: n });
  const agreement = [1, 0.985, 0.975, 0.9];
  const size = [1, 0.5, 0.2, 0.1];
  const bytes = encodeMlpOnnx({
    layers: [],
    activations: [],
    inputName: 'features',
    outputName: 'scores',
    heads: [
      { name: 'scores', layer: layer(agreement.map((a, i) => a - size[i]!)) },
      { name: 'agreement', layer: layer(agreement) },
      { name: 'size', layer: layer(size) },
    ],
    metadata: policyMetadataProps({
      ...testMetadata({ model_id: 'heads', actions }),
      agreement_output: 'agreement',
      size_output: 'size',
      operating_point: { threshold: 0.98 },
    }),
  });
  const policy = await OnnxPolicy.fromBytes(bytes, greedy);
  const photo = await inspectImage(await syntheticJpeg(1600, 1200, 92), { maxInputPixels: 1e7 });
  const limits = { minSide: 80, maxSide: 10_000, maxBytes: 5e6 };
  const at = async (threshold: number, floor: number | null = 256) => {
    const level = AGREEMENT_LADDER.indexOf(threshold);
    return (await policy.decide(photo, { ...context, limits, point: { floor, level } })).action;
  };
  assert.deepEqual(await at(0.99), { quality: 75 }, 'only the stored size at q75 agrees 0.99');
  assert.deepEqual(await at(0.98), { quality: 35 });
  assert.deepEqual(await at(0.97), { quality: 75, maxSide: 512 });
  assert.deepEqual(await at(0.85), { quality: 35, maxSide: 512 });
  assert.deepEqual(await at(0.85, 1024), { quality: 35 }, 'the floor keeps 512 px out');
  assert.equal(policy.trainedLevel, AGREEMENT_LADDER.indexOf(0.98));
  await policy.release();
});
