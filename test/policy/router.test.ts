import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { inspectImage } from '../../src/codec/inspect.ts';
import { FEATURE_VERSION } from '../../src/policy/features.ts';
import { FixedQualityPolicy } from '../../src/policy/fixed.ts';
import { QualityLadderPolicy } from '../../src/policy/ladder.ts';
import { parseModelMap } from '../../src/policy/model-map.ts';
import { PolicyRouter, type PolicyRouterEvent } from '../../src/policy/router.ts';
import { syntheticJpeg } from '../codec/images.ts';
import { atomicWrite, modelBytes, tempDir } from './helpers.ts';

const exploration = { kind: 'epsilon-greedy' as const, epsilon: 0 };
const labels = { provider: 'rekognition' as const, operation: 'DetectLabels' };
const faces = { provider: 'facepp' as const, operation: 'detect' };

async function waitFor(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await sleep(25);
  assert.ok(check(), `timed out waiting for ${what}`);
}

test('routes by provider/operation, then provider, then *, else the fixed fallback', async () => {
  const dir = await tempDir();
  await writeFile(join(dir, 'labels.onnx'), modelBytes([0, 1], { model_id: 'labels-model' }));
  await writeFile(join(dir, 'rek.onnx'), modelBytes([1, 0], { model_id: 'rek-model' }));
  const router = await PolicyRouter.create({
    models: { 'rekognition/DetectLabels': join(dir, 'labels.onnx'), rekognition: join(dir, 'rek.onnx') },
    fallback: new FixedQualityPolicy(75),
    exploration,
    watch: false,
  });
  const image = await inspectImage(await syntheticJpeg(64, 48, 90), { maxInputPixels: 1e7 });
  assert.equal((await router.decide(image, labels)).modelId, 'labels-model');
  assert.equal(
    (await router.decide(image, { provider: 'rekognition', operation: 'DetectFaces' })).modelId,
    'rek-model',
  );
  assert.equal((await router.decide(image, faces)).modelId, 'fixed-q75');
  const status = router.status();
  assert.equal(status.fallbackId, 'fixed-q75');
  assert.deepEqual(
    status.models.map((m) => m.modelId),
    ['labels-model', 'rek-model'],
  );
  assert.ok(status.models.every((m) => m.loadedAt && !m.lastError));
  await router.close();
});

test('a bad replacement is refused, the current model stays and the error is reported', async () => {
  const dir = await tempDir();
  const path = join(dir, 'm.onnx');
  await writeFile(path, modelBytes([0, 1], { model_id: 'good' }));
  const events: PolicyRouterEvent[] = [];
  const router = await PolicyRouter.create({
    models: { '*': path },
    fallback: new FixedQualityPolicy(75),
    exploration,
    watch: false,
    onEvent: (e) => events.push(e),
  });
  await writeFile(path, modelBytes([0, 1], { model_id: 'bad', feature_version: FEATURE_VERSION + 1 }));
  const [result] = await router.reload();
  assert.equal(result?.ok, false);
  assert.match(result?.error ?? '', /METADATA_MISMATCH/);
  assert.equal(router.policyFor(labels).id, 'good');
  const failed = events.at(-1);
  assert.ok(
    failed?.type === 'load-failed' && failed.keptModelId === 'good' && failed.error.code === 'METADATA_MISMATCH',
  );
  assert.equal(router.status().models[0]?.lastError?.code, 'METADATA_MISMATCH');
  assert.deepEqual(await router.reload('nope'), [{ key: 'nope', ok: false, error: 'no such policy key' }]);
  await router.close();
});

test('a missing model file at start-up means the fallback serves, and a later file is picked up', async () => {
  const dir = await tempDir();
  const path = join(dir, 'later.onnx');
  const router = await PolicyRouter.create({
    models: { '*': path },
    fallback: new FixedQualityPolicy(60),
    exploration,
    debounceMs: 50,
  });
  assert.equal(router.policyFor(faces).id, 'fixed-q60');
  assert.equal(router.status().models[0]?.lastError?.code, 'MODEL_UNREADABLE');
  await atomicWrite(path, modelBytes([0, 1], { model_id: 'arrived' }));
  await waitFor(() => router.policyFor(faces).id === 'arrived', 'the new file to load');
  await router.close();
});

