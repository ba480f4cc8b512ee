import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import { DetectTextCommand, type DetectTextCommandOutput, type RekognitionClient } from '@aws-sdk/client-rekognition';
import sharp from 'sharp';
import { type RunningEmulator, startEmulator } from '../../src/emulator/main.ts';
import { cardText, type NamedCard, renderNamedCard, TEXT_CARDS } from '../../testkit/text-card-set.ts';
import { inkBox } from '../../testkit/text-cards.ts';
import { modelDir, rekognitionClient, skipWithoutData, solid } from './helpers.ts';

// baidu-aip-sdk is CommonJS without types: the OCR client's methods these tests call.
type OcrCall = (image: string, options?: Record<string, string>) => Promise<Record<string, unknown>>;
interface AipOcr {
  generalBasic: OcrCall;
  accurateBasic: OcrCall;
  general: OcrCall;
  accurate: OcrCall;
}
const aip = createRequire(import.meta.url)('baidu-aip-sdk') as {
  ocr: new (appId: string, ak: string, sk: string) => AipOcr;
  HttpClient: { setRequestInterceptor(f: (options: { url: string }) => { url: string }): void };
};

interface WordsResult {
  words: string;
  location?: { left: number; top: number; width: number; height: number };
}

const card = (name: string): NamedCard => TEXT_CARDS.find((c) => c.name === name)!;
const lineTexts = (out: DetectTextCommandOutput) =>
  (out.TextDetections ?? []).filter((d) => d.Type === 'LINE').map((d) => d.DetectedText);

async function errorName(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return (error as Error).name;
  }
  return 'no error';
}

