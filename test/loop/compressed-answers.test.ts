import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { request } from 'undici';
import { type FakeUpstream, startFakeUpstream } from '../../testkit/fake-upstream.ts';
import { syntheticJpeg } from '../../testkit/images.ts';
import { startTestRuntime } from '../helpers/runtime.ts';

/**
 * The client's Accept-Encoding goes upstream (Python requests asks for gzip by default), so answers may come back
 * compressed: the client gets them as sent, and the proxy, which reads them for the decision log and for the
 * controller, decodes them, on the client's call and on the reference upload alike.
 */
for (const [coding, compress] of [
  ['gzip', gzipSync],
  ['br', brotliCompressSync],
] as const) {
  describe(`an upstream that answers ${coding}`, () => {
    let upstream: FakeUpstream;
    let runtime: Awaited<ReturnType<typeof startTestRuntime>>;

    before(async () => {
      upstream = await startFakeUpstream((r) => {
        const body = Buffer.from(JSON.stringify({ Labels: [{ Name: 'Dog', Confidence: 91 }] }));
        const wanted = String(r.headers['accept-encoding'] ?? '').includes(coding);
        return wanted ? { headers: { 'content-encoding': coding }, body: compress(body) } : { body };
      });
      runtime = await startTestRuntime(upstream.url, {
        policyModels: '',
        quality: 30,
        referenceProbability: 1,
        referenceBudgetPerMinute: 10_000,
        // The controller's own path (calibration off): every reference is one of its agreement samples.
        calibration: false,
      });
    });
    after(async () => {
      await runtime.close();
      await upstream.close();
    });

    test('reference answers are decoded, logged and reach the controller', async () => {
      const photo = await syntheticJpeg({ width: 320, height: 240, quality: 95 });
      for (let i = 0; i < 3; i++) {
        const res = await request(runtime.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-amz-json-1.1',
            'x-amz-target': 'RekognitionService.DetectLabels',
            'accept-encoding': `${coding}, deflate`,
          },
          body: JSON.stringify({ Image: { Bytes: photo.toString('base64') } }),
        });
        assert.equal(res.statusCode, 200);
        assert.equal(res.headers['content-encoding'], coding, 'the client gets the answer as the upstream encoded it');
        await res.body.arrayBuffer();
      }
      await runtime.runtime.loop.drain(5000);
      const lines = await runtime.logLines();
      const decisions = lines.filter((l) => l.type === 'decision');
      const references = lines.filter((l) => l.type === 'reference');
      assert.equal(decisions.length, 3);
      assert.equal(references.length, 3, 'one reference per decision');
      for (const line of [...decisions, ...references]) {
        assert.deepEqual(line.answer?.labels, [{ name: 'Dog', score: 0.91 }], `${line.type} answer decoded`);
      }
      const controller = runtime.runtime.loop.controllers()['rekognition/DetectLabels'];
      assert.equal(controller?.samples, 3, 'every reference gave the controller an agreement sample');
      assert.equal(controller?.windowMean, 1);
    });
  });
}
