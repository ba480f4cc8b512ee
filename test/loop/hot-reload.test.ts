import assert from 'node:assert/strict';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { encodeMlpOnnx } from '../../src/policy/onnx-writer.ts';
import { placeholderSpec } from '../../src/policy/placeholder.ts';
import { type FakeUpstream, startFakeUpstream } from '../../testkit/fake-upstream.ts';
import { syntheticJpeg } from '../../testkit/images.ts';
import { startTestRuntime } from '../helpers/runtime.ts';

let upstream: FakeUpstream;
let dir: string;
before(async () => {
  upstream = await startFakeUpstream(() => ({ body: '{"Labels":[{"Name":"Dog","Confidence":90}]}' }));
  dir = await mkdtemp(path.join(tmpdir(), 'hot-reload-'));
});
after(async () => {
  await upstream.close();
  await rm(dir, { recursive: true, force: true });
});

/** Write a model atomically, as the trainer's promotion step does (temp file, then rename). */
async function publish(file: string, modelId: string, metadata: Record<string, string> = {}) {
  const spec = placeholderSpec();
  spec.metadata = { ...spec.metadata, model_id: modelId, ...metadata };
  await writeFile(`${file}.tmp`, encodeMlpOnnx(spec));
  await rename(`${file}.tmp`, file);
}

test('models are swapped under traffic without a failed request; a mismatched file is refused and the current kept', async () => {
  const modelPath = path.join(dir, 'policy.onnx');
  await publish(modelPath, 'model-a');
  const proxy = await startTestRuntime(upstream.url, { policyModels: `*=${modelPath}`, policyEpsilon: 0 });
  const photo = await syntheticJpeg({ width: 360, height: 270, quality: 95 });
  const body = JSON.stringify({ Image: { Bytes: photo.toString('base64') } });
  const statuses: number[] = [];
  const headers: string[] = [];
  let stop = false;
  const client = async () => {
    while (!stop) {
      const res = await request(proxy.url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'RekognitionService.DetectLabels' },
        body,
      });
      statuses.push(res.statusCode);
      headers.push(String(res.headers['x-adacompress']));
      await res.body.text();
    }
  };
  const modelIdNow = () => proxy.runtime.router.status().models[0]?.modelId;
  try {
    const traffic = Array.from({ length: 4 }, client);
    await sleep(300);
    await publish(modelPath, 'model-b');
    for (let i = 0; i < 50 && modelIdNow() !== 'model-b'; i++) await sleep(100);
    assert.equal(modelIdNow(), 'model-b', 'the watcher loaded the new file');
    await sleep(300);
    // A file trained for other features: refused, model-b keeps serving.
    await publish(modelPath, 'model-bad', { feature_version: '999' });
    for (let i = 0; i < 50 && !proxy.runtime.router.status().models[0]?.lastError; i++) await sleep(100);
    const reload = (await (await request(`${proxy.adminUrl}/policy/reload`, { method: 'POST' })).body.json()) as {
      results: { ok: boolean }[];
    };
    assert.equal(reload.results[0]?.ok, false, 'admin reload reports the refusal');
    assert.equal(modelIdNow(), 'model-b');
    assert.ok(proxy.logs.lines.some((l) => l.msg === 'policy model refused; keeping the current one'));
    await sleep(200);
    stop = true;
    await Promise.all(traffic);
    assert.ok(statuses.length > 20, `${statuses.length} requests during the swaps`);
    assert.ok(
      statuses.every((s) => s === 200),
      'no request failed',
    );
    assert.ok(
      headers.every((h) => h.startsWith('q=')),
      `every image was still recompressed: ${[...new Set(headers.filter((h) => !h.startsWith('q=')))]}`,
    );
    await proxy.runtime.shutdown();
    const models = new Set((await proxy.logLines()).filter((l) => l.type === 'decision').map((l) => l.modelId));
    assert.ok(models.has('model-a') && models.has('model-b') && !models.has('model-bad'));
  } finally {
    stop = true;
    await proxy.close();
  }
});
