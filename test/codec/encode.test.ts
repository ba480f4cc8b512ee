import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import sharp from 'sharp';
import { encodeJpeg, recompress } from '../../src/codec/encode.ts';
import { CodecError } from '../../src/codec/errors.ts';
import { inspectImage } from '../../src/codec/inspect.ts';
import { estimateJpegQuality } from '../../src/codec/jpeg-quality.ts';
import { sharedImagesDir, syntheticJpeg, syntheticRgb, twoColourJpeg, withClaimedSize } from './images.ts';

const limits = { maxInputPixels: 10_000_000 };

async function pixelAt(jpeg: Buffer, x: number, y: number): Promise<number[]> {
  const { data, info } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true }); // no autoOrient: stored grid
  const i = (y * info.width + x) * info.channels;
  return [data[i]!, data[i + 1]!, data[i + 2]!];
}

test('encodes at the requested quality with the same dimensions', async () => {
  const image = await inspectImage(await syntheticJpeg(160, 120, 95), limits);
  const result = await encodeJpeg(image, { quality: 35 }, limits);
  assert.equal(result.width, 160);
  assert.equal(result.height, 120);
  assert.equal(estimateJpegQuality(result.bytes)?.quality, 35);
  const meta = await sharp(result.bytes).metadata();
  assert.equal(meta.chromaSubsampling, '4:2:0');
  assert.equal(meta.isProgressive, false);
});

test('EXIF orientation is kept as a tag and the pixels are not rotated', async () => {
  const image = await inspectImage(await twoColourJpeg(64, 32, 6), limits);
  const result = await encodeJpeg(image, { quality: 50 }, limits);
  const meta = await sharp(result.bytes).metadata();
  assert.equal(meta.orientation, 6);
  assert.deepEqual([meta.width, meta.height], [64, 32]);
  const [r1, , b1] = await pixelAt(result.bytes, 8, 16);
  const [r2, , b2] = await pixelAt(result.bytes, 56, 16);
  assert.ok(r1! > 200 && b1! < 60, 'left of the stored grid is still red');
  assert.ok(b2! > 200 && r2! < 60, 'right of the stored grid is still blue');
});

test('an image without orientation gets no EXIF at all', async () => {
  const image = await inspectImage(await syntheticJpeg(32, 32, 90), limits);
  const meta = await sharp((await encodeJpeg(image, { quality: 50 }, limits)).bytes).metadata();
  assert.equal(meta.exif, undefined);
  assert.equal(meta.orientation, undefined);
});

test('CMYK JPEG comes out as 3-channel sRGB with its colours', async () => {
  const red = await sharp({ create: { width: 32, height: 32, channels: 3, background: { r: 220, g: 20, b: 20 } } })
    .jpeg({ quality: 95 })
    .toBuffer();
  const cmyk = await sharp(red).toColourspace('cmyk').jpeg({ quality: 95 }).toBuffer();
  const image = await inspectImage(cmyk, limits);
  assert.equal(image.space, 'cmyk');
  const result = await encodeJpeg(image, { quality: 75 }, limits);
  const meta = await sharp(result.bytes).metadata();
  assert.equal(meta.space, 'srgb');
  assert.equal(meta.channels, 3);
  const [r, g, b] = await pixelAt(result.bytes, 16, 16);
  assert.ok(r! > 150 && g! < 90 && b! < 90, `still red: ${r},${g},${b}`);
});

test('decoding honours the pixel limit even if inspect was bypassed', async () => {
  const bomb = withClaimedSize(await syntheticJpeg(16, 16, 50), 20_000, 20_000);
  const forged = {
    bytes: bomb,
    format: 'jpeg' as const,
    width: 16,
    height: 16,
    orientation: 1,
    hasAlpha: false,
    space: 'srgb',
  };
  await assert.rejects(
    encodeJpeg(forged, { quality: 50 }, limits),
    (error: unknown) => error instanceof CodecError && error.code === 'TOO_MANY_PIXELS',
  );
});

test('never larger: a re-encode that would not save bytes returns the original', async () => {
  const small = await inspectImage(await syntheticJpeg(160, 120, 10), limits);
  const outcome = await recompress(small, { quality: 95 }, limits);
  assert.equal(outcome.kind, 'original');
  assert.ok(
    outcome.kind === 'original' && outcome.reason === 'not-smaller' && outcome.encodedBytes! >= small.bytes.length,
  );
});

test('recompress returns strictly smaller bytes when it encodes', async () => {
  const big = await inspectImage(await syntheticJpeg(160, 120, 95), limits);
  const outcome = await recompress(big, { quality: 35 }, limits);
  assert.equal(outcome.kind, 'encoded');
  assert.ok(outcome.kind === 'encoded' && outcome.bytes.length < big.bytes.length && outcome.quality === 35);
});

test('opaque PNG is converted; PNG with alpha and other formats pass untouched', async () => {
  const raw = { raw: { width: 96, height: 64, channels: 3 as const } };
  const png = await inspectImage(await sharp(syntheticRgb(96, 64), raw).png().toBuffer(), limits);
  assert.equal((await recompress(png, { quality: 50 }, limits)).kind, 'encoded');
  const rgba = await sharp(syntheticRgb(96, 64), raw).ensureAlpha(0.5).png().toBuffer();
  assert.deepEqual(await recompress(await inspectImage(rgba, limits), { quality: 50 }, limits), {
    kind: 'original',
    reason: 'alpha',
  });
  const webp = await sharp(syntheticRgb(96, 64), raw).webp().toBuffer();
  assert.deepEqual(await recompress(await inspectImage(webp, limits), { quality: 50 }, limits), {
    kind: 'original',
    reason: 'format',
  });
});

const imagenet = new URL('imagenet-sample/', sharedImagesDir);
test('real photos at q35: smaller, same dimensions', {
  skip: !existsSync(imagenet) && 'shared data absent: ../shared/data/images/imagenet-sample',
}, async () => {
  for (const file of readdirSync(imagenet).sort().slice(0, 8)) {
    const image = await inspectImage(readFileSync(new URL(file, imagenet)), limits);
    const outcome = await recompress(image, { quality: 35 }, limits);
    assert.equal(outcome.kind, 'encoded', file);
    if (outcome.kind === 'encoded') {
      assert.ok(outcome.bytes.length < image.bytes.length);
      assert.deepEqual([outcome.width, outcome.height], [image.width, image.height]);
    }
  }
});

test('resizes to the longest side asked for, aspect kept, orientation tag kept on the scaled stored grid', async () => {
  const image = await inspectImage(await twoColourJpeg(640, 320, 6), limits);
  const result = await encodeJpeg(image, { quality: 60, maxSide: 160 }, limits);
  assert.deepEqual([result.width, result.height], [160, 80]);
  const meta = await sharp(result.bytes).metadata();
  assert.equal(meta.orientation, 6);
  assert.deepEqual([meta.width, meta.height], [160, 80], 'the stored grid, scaled, not rotated');
  const [r1, , b1] = await pixelAt(result.bytes, 20, 40);
  const [r2, , b2] = await pixelAt(result.bytes, 140, 40);
  assert.ok(r1! > 200 && b1! < 60, 'left is still red');
  assert.ok(b2! > 200 && r2! < 60, 'right is still blue');
  const same = await encodeJpeg(image, { quality: 60, maxSide: 4000 }, limits);
  assert.deepEqual([same.width, same.height], [640, 320], 'never enlarged');
});
