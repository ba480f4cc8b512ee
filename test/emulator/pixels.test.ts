import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import {
  modelInput,
  openImage,
  type PixelSource,
  parseResolution,
  workingSize,
} from '../../src/emulator/backends/pixels.ts';
import type { InputSpec } from '../../src/emulator/backends/spec.ts';

/** A lossless source: left half red, right half blue. */
async function halves(width: number, height: number): Promise<PixelSource> {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) data.set(x < width / 2 ? [255, 0, 0] : [0, 0, 255], (y * width + x) * 3);
  const png = await sharp(data, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
  return openImage(png, 'stored', 'native');
}

const base: InputSpec = {
  name: 'input',
  layout: 'NCHW',
  size: { width: 2, height: 1 },
  resize: { rule: 'fill' },
  channels: 'RGB',
  scale: 1,
  mean: [0, 0, 0],
  std: [1, 1, 1],
};

describe('pixels to tensors: layout, channel order, normalisation, resize rules', () => {
  it('NCHW RGB puts each channel in its own plane; BGR swaps the planes; NHWC interleaves', async () => {
    const source = await halves(2, 1);
    assert.deepEqual([...(await modelInput(source, base)).data], [255, 0, 0, 0, 0, 255]);
    assert.deepEqual([...(await modelInput(source, { ...base, channels: 'BGR' })).data], [0, 255, 0, 0, 255, 0]);
    const nhwc = await modelInput(source, { ...base, layout: 'NHWC' });
    assert.deepEqual([...nhwc.data], [255, 0, 0, 0, 0, 255]);
    assert.deepEqual(nhwc.dims, [1, 1, 2, 3]);
  });

  it('applies (pixel x scale - mean) / std per channel', async () => {
    const source = await halves(2, 1);
    const input = await modelInput(source, { ...base, scale: 1 / 255, mean: [0.5, 0, 1], std: [0.5, 1, 2] });
    assert.deepEqual(
      [...input.data].map((v) => Number(v.toFixed(4))),
      [1, -1, 0, 0, -0.5, 0],
    );
  });

  it('letterbox keeps the aspect ratio top-left and pads; the content extent says where the image is', async () => {
    const red = await openImage(
      await sharp({ create: { width: 8, height: 4, channels: 3, background: { r: 255, g: 0, b: 0 } } })
        .png()
        .toBuffer(),
      'stored',
      'native',
    );
    const input = await modelInput(red, {
      ...base,
      size: { width: 4, height: 4 },
      resize: { rule: 'letterbox', pad: 7 },
    });
    assert.equal(input.contentWidth, 4);
    assert.equal(input.contentHeight, 2);
    // Red plane: two rows of image, two rows of padding.
    assert.deepEqual([...input.data.subarray(0, 16)], [...Array(8).fill(255), ...Array(8).fill(7)]);
  });

  it('a dynamic input is the image itself padded to the multiple, capped by maxSide or a pyramid level', async () => {
    const source = await halves(100, 50);
    const spec: InputSpec = {
      ...base,
      size: { dynamic: { multiple: 32, maxSide: 4096 } },
      resize: { rule: 'fit-within', pad: 0 },
    };
    const own = await modelInput(source, spec);
    assert.deepEqual([own.inputWidth, own.inputHeight, own.contentWidth, own.contentHeight], [128, 64, 100, 50]);
    const level = await modelInput(source, spec, 64);
    assert.deepEqual([level.inputWidth, level.inputHeight, level.contentWidth, level.contentHeight], [64, 32, 64, 32]);
  });

  it('shorter-side-crop scales the shorter side and cuts the centre', async () => {
    // Thirds red | green | blue, 24x8 -> shorter side 4 -> 12x4 -> the centre 4x4 is the green third.
    const data = Buffer.alloc(24 * 8 * 3);
    for (let y = 0; y < 8; y++) for (let x = 0; x < 24; x++) data[(y * 24 + x) * 3 + Math.floor(x / 8)] = 255;
    const png = await sharp(data, { raw: { width: 24, height: 8, channels: 3 } })
      .png()
      .toBuffer();
    const input = await modelInput(await openImage(png, 'stored', 'native'), {
      ...base,
      size: { width: 4, height: 4 },
      resize: { rule: 'shorter-side-crop', shorterSide: 4 },
    });
    const at = (c: number, x: number, y: number) => input.data[c * 16 + y * 4 + x]!;
    for (const y of [0, 1, 2, 3]) {
      for (const x of [1, 2]) {
        assert.ok(at(1, x, y) > 200 && at(0, x, y) < 60 && at(2, x, y) < 60, `pixel ${x},${y}`);
      }
    }
  });

  it('working resolution: a box oriented like the image, never enlarging', () => {
    const box = parseResolution('1920x1080')!;
    assert.deepEqual(workingSize({ width: 4032, height: 3024 }, box), { width: 1440, height: 1080 });
    assert.deepEqual(workingSize({ width: 3024, height: 4032 }, box), { width: 1080, height: 1440 });
    assert.deepEqual(workingSize({ width: 800, height: 600 }, box), { width: 800, height: 600 });
    assert.deepEqual(workingSize({ width: 4000, height: 1000 }, parseResolution('2048')!), {
      width: 2048,
      height: 512,
    });
    assert.equal(parseResolution('big'), undefined);
    assert.equal(parseResolution('native'), 'native');
  });
});
