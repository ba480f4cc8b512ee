import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';
import { DetectTextCommand, RekognitionClient } from '@aws-sdk/client-rekognition';
import sharp from 'sharp';
import type { Answer } from '../../src/answer.ts';
import { type RunningEmulator, startEmulator } from '../../src/emulator/main.ts';
import { FixedQualityPolicy } from '../../src/policy/fixed.ts';
import { type Exchange, sentBytesOf } from '../../src/request/exchange.ts';
import { cardText, type NamedCard, renderNamedCard, TEXT_CARDS } from '../../testkit/text-card-set.ts';
import { type InkBox, inkBox } from '../../testkit/text-cards.ts';
import { modelDir, skipWithoutData } from '../emulator/helpers.ts';
import { CLIENT_CREDENTIALS, PROXY_CREDENTIALS, startTestProxy, type TestProxy } from '../helpers/proxy.ts';
import { resizingPolicy } from '../helpers/resize-policy.ts';

const require = createRequire(import.meta.url);
type OcrCall = (image: string, options?: Record<string, string>) => Promise<Record<string, unknown>>;
const AipSdk = require('baidu-aip-sdk') as {
  ocr: new (
    appId: string,
    ak: string,
    sk: string,
  ) => { generalBasic: OcrCall; general: OcrCall; accurateBasic: OcrCall };
  HttpClient: { setRequestInterceptor(fn: (options: { url: string }) => { url: string }): void };
};

const card = (name: string): NamedCard => TEXT_CARDS.find((c) => c.name === name)!;

/**
 * The whole text path: the real AWS and Baidu SDKs -> the proxy (re-encoding at quality 85, where the curve shows
 * clean cards keep their words) -> the emulator's OCR. What the client reads, and what the proxy logged.
 */
