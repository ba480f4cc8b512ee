import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inspectImage } from '../../src/codec/inspect.ts';
import {
  extractFeatures,
  FEATURE_VERSION,
  featureHeaderOf,
  featureNames,
  featuresFromThumbnail,
  THUMBNAIL_SIZE,
  thumbnailOf,
} from '../../src/policy/features.ts';
import { syntheticJpeg } from '../codec/images.ts';

const limits = { maxInputPixels: 10_000_000 };

test('features are versioned with a fixed, named length', () => {
  assert.equal(FEATURE_VERSION, 1);
  assert.equal(featureNames.length, 32);
  assert.equal(new Set(featureNames).size, featureNames.length);
});

test('features are deterministic and equal the pure recomputation from header + thumbnail', async () => {
  const image = await inspectImage(await syntheticJpeg(500, 375, 90, 7), limits);
  const a = await extractFeatures(image);
  const b = await extractFeatures(image);
  assert.deepEqual(a, b);
  assert.equal(a.length, featureNames.length);
  assert.ok(a.every(Number.isFinite));
  const thumb = await thumbnailOf(image);
  assert.equal(thumb.length, THUMBNAIL_SIZE * THUMBNAIL_SIZE * 3);
  assert.deepEqual(featuresFromThumbnail(featureHeaderOf(image), thumb), a);
});

test('header features: bits per pixel and source quality move the right way', async () => {
  const low = await extractFeatures(await inspectImage(await syntheticJpeg(200, 150, 20), limits));
  const high = await extractFeatures(await inspectImage(await syntheticJpeg(200, 150, 95), limits));
  const at = (name: string): number => featureNames.indexOf(name);
  assert.ok(high[at('log_bits_per_pixel')]! > low[at('log_bits_per_pixel')]!);
  assert.equal(low[at('source_quality')], Math.fround(0.2));
  assert.equal(high[at('source_quality')], Math.fround(0.95));
});

test('a flat image has no detail; a textured one has', () => {
  const header = { bytes: 10_000, width: 100, height: 100, format: 'jpeg' as const, sourceQuality: 90 };
  const flat = featuresFromThumbnail(header, new Uint8Array(THUMBNAIL_SIZE * THUMBNAIL_SIZE * 3).fill(128));
  const checker = new Uint8Array(THUMBNAIL_SIZE * THUMBNAIL_SIZE * 3).map((_, i) =>
    (Math.floor(i / 3) + Math.floor(i / 3 / THUMBNAIL_SIZE)) % 2 ? 255 : 0,
  );
  const busy = featuresFromThumbnail(header, checker);
  const grad = featureNames.indexOf('grad_h');
  assert.equal(flat[grad], 0);
  assert.ok(busy[grad]! > 0.9);
  assert.equal(flat[featureNames.indexOf('cell_detail_15')], 0);
});