describe('text operations on the OCR engine, driven by the real SDKs', { skip: skipWithoutData }, () => {
  let emulator: RunningEmulator;
  let rekognition: RekognitionClient;
  let ocr: AipOcr;
  before(async () => {
    emulator = await startEmulator({ modelDir, workers: 1 });
    rekognition = rekognitionClient(emulator.url);
    aip.HttpClient.setRequestInterceptor((options) => {
      options.url = options.url.replace('https://aip.baidubce.com', emulator.url);
      return options;
    });
    ocr = new aip.ocr('1', 'emulator-ak', 'emulator-sk');
  });
  after(async () => {
    rekognition?.destroy();
    await emulator?.close();
  });

  it('DetectText reads a rendered card exactly: LINEs, then WORDs pointing at their line, ratio geometry', async () => {
    const label = card('label');
    const out = await rekognition.send(new DetectTextCommand({ Image: { Bytes: await renderNamedCard(label) } }));
    assert.deepEqual(
      lineTexts(out),
      label.card.lines.map((l) => l.text),
    );
    assert.equal(out.TextModelVersion, '3.0');
    const detections = out.TextDetections ?? [];
    const lines = detections.filter((d) => d.Type === 'LINE');
    for (const [i, d] of detections.entries()) assert.equal(d.Id, i);
    for (const line of lines) {
      const words = detections.filter((d) => d.Type === 'WORD' && d.ParentId === line.Id);
      assert.equal(words.map((w) => w.DetectedText).join(' '), line.DetectedText);
      const lb = line.Geometry!.BoundingBox!;
      for (const d of [line, ...words]) {
        assert.ok(d.Confidence! >= 80 && d.Confidence! <= 100, `${d.DetectedText}: ${d.Confidence}`);
        assert.equal(d.Geometry?.Polygon?.length, 4);
        const b = d.Geometry!.BoundingBox!;
        for (const v of [b.Left!, b.Top!, b.Width!, b.Height!]) assert.ok(v >= 0 && v <= 1);
        assert.ok(b.Left! >= lb.Left! - 1e-6 && b.Left! + b.Width! <= lb.Left! + lb.Width! + 1e-6);
      }
    }
    // The first line's box lies where its ink is (within a few pixels of the 800x420 card).
    const first = lines[0]!.Geometry!.BoundingBox!;
    const ink = await inkBox(
      await renderNamedCard({ ...label, card: { ...label.card, lines: label.card.lines.slice(0, 1) } }),
    );
    assert.ok(
      Math.abs(first.Left! * 800 - ink.left) < 8 && Math.abs((first.Left! + first.Width!) * 800 - ink.right) < 8,
    );
  });

  it('DetectText honours the word filter and regions of interest, and refuses bad ones as AWS does', async () => {
    const bytes = await renderNamedCard(card('label'));
    const all = await rekognition.send(new DetectTextCommand({ Image: { Bytes: bytes } }));
    // A minimum word height at the median keeps the taller half of the words, and each line as the words it keeps.
    const words = (all.TextDetections ?? []).filter((d) => d.Type === 'WORD');
    const heights = words.map((w) => w.Geometry!.BoundingBox!.Height!).sort((a, b) => a - b);
    const threshold = heights[Math.floor(heights.length / 2)]!;
    const expected = lineTexts(all).flatMap((_, id) => {
      const kept = words.filter((w) => w.ParentId === id && w.Geometry!.BoundingBox!.Height! >= threshold);
      return kept.length > 0 ? [kept.map((w) => w.DetectedText).join(' ')] : [];
    });
    assert.ok(expected.length > 0 && expected.join(' ').split(' ').length < words.length);
    const strict = await rekognition.send(
      new DetectTextCommand({ Image: { Bytes: bytes }, Filters: { WordFilter: { MinBoundingBoxHeight: threshold } } }),
    );
    assert.deepEqual(lineTexts(strict), expected);
    const lower = await rekognition.send(
      new DetectTextCommand({
        Image: { Bytes: bytes },
        Filters: { RegionsOfInterest: [{ BoundingBox: { Left: 0, Top: 0.7, Width: 1, Height: 0.3 } }] },
      }),
    );
    assert.deepEqual(lineTexts(lower), ['Price 1.29']);
    assert.equal(
      await errorName(
        rekognition.send(
          new DetectTextCommand({ Image: { Bytes: bytes }, Filters: { WordFilter: { MinConfidence: 120 } } }),
        ),
      ),
      'InvalidParameterException',
    );
  });

  it('Rekognition reads a photo stored sideways upright (EXIF applied); Baidu answers in the stored frame', async () => {
    const label = card('label');
    const sideways = await sharp(await renderNamedCard(label))
      .rotate(-90)
      .withMetadata({ orientation: 6 })
      .jpeg({ quality: 95 })
      .toBuffer();
    const out = await rekognition.send(new DetectTextCommand({ Image: { Bytes: sideways } }));
    assert.deepEqual(
      lineTexts(out),
      label.card.lines.map((l) => l.text),
    );
    const baidu = (await ocr.general(sideways.toString('base64'), { detect_direction: 'true' })) as {
      direction: number;
      words_result: WordsResult[];
    };
    assert.deepEqual(baidu.words_result.map((w) => w.words).sort(), label.card.lines.map((l) => l.text).sort());
    // Stored 420 wide and 800 high, the text running up the image: turned 90 degrees anticlockwise (direction 1).
    assert.equal(baidu.direction, 1);
    for (const { location: l } of baidu.words_result) assert.ok(l!.height > l!.width && l!.left + l!.width <= 420);
  });

  it('Baidu general_basic and accurate_basic read cards exactly; general gives pixel locations', async () => {
    for (const name of ['label', 'dark-banner']) {
      const image = (await renderNamedCard(card(name))).toString('base64');
      for (const call of [ocr.generalBasic, ocr.accurateBasic]) {
        const out = (await call.call(ocr, image)) as { words_result_num: number; words_result: WordsResult[] };
        assert.equal(out.words_result.map((w) => w.words).join('\n'), cardText(card(name)), name);
        assert.equal(out.words_result_num, card(name).card.lines.length);
        assert.equal(out.words_result[0]!.location, undefined);
      }
    }
    const sign = card('sign');
    const located = (await ocr.accurate((await renderNamedCard(sign)).toString('base64'), {
      probability: 'true',
    })) as { words_result: (WordsResult & { probability: { average: number; min: number } })[] };
    const ink = await inkBox(
      await renderNamedCard({ ...sign, card: { ...sign.card, lines: sign.card.lines.slice(0, 1) } }),
    );
    const { location, probability } = located.words_result[0]!;
    // PLATFORM 4 at 140 px on a 1600 px card: its box within a tenth of an em of the ink, in card pixels.
    assert.ok(Math.abs(location!.left - ink.left) < 14 && Math.abs(location!.left + location!.width - ink.right) < 14);
    assert.ok(location!.top <= ink.top + 14 && location!.top + location!.height >= ink.bottom - 14);
    assert.ok(probability.average > 0.9 && probability.min <= probability.average);
  });

  it('the working resolution is a knob: small print lost at 960 px is read at the native size', async () => {
    // 16 px text on a 2400 px wide sheet: 6.4 px at the default 960, too small to read.
    const tiny: NamedCard = {
      name: 'tiny',
      card: {
        width: 2400,
        height: 300,
        lines: [{ text: 'Terms and conditions apply', font: 'DejaVu Sans', size: 16, x: 40, y: 150 }],
      },
    };
    const image = (await renderNamedCard(tiny)).toString('base64');
    const at960 = (await ocr.generalBasic(image)) as { words_result: WordsResult[] };
    assert.notEqual(at960.words_result.map((w) => w.words).join('\n'), cardText(tiny));
    emulator.configure({ baiduGeneralBasic: 'ppocr-v4@native' });
    try {
      const native = (await ocr.generalBasic(image)) as { words_result: WordsResult[] };
      assert.equal(native.words_result.map((w) => w.words).join('\n'), cardText(tiny));
    } finally {
      emulator.configure({ baiduGeneralBasic: 'ppocr-v4@960' });
    }
  });

  it("errors in each API's shape: bad parameters, oversized, broken and tiny images", async () => {
    const good = await renderNamedCard(card('label'));
    const truncated = (await sharp(good).jpeg().toBuffer()).subarray(0, 3000);
    assert.equal(
      await errorName(rekognition.send(new DetectTextCommand({ Image: { Bytes: truncated } }))),
      'InvalidImageFormatException',
    );
    assert.equal(
      await errorName(rekognition.send(new DetectTextCommand({ Image: { Bytes: await solid(60, 60) } }))),
      'InvalidParameterException',
    );
    const code = async (image: Buffer | string, options?: Record<string, string>) =>
      (
        (await ocr.generalBasic(typeof image === 'string' ? image : image.toString('base64'), options)) as {
          error_code?: number;
        }
      ).error_code;
    assert.equal(await code(good, { language_type: 'KLINGON' }), 216100);
    assert.equal(await code(truncated), 216201);
    assert.equal(await code(await solid(5000, 100)), 216202);
    assert.equal(await code(''), 216200);
    assert.equal(await code(good, { language_type: 'ENG', detect_direction: 'false' }), undefined);
  });
});
