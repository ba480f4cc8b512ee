import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { type FakeUpstream, startFakeUpstream } from '../../testkit/fake-upstream.ts';
import { syntheticJpeg } from '../../testkit/images.ts';
import { startTestRuntime } from '../helpers/runtime.ts';

/**
 * CPU saturation: far more images arrive than the re-encode slots and queue can hold. The proxy must degrade to a plain
 * proxy for the excess (original bytes, said in the header and the metrics), fail no request, and re-encode again as
 * soon as the burst is over.
 */
describe('a burst of 500 concurrent image requests', () => {
  const BURST = 500;
  let upstream: FakeUpstream;
  let runtime: Awaited<ReturnType<typeof startTestRuntime>>;
  let client: Agent;
  let body: string;

  before(async () => {
    upstream = await startFakeUpstream(() => ({ body: JSON.stringify({ Labels: [{ Name: 'Dog', Confidence: 90 }] }) }));
    runtime = await startTestRuntime(upstream.url, {
      policyModels: '',
      quality: 35,
      imageConcurrency: 1,
      imageQueue: 4,
      referenceProbability: 0,
    });
    // One socket per request: the burst really is 500 requests in flight at the proxy, not 500 queued in the client.
    client = new Agent({ connections: BURST, pipelining: 1 });
    const photo = await syntheticJpeg({ width: 320, height: 240, quality: 95 });
    body = JSON.stringify({ Image: { Bytes: photo.toString('base64') }, MaxLabels: 5 });
  });
  after(async () => {
    await client.close();
    await runtime.close();
    await upstream.close();
  });

  const detectLabels = async () => {
    const res = await request(runtime.url, {
      method: 'POST',
      dispatcher: client,
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'RekognitionService.DetectLabels' },
      body,
    });
    const text = await res.body.text();
    return { status: res.statusCode, header: String(res.headers['x-adacompress']), text };
  };

  const overloadCount = async () => {
    const res = await request(`${runtime.adminUrl}/metrics`);
    const text = await res.body.text();
    const line = text
      .split('\n')
      .find((l) => l.startsWith('adacompress_original_forwarded_total{') && l.includes('reason="overload"'));
    return line ? Number(line.split(' ').at(-1)) : 0;
  };

  test('every request succeeds, the excess goes as sent and is reported, and recompression resumes after', async () => {
    const answers = await Promise.all(Array.from({ length: BURST }, detectLabels));

    const failures = answers.filter((a) => a.status !== 200);
    assert.equal(failures.length, 0, `non-200 answers: ${JSON.stringify(failures.slice(0, 3))}`);
    for (const a of answers) assert.equal(JSON.parse(a.text).Labels[0].Name, 'Dog', 'the upstream answer came back');
    const overloaded = answers.filter((a) => a.header === 'original;reason=overload').length;
    const encoded = answers.filter((a) => a.header.startsWith('q=35;')).length;
    assert.ok(overloaded > 0, 'some images were forwarded untouched because the proxy was saturated');
    assert.ok(encoded > 0, 'the slots that were free still re-encoded');
    assert.equal(upstream.received.length, BURST, 'every request reached the upstream exactly once');
    assert.ok((await overloadCount()) >= overloaded, 'the overload is visible in the metrics');

    const afterBurst = await detectLabels();
    assert.equal(afterBurst.status, 200);
    assert.match(afterBurst.header, /^q=35;saved=\d+%$/, 'a request after the burst is re-encoded again');
    assert.equal(runtime.runtime.proxy.context.limiter.active, 0, 'no image work left holding a slot');
  });
});