describe('text operations through the proxy to the emulator, with the real SDKs', { skip: skipWithoutData }, () => {
  let emulator: RunningEmulator;
  let proxy: TestProxy;
  let rekognition: RekognitionClient;
  const answers: { key: string; answer: Answer | undefined }[] = [];

  before(async () => {
    emulator = await startEmulator({
      modelDir,
      workers: 1,
      awsAccessKeyId: PROXY_CREDENTIALS.accessKeyId,
      awsSecretAccessKey: PROXY_CREDENTIALS.secretAccessKey,
    });
    proxy = await startTestProxy(
      emulator.url,
      {},
      {
        policy: new FixedQualityPolicy(85),
        loop: {
          plan: () => {},
          record: (exchange: Exchange) => {
            for (const slot of exchange.slots) answers.push({ key: slot.key, answer: slot.answer });
          },
        },
      },
    );
    rekognition = new RekognitionClient({
      endpoint: proxy.url,
      region: 'us-east-1',
      credentials: CLIENT_CREDENTIALS,
      maxAttempts: 1,
    });
    AipSdk.HttpClient.setRequestInterceptor((options) => ({
      ...options,
      url: options.url.replace('https://aip.baidubce.com', proxy.url),
    }));
  });
  after(async () => {
    rekognition?.destroy();
    await proxy?.close();
    await emulator?.close();
  });

  test('DetectText: the card is read exactly, sent smaller, and the proxy logs its lines as the text', async () => {
    for (const name of ['label', 'dark-banner']) {
      // As a scanner or phone uploads it: a JPEG at quality 98, which quality 85 re-encodes smaller.
      const png = await sharp(await renderNamedCard(card(name)))
        .jpeg({ quality: 98 })
        .toBuffer();
      emulator.resetCounters();
      answers.length = 0;
      const out = await rekognition.send(new DetectTextCommand({ Image: { Bytes: png } }));
      const lines = (out.TextDetections ?? []).filter((d) => d.Type === 'LINE').map((d) => d.DetectedText);
      assert.equal(lines.join('\n'), cardText(card(name)), name);
      const words = (out.TextDetections ?? []).filter((d) => d.Type === 'WORD');
      assert.ok(words.every((w) => lines[w.ParentId!]?.split(' ').includes(w.DetectedText!)));
      const sent = emulator.counters().rekognition.imageBytes;
      assert.ok(sent > 0 && sent < png.length, `sent ${sent} bytes of ${png.length}`);
      assert.deepEqual(answers, [
        { key: 'rekognition/DetectText', answer: { labels: [], faces: [], text: cardText(card(name)) } },
      ]);
    }
  });

  test('Baidu general_basic and general: the card read exactly, words_result as documented', async () => {
    const client = new AipSdk.ocr('1', 'emulator-ak', 'emulator-sk');
    const label = card('label');
    const png = await renderNamedCard(label);
    answers.length = 0;
    const basic = (await client.generalBasic(png.toString('base64'))) as {
      log_id: number;
      words_result_num: number;
      words_result: { words: string }[];
    };
    assert.deepEqual(
      basic.words_result,
      label.card.lines.map((l) => ({ words: l.text })),
    );
    assert.equal(basic.words_result_num, label.card.lines.length);
    assert.ok(Number.isInteger(basic.log_id));
    assert.deepEqual(answers, [
      { key: 'baidu/ocr/v1/general_basic', answer: { labels: [], faces: [], text: cardText(label) } },
    ]);
    const located = (await client.general(png.toString('base64'))) as {
      words_result: { words: string; location: { left: number; top: number; width: number; height: number } }[];
    };
    // Pixels of the 800x420 card the client sent (the proxy sent it at its stored size).
    for (const { location } of located.words_result) {
      assert.ok(location.left >= 0 && location.left + location.width <= 800 && location.top + location.height <= 420);
    }
    assert.ok(located.words_result[0]!.location.top < located.words_result[1]!.location.top);
  });

  test('sent at half size: the text read exactly, and every box the client gets is in its own pixels', async () => {
    // The 1600x800 sign, sent at 800 px by a resizing policy: boxes the OCR finds in the 800 px upload must reach the
    // client scaled back onto the ink of the card it sent (Baidu pixels), or as ratios of it (Rekognition).
    const sign = card('sign');
    const png = await renderNamedCard(sign);
    const { width, height } = sign.card;
    const ink = await Promise.all(
      sign.card.lines.map((line) => renderNamedCard({ ...sign, card: { ...sign.card, lines: [line] } }).then(inkBox)),
    );
    const sent: Buffer[] = [];
    const halfSize = await startTestProxy(
      emulator.url,
      {},
      {
        policy: resizingPolicy(width / 2, 90),
        loop: {
          plan: () => {},
          record: (exchange: Exchange) => {
            for (const slot of exchange.slots) sent.push(sentBytesOf(slot));
          },
        },
      },
    );
    const client = new RekognitionClient({
      endpoint: halfSize.url,
      region: 'us-east-1',
      credentials: CLIENT_CREDENTIALS,
      maxAttempts: 1,
    });
    AipSdk.HttpClient.setRequestInterceptor((options) => ({
      ...options,
      url: options.url.replace('https://aip.baidubce.com', halfSize.url),
    }));
    try {
      const baidu = new AipSdk.ocr('1', 'emulator-ak', 'emulator-sk');
      const located = (await baidu.general(png.toString('base64'))) as {
        words_result: { words: string; location: { left: number; top: number; width: number; height: number } }[];
      };
      assert.deepEqual(
        located.words_result.map((w) => w.words),
        sign.card.lines.map((l) => l.text),
      );
      located.words_result.forEach(({ location }, i) => {
        const box = { left: location.left, top: location.top, right: location.left + location.width };
        assertCovers({ ...box, bottom: location.top + location.height }, ink[i]!, `Baidu line ${i}`);
      });
      const accurate = (await baidu.accurateBasic(png.toString('base64'))) as { words_result: { words: string }[] };
      assert.deepEqual(
        accurate.words_result.map((w) => w.words),
        sign.card.lines.map((l) => l.text),
      );
      const out = await client.send(new DetectTextCommand({ Image: { Bytes: png } }));
      const lines = (out.TextDetections ?? []).filter((d) => d.Type === 'LINE');
      assert.equal(lines.map((d) => d.DetectedText).join('\n'), cardText(sign));
      lines.forEach((line, i) => {
        const { Left = 0, Top = 0, Width = 0, Height = 0 } = line.Geometry!.BoundingBox!;
        const box = { left: Left * width, top: Top * height, right: (Left + Width) * width };
        assertCovers({ ...box, bottom: (Top + Height) * height }, ink[i]!, `Rekognition line ${i}`);
      });
      const sentWidths = await Promise.all(sent.map(async (bytes) => (await sharp(bytes).metadata()).width));
      assert.deepEqual(sentWidths, [width / 2, width / 2, width / 2], 'every upload went at half size');
    } finally {
      client.destroy();
      AipSdk.HttpClient.setRequestInterceptor((options) => ({
        ...options,
        url: options.url.replace('https://aip.baidubce.com', proxy.url),
      }));
      await halfSize.close();
    }
  });

  test("the emulator's errors reach the clients in each API's own shape", async () => {
    const png = await renderNamedCard(card('label'));
    await assert.rejects(
      rekognition.send(
        new DetectTextCommand({ Image: { Bytes: png }, Filters: { WordFilter: { MinConfidence: -1 } } }),
      ),
      (error: Error) => error.name === 'InvalidParameterException',
    );
    const client = new AipSdk.ocr('1', 'emulator-ak', 'emulator-sk');
    const bad = await client.generalBasic(png.toString('base64'), { language_type: 'KLINGON' });
    assert.equal(bad.error_code, 216100);
    // Under Baidu's 15 px minimum the proxy forwards the image untouched, and Baidu answers its size error.
    const tiny = await sharp({ create: { width: 10, height: 10, channels: 3, background: '#fff' } })
      .jpeg()
      .toBuffer();
    const small = await client.generalBasic(tiny.toString('base64'));
    assert.equal(small.error_code, 216202);
  });
});

/** A box found by OCR lies on the ink it read: it holds the ink, give or take a few pixels, and is not much larger. */
function assertCovers(box: InkBox, ink: InkBox, what: string): void {
  const slack = 0.15 * (ink.bottom - ink.top);
  assert.ok(
    box.left <= ink.left + slack && box.top <= ink.top + slack,
    `${what}: ${JSON.stringify(box)} starts after the ink ${JSON.stringify(ink)}`,
  );
  assert.ok(
    box.right >= ink.right - slack && box.bottom >= ink.bottom - slack,
    `${what}: ${JSON.stringify(box)} ends before the ink ${JSON.stringify(ink)}`,
  );
  const area = (b: InkBox) => (b.right - b.left) * (b.bottom - b.top);
  assert.ok(
    area(box) < 2 * area(ink),
    `${what}: ${JSON.stringify(box)} is far larger than the ink ${JSON.stringify(ink)}`,
  );
}
