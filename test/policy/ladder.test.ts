import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inspectImage } from '../../src/codec/inspect.ts';
import { parseQualityLadder, QualityLadderPolicy, TEXT_SAFE_LADDER } from '../../src/policy/ladder.ts';
import { syntheticJpeg } from '../codec/images.ts';

const limits = { minSide: 15, maxSide: 4096, maxBytes: 4_000_000 };
const context = { provider: 'baidu', operation: 'ocr/v1/general_basic', limits };

test('starts on its first, safest rung at the stored size; calibration moves it by level and floor', async () => {
  const policy = new QualityLadderPolicy([90, 80, 70]);
  assert.deepEqual(policy.ladder, [90, 80, 70]);
  assert.equal(policy.trainedLevel, 0);
  const image = await inspectImage(await syntheticJpeg(1200, 900, 92), { maxInputPixels: 1e8 });
  const first = await policy.decide(image, context);
  assert.deepEqual(first.action, { quality: 90 });
  assert.deepEqual([first.actionIndex, first.propensity, first.modelId], [-1, 1, 'ladder-q90-80-70']);
  assert.deepEqual((await policy.decide(image, { ...context, point: { floor: 1024, level: 2 } })).action, {
    quality: 70,
    maxSide: 1024,
  });
  // A level past the ladder's end stays on the last rung; a floor above the image sends the stored size.
  assert.deepEqual((await policy.decide(image, { ...context, point: { floor: 2048, level: 9 } })).action, {
    quality: 70,
  });
});

test('refuses a ladder that does not fall or leaves 1..100, and parses the option', () => {
  assert.throws(() => new QualityLadderPolicy([]), RangeError);
  assert.throws(() => new QualityLadderPolicy([80, 90]), RangeError);
  assert.throws(() => new QualityLadderPolicy([101, 90]), RangeError);
  assert.deepEqual(parseQualityLadder('85, 75,65'), [85, 75, 65]);
  for (const bad of ['', '75,85', '85,,75', 'x', '0', '85,85']) assert.equal(parseQualityLadder(bad), undefined, bad);
  assert.deepEqual(parseQualityLadder(TEXT_SAFE_LADDER.join(',')), [...TEXT_SAFE_LADDER]);
});
