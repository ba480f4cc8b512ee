import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { request } from 'undici';
import { TEXT_SAFE_LADDER } from '../../src/policy/ladder.ts';
import { type FakeUpstream, type RecordedRequest, startFakeUpstream } from '../../testkit/fake-upstream.ts';
import { syntheticJpeg } from '../../testkit/images.ts';
import { startTestRuntime } from '../helpers/runtime.ts';

const sentImage = (r: RecordedRequest) => Buffer.from(JSON.parse(r.body.toString()).Image.Bytes, 'base64');

/**
 * Text operations in the composed proxy with its shipped defaults (the placeholder model on `*`): until a model is
 * trained for them they go through the cautious text ladder, their references are the original, and agreement is
 * measured on their text.
 */
describe('text operations before any model is trained for them', () => {
  let upstream: FakeUpstream;
  let runtime: Awaited<ReturnType<typeof startTestRuntime>>;

  before(async () => {
    // An OCR that reads "SPEED LIMIT 30" from anything, the way DetectText answers.
    upstream = await startFakeUpstream(() => ({
      body: JSON.stringify({
        TextDetections: [
          { DetectedText: 'SPEED LIMIT', Type: 'LINE', Id: 0, Confidence: 99 },
          { DetectedText: '30', Type: 'LINE', Id: 1, Confidence: 99 },
          { DetectedText: 'SPEED', Type: 'WORD', Id: 2, ParentId: 0, Confidence: 99 },
        ],
      }),
    }));
    runtime = await startTestRuntime(upstream.url, { referenceProbability: 1, referenceBudgetPerMinute: 10_000 });
  });
  after(async () => {
    await runtime.close();
    await upstream.close();
  });

  const detectText = async (image: Buffer) => {
    const res = await request(runtime.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'RekognitionService.DetectText' },
      body: JSON.stringify({ Image: { Bytes: image.toString('base64') } }),
    });
    assert.equal(res.statusCode, 200);
    await res.body.arrayBuffer();
  };

  test('a phone JPEG goes as sent (the ladder starts at quality 100), its text logged and agreeing 1', async () => {
    // No references here: a referenced request may be a calibration probe of a cheaper level, by design.
    const quiet = await startTestRuntime(upstream.url, { referenceProbability: 0 });
    const photo = await syntheticJpeg({ width: 640, height: 480, quality: 92 });
    const res = await request(quiet.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'RekognitionService.DetectText' },
      body: JSON.stringify({ Image: { Bytes: photo.toString('base64') } }),
    });
    assert.equal(res.statusCode, 200);
    await res.body.arrayBuffer();
    assert.ok(sentImage(upstream.last()!).equals(photo), 'the original went upstream');
    const decision = (await quiet.logLines()).find((l) => l.type === 'decision');
    assert.ok(decision?.type === 'decision');
    assert.equal(decision.modelId, `text-ladder-q${TEXT_SAFE_LADDER.join('-')}`);
    assert.deepEqual(decision.action, { quality: TEXT_SAFE_LADDER[0] });
    assert.deepEqual(decision.outcome, { sent: 'original', reason: 'not-smaller' });
    assert.equal(decision.answer?.text, 'SPEED LIMIT\n30');
    const calibration = quiet.runtime.loop.calibration()['rekognition/DetectText'];
    assert.ok(calibration, 'the text operation is calibrated');
    assert.deepEqual(calibration.point, { floor: null, level: 0 });
    await quiet.close();
  });

  test('a reference for a text operation is the original, never the q75 re-encode', async () => {
    // A PNG screenshot: its quality-100 JPEG is smaller, so what is sent differs from what the client sent.
    const png = await sharp(await syntheticJpeg({ width: 640, height: 480, quality: 95 }))
      .png({ compressionLevel: 0 })
      .toBuffer();
    const before = upstream.received.length;
    await detectText(png);
    await runtime.runtime.loop.drain(5000);
    // The call and its reference come first; a calibration probe of a cheaper rung may follow.
    const calls = upstream.received.slice(before);
    assert.ok(calls.length >= 2, 'the call and its reference');
    const [sent, reference] = calls.map(sentImage);
    assert.ok(sent!.length < png.length && (await sharp(sent!).metadata()).format === 'jpeg');
    assert.ok(reference!.equals(png), 'the reference upload is the client original');
    const line = (await runtime.logLines()).filter((l) => l.type === 'reference').at(-1);
    assert.ok(line?.type === 'reference');
    assert.equal(line.kind, 'original');
    assert.equal(runtime.runtime.loop.controllers()['rekognition/DetectText']?.windowMean, 1);
  });
});

describe("the controller's safe action for text", () => {
  let upstream: FakeUpstream;
  let runtime: Awaited<ReturnType<typeof startTestRuntime>>;

  before(async () => {
    // An OCR that reads the client's PNG and loses everything in any JPEG: every reference disagrees.
    upstream = await startFakeUpstream((r) => {
      const png = sentImage(r).subarray(1, 4).toString() === 'PNG';
      return {
        body: JSON.stringify({ TextDetections: [{ DetectedText: png ? 'EXIT ONLY' : 'X', Type: 'LINE', Id: 0 }] }),
      };
    });
    runtime = await startTestRuntime(upstream.url, {
      referenceProbability: 1,
      referenceBudgetPerMinute: 10_000,
      // The controller's own path (calibration off): every reference is one of its drop detector's samples.
      calibration: false,
    });
  });
  after(async () => {
    await runtime.close();
    await upstream.close();
  });

  test('is no less safe than the text ladder: quality 100, not the controller default 75', async () => {
    const png = await sharp(await syntheticJpeg({ width: 320, height: 240, quality: 95 }))
      .png({ compressionLevel: 0 })
      .toBuffer();
    for (let i = 0; i < 8; i++) {
      const res = await request(runtime.url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'RekognitionService.DetectText' },
        body: JSON.stringify({ Image: { Bytes: png.toString('base64') } }),
      });
      await res.body.arrayBuffer();
      await runtime.runtime.loop.drain(5000);
    }
    assert.equal(runtime.runtime.loop.controllers()['rekognition/DetectText']?.state, 'fallback');
    const decisions = (await runtime.logLines()).filter((l) => l.type === 'decision');
    const safe = decisions.filter((l) => l.type === 'decision' && l.controllerState.mode === 'safe');
    assert.ok(safe.length > 0, 'some decisions were the safe action');
    for (const line of safe) {
      assert.ok(line.type === 'decision');
      assert.equal(line.modelId, `controller-safe-q${TEXT_SAFE_LADDER[0]}`);
      assert.equal(line.action.quality, TEXT_SAFE_LADDER[0]);
    }
  });
});
