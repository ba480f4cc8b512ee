import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import sharp from 'sharp';
import { estimateJpegQuality, parseQuantTables, qualityFromTables, scaledTable } from '../../src/codec/jpeg-quality.ts';
import { sharedImagesDir, syntheticJpeg } from './images.ts';

test('estimates exactly the quality sharp encoded at, across the whole range', async () => {
  for (const quality of [1, 5, 15, 25, 35, 45, 50, 55, 65, 75, 85, 90, 95, 100]) {
    const jpeg = await syntheticJpeg(64, 48, quality);
    const estimate = estimateJpegQuality(jpeg);
    assert.equal(estimate?.quality, quality, `encoded at q${quality}`);
    assert.equal(estimate?.meanAbsError, 0);
  }
});

test('reads both luminance and chrominance tables in natural order', async () => {
  const tables = parseQuantTables(await syntheticJpeg(32, 32, 50));
  assert.equal(tables.get(0)?.[0], 16); // q50 is the Annex K table itself
  assert.equal(tables.get(0)?.[63], 99);
  assert.equal(tables.get(1)?.[0], 17);
});

test('greyscale JPEGs (luminance table only) are estimated too', async () => {
  const grey = await sharp(await syntheticJpeg(32, 32, 90))
    .greyscale()
    .jpeg({ quality: 40 })
    .toBuffer();
  assert.equal(estimateJpegQuality(grey)?.quality, 40);
});

test('tables that are no libjpeg scaling get the nearest quality and a non-zero error', () => {
  const luma = scaledTable(new Array<number>(64).fill(20), 50);
  const estimate = qualityFromTables(luma);
  assert.ok(estimate.meanAbsError > 0);
  assert.ok(estimate.quality >= 1 && estimate.quality <= 100);
});

test('non-JPEG or broken headers give no estimate', () => {
  assert.equal(estimateJpegQuality(Buffer.from('not a jpeg at all')), undefined);
  assert.equal(estimateJpegQuality(Buffer.from([0xff, 0xd8, 0xff, 0xdb, 0x00])), undefined);
});

const imagenet = new URL('imagenet-sample/', sharedImagesDir);
test('real photos re-encoded at a known quality are estimated exactly', {
  skip: !existsSync(imagenet) && 'shared data absent: ../shared/data/images/imagenet-sample',
}, async () => {
  const files = readdirSync(imagenet).sort().slice(0, 10);
  for (const [i, file] of files.entries()) {
    const original = readFileSync(new URL(file, imagenet));
    const source = estimateJpegQuality(original);
    assert.ok(source && source.quality >= 1 && source.quality <= 100, file);
    const quality = 10 + i * 9;
    assert.equal(estimateJpegQuality(await sharp(original).jpeg({ quality }).toBuffer())?.quality, quality, file);
  }
});
