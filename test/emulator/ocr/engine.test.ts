import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { CodecError } from '../../../src/codec/errors.ts';
import {
  loadOcrEngine,
  type OcrEngine,
  type OcrLine,
  OcrOptionError,
  type OcrResult,
} from '../../../src/emulator/ocr/engine.ts';
import { OcrModelsMissingError } from '../../../src/emulator/ocr/model-files.ts';
import { cardText, renderNamedCard, TEXT_CARDS } from '../../../testkit/text-card-set.ts';
import { bounds, type Card, type InkBox, inkBox, renderCard, wordInk } from '../../../testkit/text-cards.ts';

/** Three faces, four sizes, two phrases sharing a row (read left to right). */
const MAIN: Card = {
  width: 900,
  height: 400,
  lines: [
    { text: 'Platform 9 closed today', font: 'DejaVu Sans', size: 40, x: 40, y: 80 },
    { text: 'Use the north exit', font: 'DejaVu Serif', size: 32, x: 40, y: 160 },
    { text: 'Invoice No. 2024-117: $58.40', font: 'DejaVu Sans Mono', size: 24, x: 40, y: 240 },
    { text: 'Gate A', font: 'DejaVu Sans', size: 22, x: 40, y: 320 },
    { text: 'Gate B', font: 'DejaVu Serif', size: 22, x: 600, y: 320 },
  ],
};

const SMALL: Card = {
  width: 640,
  height: 200,
  lines: [
    { text: 'Fresh bread and milk', font: 'DejaVu Sans', size: 36, x: 30, y: 70 },
    { text: 'Open daily until late', font: 'DejaVu Serif', size: 30, x: 30, y: 150 },
  ],
};

const texts = (lines: OcrLine[]) => lines.map((l) => l.text);

/** Every polygon point within `tolerance` pixels of the other's same point. */
function assertSamePolygon(actual: OcrLine['polygon'], expected: OcrLine['polygon'], tolerance: number) {
  actual.forEach((p, i) => {
    const q = expected[i]!;
    assert.ok(
      Math.hypot(p.x - q.x, p.y - q.y) <= tolerance,
      `point ${i}: (${p.x}, ${p.y}) vs (${q.x}, ${q.y}), tolerance ${tolerance}`,
    );
  });
}

function assertCovers(box: InkBox, ink: InkBox, tolerance: number, what: string) {
  for (const side of ['left', 'top', 'right', 'bottom'] as const) {
    assert.ok(Math.abs(box[side] - ink[side]) <= tolerance, `${what}: ${side} ${box[side]} vs ink ${ink[side]}`);
  }
}

