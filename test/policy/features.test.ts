import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import { inspectImage } from '../../src/codec/inspect.ts';
import {
  FEATURE_VERSION,
  featureHeaderOf,
  featureNames,
  featuresFromHeader,
  featuresOf,
} from '../../src/policy/features.ts';
import { syntheticJpeg, syntheticRgb } from '../codec/images.ts';

const limits = { maxInputPixels: 10_000_000 };
const at = (name: string): number => {
  const i = featureNames.indexOf(name);
  assert.ok(i >= 0, `no feature ${name}`);
  return i;
};

test('features are versioned (2: header only) with a fixed, named length', () => {
  assert.equal(FEATURE_VERSION, 2);
  assert.equal(featureNames.length, 12);
  assert.equal(new Set(featureNames).size, featureNames.length);
});

test('features are deterministic and equal the pure recomputation from the stored header (JSON round trip)', async () => {
  const image = await inspectImage(await syntheticJpeg(500, 375, 90, 7), limits);
  const a = featuresOf(image);
  assert.deepEqual(featuresOf(image), a);
  assert.equal(a.length, featureNames.length);
  assert.ok(a.every(Number.isFinite));
  const stored = JSON.parse(JSON.stringify(featureHeaderOf(image)));
  assert.deepEqual(featuresFromHeader(stored), a);
});

test('bits per pixel, source quality and quantisation steps move the right way', async () => {
  const low = featuresOf(await inspectImage(await syntheticJpeg(200, 150, 20), limits));
  const high = featuresOf(await inspectImage(await syntheticJpeg(200, 150, 95), limits));
  assert.ok(high[at('log_bits_per_pixel')]! > low[at('log_bits_per_pixel')]!);
  assert.ok(high[at('log_scan_bits_per_pixel')]! > low[at('log_scan_bits_per_pixel')]!);
  assert.equal(low[at('source_quality')], Math.fround(0.2));
  assert.equal(high[at('source_quality')], Math.fround(0.95));
  assert.ok(low[at('luma_quant')]! > high[at('luma_quant')]!);
  assert.ok(low[at('chroma_quant')]! > high[at('chroma_quant')]!);
});

test('header facts: entropy-coded bytes exclude EXIF, subsampling, progressive, greyscale', async () => {
  const raw = { raw: { width: 160, height: 120, channels: 3 as const } };
  const plain = await sharp(syntheticRgb(160, 120, 3), raw)
    .jpeg({ quality: 80, chromaSubsampling: '4:4:4' })
    .toBuffer();
  const withExif = await sharp(syntheticRgb(160, 120, 3), raw)
    .jpeg({ quality: 80, chromaSubsampling: '4:4:4' })
    .withExif({ IFD0: { ImageDescription: 'x'.repeat(4000) } })
    .toBuffer();
  const a = featuresOf(await inspectImage(plain, limits));
  const b = featuresOf(await inspectImage(withExif, limits));
  assert.ok(b[at('log_bits_per_pixel')]! > a[at('log_bits_per_pixel')]! + 0.1, 'EXIF bytes count in the file');
  assert.ok(Math.abs(b[at('log_scan_bits_per_pixel')]! - a[at('log_scan_bits_per_pixel')]!) < 1e-6, 'not in the scan');
  assert.ok(b[at('log_header_kbytes')]! > a[at('log_header_kbytes')]! + 1);
  assert.equal(a[at('chroma_subsampled')], 0);
  assert.equal(a[at('progressive')], 0);

  const sub = await sharp(syntheticRgb(160, 120, 3), raw).jpeg({
    quality: 80,
    chromaSubsampling: '4:2:0',
    progressive: true,
  });
  const s = featuresOf(await inspectImage(await sub.toBuffer(), limits));
  assert.equal(s[at('chroma_subsampled')], 1);
  assert.equal(s[at('progressive')], 1);
  assert.equal(s[at('greyscale')], 0);

  const grey = await sharp(syntheticRgb(160, 120, 3), raw)
    .toColourspace('b-w')
    .jpeg({ quality: 80 })
    .toBuffer();
  const g = featuresOf(await inspectImage(grey, limits));
  assert.equal(g[at('greyscale')], 1);
  assert.equal(g[at('chroma_subsampled')], 0);
  assert.equal(g[at('chroma_quant')], g[at('luma_quant')]);
});

test('a PNG is lossless: quality 1, no quantisation, no JPEG header', async () => {
  const png = await sharp(syntheticRgb(64, 48, 5), { raw: { width: 64, height: 48, channels: 3 } })
    .png()
    .toBuffer();
  const f = featuresOf(await inspectImage(png, limits));
  assert.equal(f[at('source_is_jpeg')], 0);
  assert.equal(f[at('source_quality')], 1);
  assert.equal(f[at('luma_quant')], 0);
  assert.equal(f[at('log_header_kbytes')], 0);
  assert.equal(f[at('log_scan_bits_per_pixel')], f[at('log_bits_per_pixel')]);
});

test('older headers (version 1 records: no JPEG facts) still give finite features', () => {
  const f = featuresFromHeader({ bytes: 10_000, width: 100, height: 100, format: 'jpeg', sourceQuality: 90 });
  assert.ok(f.every(Number.isFinite));
  assert.equal(f[at('log_scan_bits_per_pixel')], f[at('log_bits_per_pixel')]);
});
