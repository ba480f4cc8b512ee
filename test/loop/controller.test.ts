import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { estimateJpegQuality } from '../../src/codec/index.ts';
import { type FakeUpstream, type RecordedRequest, startFakeUpstream } from '../../testkit/fake-upstream.ts';
import { syntheticJpeg } from '../../testkit/images.ts';
import { startTestRuntime } from '../helpers/runtime.ts';

/**
 * An upstream whose answers change: the reference (quality 75) always reads "Dog"; what the proxy's policy sends reads
 * "Dog" too until the scene changes, then "Cat". The controller must notice, fall back to the safe quality, raise the
 * reference rate, flag retraining, and come back once agreement returns.
 */
describe('the online controller on a simulated accuracy drop', () => {
  let upstream: FakeUpstream;
  let drifted = false;
  let runtime: Awaited<ReturnType<typeof startTestRuntime>>;
  const images: Buffer[] = [];

  const answer = (r: RecordedRequest) => {
    const image = Buffer.from(JSON.parse(r.body.toString()).Image.Bytes, 'base64');
    const isReference = estimateJpegQuality(image)?.quality === 75;
    const name = drifted && !isReference ? 'Cat' : 'Dog';
    return { body: JSON.stringify({ Labels: [{ Name: name, Confidence: 90 }] }) };
  };

  before(async () => {
    upstream = await startFakeUpstream(answer);
    runtime = await startTestRuntime(upstream.url, {
      policyModels: '',
      quality: 30,
      referenceProbability: 1,
      referenceBudgetPerMinute: 10_000,
      controllerWindow: 4,
      controllerThreshold: 0.8,
      controllerRecoverThreshold: 0.85,
      // The paper's reference, which the fake upstream tells by its quality.
      referenceKind: 'q75',
      safeQuality: 75,
      boostedReferenceProbability: 0.5,
      // The controller alone (calibration, which would absorb the drop first, has tests of its own).
      calibration: false,
    });
    for (let i = 0; i < 4; i++) images.push(await syntheticJpeg({ width: 300 + 20 * i, height: 220, quality: 95 }));
  });
  after(async () => {
    await runtime.close();
    await upstream.close();
  });

  async function send(i: number) {
    const body = JSON.stringify({ Image: { Bytes: images[i % images.length]!.toString('base64') } });
    const res = await request(runtime.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'RekognitionService.DetectLabels' },
      body,
    });
    assert.equal(res.statusCode, 200);
    await res.body.text();
    await runtime.runtime.loop.drain(5000); // the reference answer has been recorded
    return String(res.headers['x-adacompress']);
  }
  const controller = () => runtime.runtime.loop.controllers()['rekognition/DetectLabels']!;
  const readyDetail = async () =>
    (await (await request(`${runtime.adminUrl}/readyz`)).body.json()) as {
      controllers: Record<string, { state: string }>;
    };

  test('agreeing answers keep the policy in charge', async () => {
    for (let i = 0; i < 6; i++) assert.match(await send(i), /^q=30;/);
    assert.equal(controller().state, 'policy');
    assert.equal(controller().windowMean, 1);
  });

  test('a drop in agreement switches to the safe quality within one window and flags retraining', async () => {
    drifted = true;
    let sent = 0;
    while (controller().state === 'policy' && sent < 10) {
      await send(sent);
      sent++;
    }
    assert.equal(controller().state, 'fallback');
    assert.ok(sent <= 4, `detected after ${sent} referenced requests (window 4)`);
    assert.equal(controller().needsRetraining, true);
    const headers = await Promise.all(Array.from({ length: 12 }, (_, i) => send(i)));
    assert.ok(
      headers.some((h) => h.startsWith('q=75;')),
      `safe decisions send quality 75: ${[...new Set(headers)]}`,
    );
    const metrics = await (await request(`${runtime.adminUrl}/metrics`)).body.text();
    assert.match(metrics, /adacompress_controller_fallback\{key="rekognition\/DetectLabels"\} 1/);
    assert.match(metrics, /adacompress_policy_needs_retraining\{key="rekognition\/DetectLabels"\} 1/);
    const ready = await readyDetail();
    assert.equal(ready.controllers['rekognition/DetectLabels']?.state, 'fallback');
  });

  test('when agreement returns, probes bring the policy back', async () => {
    drifted = false;
    for (let i = 0; i < 60 && controller().state === 'fallback'; i++) await send(i);
    assert.equal(controller().state, 'policy');
    assert.equal(controller().needsRetraining, false);
    assert.match(await send(0), /^q=30;/);
  });
});