describe('OCR engine (PP-OCRv4 on onnxruntime-node)', () => {
  let engine: OcrEngine;
  let main: OcrResult;
  let small: OcrResult;
  before(async () => {
    engine = await loadOcrEngine();
    main = await engine.read(await renderCard(MAIN));
    small = await engine.read(await renderCard(SMALL));
  });
  after(() => engine.release());

  it('reads a card exactly, lines top to bottom and left to right within a row', () => {
    const result = main;
    assert.equal(result.width, MAIN.width);
    assert.equal(result.height, MAIN.height);
    assert.deepEqual(
      texts(result.lines),
      MAIN.lines.map((l) => l.text),
    );
    for (const line of result.lines) {
      assert.ok(line.confidence > 0.5 && line.confidence <= 1, `${line.text}: confidence ${line.confidence}`);
      assert.equal(line.polygon.length, 4);
    }
    // The result is plain data: it survives a structured clone (worker_threads postMessage) unchanged.
    assert.deepEqual(structuredClone(result), result);
  });

  it('gives each word where its ink is, inside its line and in reading order', async () => {
    // Render the one-word cards together: sharp runs them on its thread pool.
    const inks = await Promise.all(
      MAIN.lines.map((line, li) => Promise.all(line.text.split(' ').map((_, wi) => wordInk(MAIN, li, wi)))),
    );
    for (const [li, line] of main.lines.entries()) {
      const spec = MAIN.lines[li]!;
      assert.deepEqual(
        line.words.map((w) => w.text),
        spec.text.split(' '),
      );
      const lineBox = bounds(line.polygon);
      let previousRight = -Infinity;
      for (const [wi, word] of line.words.entries()) {
        const box = bounds(word.polygon);
        const slack = 0.5;
        assert.ok(
          box.left >= lineBox.left - slack &&
            box.right <= lineBox.right + slack &&
            box.top >= lineBox.top - slack &&
            box.bottom <= lineBox.bottom + slack,
          `${word.text} outside its line`,
        );
        assert.ok(box.left >= previousRight - slack, `${word.text} starts before the previous word ends`);
        previousRight = box.right;
        // Measured on these faces: word edges within 0.35 em of the ink; allow 0.5 em.
        const ink = inks[li]![wi]!;
        const em = spec.size;
        assert.ok(Math.abs(box.left - ink.left) <= 0.5 * em, `${word.text}: left ${box.left} vs ink ${ink.left}`);
        assert.ok(Math.abs(box.right - ink.right) <= 0.5 * em, `${word.text}: right ${box.right} vs ink ${ink.right}`);
        assert.ok(box.top <= ink.top + 0.1 * em && box.bottom >= ink.bottom - 0.1 * em, `${word.text}: too short`);
      }
    }
  });

  it('fits the image into maxSide and still answers in the pixels of the image it was given', async () => {
    const big: Card = {
      width: 1920,
      height: 720,
      lines: [
        { text: 'Departures board', font: 'DejaVu Sans', size: 72, x: 80, y: 200 },
        { text: 'All trains on time', font: 'DejaVu Serif', size: 60, x: 80, y: 480 },
      ],
    };
    const image = await renderCard(big);
    const atDefault = await engine.read(image); // 960: half size
    const atThird = await engine.read(image, { maxSide: 640 });
    for (const result of [atDefault, atThird]) {
      assert.equal(result.width, 1920);
      assert.equal(result.height, 720);
      assert.deepEqual(
        texts(result.lines),
        big.lines.map((l) => l.text),
      );
    }
    // Same text, same place, whatever the working resolution: within a few working pixels (3 at 1/3 = 9 here).
    for (const [i, line] of atDefault.lines.entries()) assertSamePolygon(atThird.lines[i]!.polygon, line.polygon, 12);
    const ink = await inkBox(image);
    const all = bounds(atDefault.lines.flatMap((l) => l.polygon));
    assertCovers(all, ink, 0.5 * 60, 'all lines');
  });

  it('reads a photo stored sideways (EXIF orientation 6) upright, in the displayed frame', async () => {
    const upright = await renderCard(SMALL);
    // Stored a quarter turn anticlockwise; orientation 6 tells viewers to turn it clockwise to display it.
    const stored = await sharp(upright).rotate(-90).withMetadata({ orientation: 6 }).jpeg({ quality: 95 }).toBuffer();
    const expected = small;
    const result = await engine.read(stored);
    assert.equal(result.width, SMALL.width);
    assert.equal(result.height, SMALL.height);
    assert.deepEqual(
      texts(result.lines),
      SMALL.lines.map((l) => l.text),
    );
    for (const [i, line] of result.lines.entries()) assertSamePolygon(line.polygon, expected.lines[i]!.polygon, 3);

    // Without orientation the stored frame is used: 200 wide, 640 high, and the lines run down it.
    const raw = await engine.read(stored, { applyOrientation: false });
    assert.equal(raw.width, SMALL.height);
    assert.equal(raw.height, SMALL.width);
    for (const line of raw.lines) {
      const box = bounds(line.polygon);
      assert.ok(box.bottom - box.top > box.right - box.left, `${line.text} should run vertically`);
    }
  });

  it('turns upside-down text over with the angle classifier, polygons starting at the text’s own top-left', async () => {
    const expected = small;
    const result = await engine.read(
      await sharp(await renderCard(SMALL))
        .rotate(180)
        .png()
        .toBuffer(),
    );
    // Upside down, the second line is the higher one in the image, so it comes first.
    assert.deepEqual(
      texts(result.lines),
      [...SMALL.lines].reverse().map((l) => l.text),
    );
    for (const line of result.lines) {
      const twin = expected.lines.find((l) => l.text === line.text)!;
      const turned = twin.polygon.map((p) => ({ x: SMALL.width - p.x, y: SMALL.height - p.y }));
      assertSamePolygon(line.polygon, turned, 4);
      assert.deepEqual(
        line.words.map((w) => w.text),
        line.text.split(' '),
      );
    }
  });

  it('keeps a line upright when the direction classifier calls it upside down but it reads upright', async () => {
    // The classifier squeezes this card's second line (44 characters) into 192 px and calls it upside down; turned
    // over it reads as nothing, upright at 0.99.
    const notice = TEXT_CARDS.find((c) => c.name === 'notice')!;
    const result = await engine.read(await renderNamedCard(notice));
    assert.equal(texts(result.lines).join('\n'), cardText(notice));
  });

  it('gives each line the probabilities of its characters, spaces left out', () => {
    for (const line of main.lines) {
      assert.equal(line.charConfidences.length, line.text.replace(/\s/g, '').length, line.text);
      const mean = line.charConfidences.reduce((a, b) => a + b, 0) / line.charConfidences.length;
      const words = line.words.flatMap((w) => Array.from({ length: w.text.length }, () => w.confidence));
      const wordMean = words.reduce((a, b) => a + b, 0) / words.length;
      assert.ok(Math.abs(mean - wordMean) < 1e-9, `${line.text}: ${mean} vs ${wordMean}`);
    }
  });

  it('reads pixels decoded elsewhere as it reads the file, and refuses pixels past the working limit', async () => {
    const { data, info } = await sharp(await renderCard(MAIN))
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    const fromPixels = await engine.readPixels({ data, width: info.width, height: info.height });
    assert.deepEqual(fromPixels, main);
    await assert.rejects(
      engine.readPixels({ data: Buffer.alloc(3 * 5000 * 10), width: 5000, height: 10 }),
      (error) => error instanceof OcrOptionError,
    );
    await assert.rejects(
      engine.readPixels({ data: Buffer.alloc(10), width: 100, height: 100 }),
      (error) => error instanceof OcrOptionError,
    );
  });

  it('finds no lines on an empty image', async () => {
    const blank = await sharp({ create: { width: 500, height: 300, channels: 3, background: '#ffffff' } })
      .jpeg()
      .toBuffer();
    assert.deepEqual(await engine.read(blank), { width: 500, height: 300, lines: [] });
  });

  it('drops lines under minScore', async () => {
    const weakest = Math.min(...small.lines.map((l) => l.confidence));
    const strict = await engine.read(await renderCard(SMALL), { minScore: Math.min(1, weakest + 1e-6) });
    assert.equal(strict.lines.length, small.lines.length - 1);
    assert.ok(strict.lines.every((l) => l.confidence > weakest));
  });

  it('refuses broken input with the codec’s typed errors', async () => {
    const jpeg = await sharp(await renderCard(SMALL))
      .jpeg()
      .toBuffer();
    const cases: [Buffer, string][] = [
      [Buffer.alloc(0), 'EMPTY'],
      [Buffer.from('this is not an image at all'), 'UNSUPPORTED_FORMAT'],
      [jpeg.subarray(0, Math.floor(jpeg.length / 2)), 'CORRUPT'],
    ];
    for (const [bytes, code] of cases) {
      await assert.rejects(engine.read(bytes), (error) => error instanceof CodecError && error.code === code);
    }
    await assert.rejects(
      engine.read(jpeg, { maxInputPixels: 1000 }),
      (error) => error instanceof CodecError && error.code === 'TOO_MANY_PIXELS',
    );
  });

  it('refuses options outside their limits', async () => {
    const image = await renderCard(SMALL);
    for (const options of [
      { maxSide: 16 },
      { maxSide: 100_000 },
      { maxSide: 500.5 },
      { minScore: 2 },
      { spaceProb: 0 },
    ]) {
      await assert.rejects(engine.read(image, options), (error) => error instanceof OcrOptionError);
    }
  });
});

describe('loading the OCR engine', () => {
  it('says which files are missing from a model folder', async () => {
    await assert.rejects(
      loadOcrEngine({ modelDir: '/nonexistent/ocr-models' }),
      (error) =>
        error instanceof OcrModelsMissingError &&
        error.code === 'OCR_MODELS_MISSING' &&
        /ch_PP-OCRv4_det_infer\.onnx/.test(error.message),
    );
  });

  it('refuses a thread count that is not a positive integer', async () => {
    await assert.rejects(loadOcrEngine({ intraOpNumThreads: 0 }), (error) => error instanceof OcrOptionError);
  });
});
