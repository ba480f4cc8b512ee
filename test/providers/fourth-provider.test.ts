import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { helpText } from '../../src/config/options.ts';
import { proxyOptionsFor } from '../../src/config/proxy.ts';
import { providerDescriptors } from '../../src/providers/registry.ts';
import { type FakeUpstream, startFakeUpstream } from '../../testkit/fake-upstream.ts';
import { syntheticJpeg } from '../../testkit/images.ts';
import { vision } from '../fixtures/vision-provider.ts';
import { startTestRuntime } from '../helpers/runtime.ts';

/**
 * Adding an API is one file (test/fixtures/vision-provider.ts, a batching API) and one registry line: the proxy, its
 * option table, the decision log and the controllers take it from the descriptor, with nothing else touched.
 */
describe('a fourth provider from one descriptor: a batching API', () => {
  const descriptors = [...providerDescriptors, vision];
  let upstream: FakeUpstream;
  let runtime: Awaited<ReturnType<typeof startTestRuntime>>;

  before(async () => {
    upstream = await startFakeUpstream((r) => {
      const requests = JSON.parse(r.body.toString()).requests as { features: { type: string }[] }[];
      const responses = requests.map((item) =>
        item.features[0]!.type === 'FACE_DETECTION'
          ? { faceAnnotations: [{ box: [10, 20, 30, 40], detectionConfidence: 0.9 }] }
          : { labelAnnotations: [{ description: 'Dog', score: 0.93 }] },
      );
      return { body: JSON.stringify({ responses }) };
    });
    runtime = await startTestRuntime(
      upstream.url,
      {
        policyModels: '',
        quality: 30,
        referenceProbability: 1,
        referenceBudgetPerMinute: 1000,
        visionEndpoint: upstream.url,
      },
      { descriptors },
    );
  });
  after(async () => {
    await runtime.close();
    await upstream.close();
  });

  test('its options join the proxy table (flags, env, --help)', () => {
    const help = helpText('serve', '', proxyOptionsFor(descriptors));
    assert.match(help, /--vision-endpoint \(ADACOMPRESS_VISION_ENDPOINT/);
  });

  test('each image of a batch is recompressed for its own operation, and each gets its own answer', async () => {
    const photos = [await syntheticJpeg({ width: 320, height: 240 }), await syntheticJpeg({ width: 300, height: 260 })];
    const body = {
      requests: [
        { image: { content: photos[0]!.toString('base64') }, features: [{ type: 'LABEL_DETECTION', maxResults: 5 }] },
        { image: { content: photos[1]!.toString('base64') }, features: [{ type: 'FACE_DETECTION' }] },
      ],
    };
    const res = await request(`${runtime.url}/v1/images:annotate?key=K`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['x-adacompress']), /^q=30,30;saved=\d+%$/);
    await res.body.json();
    const sent = JSON.parse(upstream.received[0]!.body.toString());
    assert.equal(upstream.received[0]!.url, '/v1/images:annotate?key=K');
    assert.deepEqual(sent.requests[0].features, [{ type: 'LABEL_DETECTION', maxResults: 5 }]);
    sent.requests.forEach((item: { image: { content: string } }, i: number) => {
      assert.ok(Buffer.from(item.image.content, 'base64').length < photos[i]!.length, `image ${i} smaller`);
    });

    await runtime.runtime.loop.drain(5000);
    const decisions = (await runtime.logLines()).filter((l) => l.type === 'decision');
    assert.deepEqual(
      decisions.map((d) => [d.provider, d.operation, d.slot]),
      [
        ['vision', 'LABEL_DETECTION', 'requests[0]'],
        ['vision', 'FACE_DETECTION', 'requests[1]'],
      ],
    );
    assert.deepEqual(decisions[0]!.answer?.labels, [{ name: 'Dog', score: 0.93 }]);
    assert.deepEqual(decisions[1]!.answer?.faces, [{ box: { left: 10, top: 20, width: 30, height: 40 }, score: 0.9 }]);
    // Each image is measured for its own operation: its answer, and its calibration probe's (the probe's side floor is
    // above these photos' size: same bytes, so its answer is known without a call).
    assert.equal(upstream.received.length, 2, 'the call and one reference for both images, no probe call');
    const calibration = runtime.runtime.loop.calibration();
    assert.equal(calibration['vision/LABEL_DETECTION']?.samples, 2, 'the label image measured for its operation');
    assert.equal(calibration['vision/FACE_DETECTION']?.samples, 2, 'the face image for its own');
  });
});
