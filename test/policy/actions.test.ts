import assert from 'node:assert/strict';
import { test } from 'node:test';
import { candidatesFor, effectiveAction, gridActions, SIDES, sentLongSide } from '../../src/policy/actions.ts';

const rekognition = { minSide: 80, maxSide: 10_000, maxBytes: 5 * 1024 * 1024 };

test('an action never enlarges, never exceeds the API maximum or working side, never crosses its minimum', () => {
  const photo = { width: 4032, height: 3024 };
  assert.equal(sentLongSide({ quality: 50, maxSide: 1024 }, photo, rekognition), 1024);
  assert.equal(sentLongSide({ quality: 50, maxSide: 8000 }, photo, rekognition), 4032, 'never enlarged');
  assert.equal(sentLongSide({ quality: 50 }, photo, { ...rekognition, workingSide: 1920 }), 1920, 'working side');
  assert.equal(sentLongSide({ quality: 50 }, { width: 12_000, height: 900 }, rekognition), 10_000, 'API maximum');
  // A panorama: at 256 px its short side would be 64 < 80, so the long side stays where the short side is 80.
  assert.equal(sentLongSide({ quality: 50, maxSide: 256 }, { width: 4000, height: 1000 }, rekognition), 320);
  assert.equal(sentLongSide({ quality: 50 }, { width: 60, height: 60 }, rekognition), undefined, 'already too small');
  assert.deepEqual(effectiveAction({ quality: 50, maxSide: 2048 }, { width: 500, height: 375 }, rekognition), {
    quality: 50,
  });
});

test('candidates: distinct per image, floored by the operating point, and the grid spans sides x qualities', () => {
  assert.equal(gridActions.length, SIDES.length * 9);
  const small = candidatesFor(gridActions, { width: 500, height: 375 }, rekognition, undefined);
  // On a 500-px photo every side from 2048 down to 512 sends the stored size: 3 distinct sizes x 9 qualities.
  assert.equal(small.length, 27);
  assert.equal(new Set(small.map((c) => `${c.action.quality}@${c.action.maxSide}`)).size, 27);
  const floored = candidatesFor(gridActions, { width: 4032, height: 3024 }, rekognition, 1024);
  assert.ok(floored.every((c) => (c.action.maxSide ?? 4032) >= 1024));
  const stored = candidatesFor(gridActions, { width: 4032, height: 3024 }, rekognition, null);
  assert.ok(
    stored.every((c) => c.action.maxSide === undefined),
    'floor null: the stored size only',
  );
});

test('candidates under a ceiling: the floor side only, at most that quality; the full set when nothing fits under it', () => {
  const photo = { width: 4032, height: 3024 };
  const capped = candidatesFor(gridActions, photo, rekognition, 1024, 75);
  assert.deepEqual(
    capped.map((c) => c.action),
    [5, 15, 25, 35, 45, 55, 65, 75].map((quality) => ({ quality, maxSide: 1024 })),
  );
  // A 500-px photo at a 1024 floor: the stored size is all it has, at up to quality 75.
  const small = candidatesFor(gridActions, { width: 500, height: 375 }, rekognition, 1024, 75);
  assert.ok(small.length === 8 && small.every((c) => c.action.maxSide === undefined && c.action.quality <= 75));
  const none = candidatesFor(gridActions, photo, rekognition, 1024, 1);
  assert.deepEqual(none, candidatesFor(gridActions, photo, rekognition, 1024), 'no action at quality 1: the floor set');
});
