import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';
import { DetectTextCommand, RekognitionClient } from '@aws-sdk/client-rekognition';
import sharp from 'sharp';
import type { Answer } from '../../src/answer.ts';
import { type RunningEmulator, startEmulator } from '../../src/emulator/main.ts';
import { FixedQualityPolicy } from '../../src/policy/fixed.ts';
import type { Exchange } from '../../src/request/exchange.ts';
import { cardText, type NamedCard, renderNamedCard, TEXT_CARDS } from '../../testkit/text-card-set.ts';
import { modelDir, skipWithoutData } from '../emulator/helpers.ts';
import { CLIENT_CREDENTIALS, PROXY_CREDENTIALS, startTestProxy, type TestProxy } from '../helpers/proxy.ts';

const require = createRequire(import.meta.url);
type OcrCall = (image: string, options?: Record<string, string>) => Promise<Record<string, unknown>>;
const AipSdk = require('baidu-aip-sdk') as {
  ocr: new (appId: string, ak: string, sk: string) => { generalBasic: OcrCall; general: OcrCall };
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
