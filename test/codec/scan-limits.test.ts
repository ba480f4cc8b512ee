import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import { encodeJpeg } from '../../src/codec/encode.ts';
import { CodecError } from '../../src/codec/errors.ts';
import { countJpegScans, inspectImage } from '../../src/codec/inspect.ts';
import { scanBomb } from '../../testkit/scan-bomb.ts';
import { syntheticJpeg } from './images.ts';

const limits = { maxInputPixels: 100_000_000 };

const rejectsWith = (promise: Promise<unknown>, code: string) =>
  assert.rejects(promise, (error: unknown) => error instanceof CodecError && error.code === code);

test('countJpegScans: 1 for baseline, the encoder script for progressive, exactly what was crafted', async () => {
  const baseline = await syntheticJpeg(200, 150, 90);
  assert.equal(countJpegScans(baseline), 1);
  const progressive = await sharp(baseline).jpeg({ progressive: true }).toBuffer();
  const scans = countJpegScans(progressive);
  assert.ok(scans >= 6 && scans <= 12, `${scans} scans`);
  assert.equal(countJpegScans(scanBomb({ width: 64, height: 64, scans: 250 })), 250);
  assert.equal(countJpegScans(scanBomb({ width: 64, height: 64, scans: 250 }), 10), 10, 'stops counting at the cap');
});

test('the crafted bombs are valid JPEGs: a small one decodes', async () => {
  const { info } = await sharp(scanBomb({ width: 256, height: 128, scans: 40, components: 3 }))
    .raw()
    .toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height], [256, 128]);
});

test('inspect refuses more scans than --max-jpeg-scans, and scans x pixels over --max-scan-pixels', async () => {
  const manyScans = scanBomb({ width: 64, height: 64, scans: 101 });
  await rejectsWith(inspectImage(manyScans, limits), 'TOO_MANY_SCANS');
  assert.equal((await inspectImage(manyScans, { ...limits, maxJpegScans: 200 })).width, 64);
  const costly = scanBomb({ width: 2000, height: 2000, scans: 30 }); // 120 M scan-pixels
  await rejectsWith(inspectImage(costly, { ...limits, maxScanPixels: 100_000_000 }), 'TOO_MANY_SCANS');
  assert.equal((await inspectImage(costly, limits)).width, 2000, 'under the default 1 G');
});

test('encode with a deadline already passed is TIMED_OUT before any work', async () => {
  const image = await inspectImage(await syntheticJpeg(200, 150, 90), limits);
  await rejectsWith(encodeJpeg(image, { quality: 35 }, limits, { deadline: performance.now() - 1 }), 'TIMED_OUT');
  const encoded = await encodeJpeg(image, { quality: 35 }, limits, { deadline: performance.now() + 5000 });
  assert.equal(encoded.width, 200);
});
