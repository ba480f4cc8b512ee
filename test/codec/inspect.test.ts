import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import sharp from 'sharp';
import { CodecError } from '../../src/codec/errors.ts';
import { inspectImage } from '../../src/codec/inspect.ts';
import { syntheticJpeg, syntheticRgb, twoColourJpeg, withClaimedSize } from './images.ts';

const limits = { maxInputPixels: 10_000_000 };

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => error instanceof CodecError && error.code === code);
}

test('a JPEG is described from its header: size, format, quality, orientation', async () => {
  const jpeg = await syntheticJpeg(120, 80, 62);
  const { jpeg: facts, ...image } = await inspectImage(jpeg, limits);
  assert.deepEqual(
    { ...image, bytes: image.bytes.length },
    {
      bytes: jpeg.length,
      format: 'jpeg',
      width: 120,
      height: 80,
      orientation: 1,
      hasAlpha: false,
      space: 'srgb',
      sourceQuality: 62,
      channels: 3,
    },
  );
  // Header facts for the policy's features: where the scan starts, how coarse the tables are, how chroma is stored.
  assert.ok(facts);
  assert.equal(facts.scanOffset, jpeg.indexOf(Buffer.from([0xff, 0xda])));
  assert.equal(facts.progressive, false);
  assert.equal(facts.chromaSubsampling, '4:2:0');
  assert.ok(facts.lumaQuantMean > 1 && facts.chromaQuantMean! > facts.lumaQuantMean);
});

test('EXIF orientation is reported and dimensions are the stored ones', async () => {
  const image = await inspectImage(await twoColourJpeg(64, 32, 6), limits);
  assert.equal(image.orientation, 6);
  assert.equal(image.width, 64);
  assert.equal(image.height, 32);
});

test('random bytes are UNSUPPORTED_FORMAT, nothing is EMPTY', async () => {
  await rejectsWith(inspectImage(randomBytes(4096), limits), 'UNSUPPORTED_FORMAT');
  await rejectsWith(inspectImage(Buffer.alloc(0), limits), 'EMPTY');
});

test('a truncated JPEG or PNG is CORRUPT', async () => {
  const jpeg = await syntheticJpeg(200, 150, 80);
  await rejectsWith(inspectImage(jpeg.subarray(0, Math.floor(jpeg.length * 0.6)), limits), 'CORRUPT');
  const png = await sharp(syntheticRgb(64, 64), { raw: { width: 64, height: 64, channels: 3 } })
    .png()
    .toBuffer();
  await rejectsWith(inspectImage(png.subarray(0, png.length - 20), limits), 'CORRUPT');
});

test('a pixel bomb (tiny file claiming 30000x30000) is refused before any decode', async () => {
  const bomb = withClaimedSize(await syntheticJpeg(16, 16, 50), 30_000, 30_000);
  assert.ok(bomb.length < 2000);
  await rejectsWith(inspectImage(bomb, limits), 'TOO_MANY_PIXELS');
});

test('PNG with alpha, CMYK JPEG and WebP are told apart', async () => {
  const rgba = await sharp({
    create: { width: 8, height: 8, channels: 4, background: { r: 1, g: 2, b: 3, alpha: 0.5 } },
  })
    .png()
    .toBuffer();
  const png = await inspectImage(rgba, limits);
  assert.equal(png.format, 'png');
  assert.equal(png.hasAlpha, true);
  assert.equal(png.sourceQuality, undefined);
  const cmyk = await sharp(await syntheticJpeg(32, 32, 90))
    .toColourspace('cmyk')
    .jpeg({ quality: 80 })
    .toBuffer();
  assert.equal((await inspectImage(cmyk, limits)).space, 'cmyk');
  const webp = await sharp(syntheticRgb(16, 16), { raw: { width: 16, height: 16, channels: 3 } })
    .webp()
    .toBuffer();
  assert.equal((await inspectImage(webp, limits)).format, 'webp');
});