test('hot reload by atomic rename under concurrent decisions: no decision fails', async () => {
  const dir = await tempDir();
  const path = join(dir, 'm.onnx');
  await writeFile(path, modelBytes([0, 1], { model_id: 'v0' }));
  const router = await PolicyRouter.create({
    models: { '*': path },
    fallback: new FixedQualityPolicy(75),
    exploration,
    debounceMs: 20,
  });
  const image = await inspectImage(await syntheticJpeg(120, 90, 90), { maxInputPixels: 1e7 });
  let stop = false;
  const seen = new Set<string>();
  const workers = Array.from({ length: 4 }, async () => {
    let count = 0;
    while (!stop) {
      seen.add((await router.decide(image, labels)).modelId);
      count++;
    }
    return count;
  });
  for (let v = 1; v <= 5; v++) {
    await atomicWrite(path, modelBytes(v % 2 ? [1, 0] : [0, 1], { model_id: `v${v}` }));
    await waitFor(() => router.policyFor(labels).id === `v${v}`, `v${v}`);
  }
  await writeFile(path, 'garbage, then nothing'); // a broken write in between must not hurt either
  await sleep(150);
  await router.reload();
  assert.equal(router.policyFor(labels).id, 'v5');
  stop = true;
  const counts = await Promise.all(workers);
  assert.ok(counts.every((c) => c > 0));
  assert.ok(seen.has('v0') && seen.has('v5'));
  await rm(path);
  await router.close();
});

test('policy model map: key=path pairs or JSON; bad keys are refused naming the option', () => {
  assert.deepEqual(parseModelMap('rekognition/DetectLabels=a.onnx,*=b.onnx', '--policy-models'), {
    'rekognition/DetectLabels': 'a.onnx',
    '*': 'b.onnx',
  });
  assert.deepEqual(parseModelMap('{"baidu":"c.onnx"}', '--policy-models'), { baidu: 'c.onnx' });
  assert.throws(() => parseModelMap('Bad Key=a.onnx', '--policy-models'), /--policy-models/);
  assert.throws(() => parseModelMap('noequals', '--policy-models'), /--policy-models/);
});

test('a text operation without a model of its own gets its kind fallback, not the provider or * model', async () => {
  const dir = await tempDir();
  await writeFile(join(dir, 'star.onnx'), modelBytes([0, 1], { model_id: 'star-model' }));
  await writeFile(join(dir, 'baidu.onnx'), modelBytes([0, 1], { model_id: 'baidu-model' }));
  await writeFile(join(dir, 'text.onnx'), modelBytes([0, 1], { model_id: 'rek-text-model' }));
  const kinds: Record<string, 'text' | 'labels'> = {
    'baidu/ocr/v1/general_basic': 'text',
    'baidu/image-classify/v2/advanced_general': 'labels',
    'rekognition/DetectText': 'text',
  };
  const ladder = new QualityLadderPolicy([90, 80], 'text-ladder');
  const router = await PolicyRouter.create({
    models: {
      '*': join(dir, 'star.onnx'),
      baidu: join(dir, 'baidu.onnx'),
      'rekognition/DetectText': join(dir, 'text.onnx'),
    },
    fallback: new FixedQualityPolicy(35),
    kindFallbacks: { policies: { text: ladder }, kindOf: (c) => kinds[`${c.provider}/${c.operation}`] },
    exploration,
    watch: false,
  });
  const image = await inspectImage(await syntheticJpeg(64, 48, 90), { maxInputPixels: 1e7 });
  const ocr = { provider: 'baidu', operation: 'ocr/v1/general_basic' };
  assert.equal((await router.decide(image, ocr)).modelId, 'text-ladder');
  assert.equal(router.policyFor(ocr), ladder);
  // A text operation with its own model is the model's; other kinds route as before.
  assert.equal(
    (await router.decide(image, { provider: 'rekognition', operation: 'DetectText' })).modelId,
    'rek-text-model',
  );
  assert.equal(
    (await router.decide(image, { provider: 'baidu', operation: 'image-classify/v2/advanced_general' })).modelId,
    'baidu-model',
  );
  assert.equal((await router.decide(image, labels)).modelId, 'star-model');
  assert.deepEqual(router.status().kindFallbackIds, { text: 'text-ladder' });
  await router.close();
});
