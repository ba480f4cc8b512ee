import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import sharp from 'sharp';
import { request } from 'undici';
import { defaultProxyConfig } from '../../src/config/proxy.ts';
import { createLogger } from '../../src/logger.ts';
import { createRuntime, type Runtime } from '../../src/runtime.ts';
import { type FakeUpstream, startFakeUpstream } from '../../testkit/fake-upstream.ts';
import { syntheticJpeg } from '../../testkit/images.ts';
import { logCapture, PROXY_CREDENTIALS } from '../helpers/proxy.ts';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const skipWithoutChromium = existsSync(CHROMIUM)
  ? false
  : `needs Debian chromium at ${CHROMIUM} (apt-get install chromium; .ci/run installs it); absent here`;

/** The status page after real proxied traffic: every reference agrees (the fake upstream always says "Dog"). */
describe('the status page on the admin port', () => {
  let upstream: FakeUpstream;
  let runtime: Runtime;
  let dir: string;
  let adminUrl: string;

  before(async () => {
    upstream = await startFakeUpstream(() => ({
      body: JSON.stringify({ Labels: [{ Name: 'Dog', Confidence: 97 }] }),
    }));
    dir = await mkdtemp(path.join(tmpdir(), 'adacompress-status-'));
    runtime = await createRuntime(
      defaultProxyConfig({
        port: 0,
        adminPort: 0,
        rekognitionEndpoint: upstream.url,
        unverifiedSignatures: 'allow',
        decisionLog: path.join(dir, 'decisions.jsonl'),
        referenceProbability: 1,
        referenceBudgetPerMinute: 10_000,
        controllerWindow: 4,
      }),
      {
        logger: createLogger('warn', logCapture().stream),
        credentials: async () => PROXY_CREDENTIALS,
        historyIntervalMs: 100,
      },
    );
    const urls = await runtime.listen();
    adminUrl = urls.adminUrl;
    for (let i = 0; i < 8; i++) {
      const photo = await syntheticJpeg({ width: 320 + 16 * i, height: 240, quality: 95 });
      const res = await request(urls.url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'RekognitionService.DetectLabels' },
        body: JSON.stringify({ Image: { Bytes: photo.toString('base64') } }),
      });
      assert.equal(res.statusCode, 200);
      await res.body.text();
      await runtime.loop.drain(5000);
      await sleep(120); // let the history take a sample between requests: the charts get points over time
    }
  });
  after(async () => {
    await runtime.shutdown();
    await upstream.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('/status.json carries a history of cumulative bytes, actions, agreement and references', async () => {
    const status = (await (await request(`${adminUrl}/status.json`)).body.json()) as {
      history: {
        t: number;
        bytesIn: number;
        bytesOut: number;
        actions: Record<string, number>;
        references: Record<string, number>;
        controllers: Record<string, { windowMean: number | null }>;
      }[];
    };
    assert.ok(status.history.length >= 3, `${status.history.length} samples`);
    const last = status.history.at(-1)!;
    assert.ok(last.bytesIn > last.bytesOut && last.bytesOut > 0, 'bytes were saved');
    assert.equal(
      Object.values(last.actions).reduce((a, b) => a + b, 0),
      8,
      'every image re-encoded once',
    );
    assert.ok((last.references.sent ?? 0) + (last.references.reused ?? 0) > 0, 'references counted');
    assert.equal(last.controllers['rekognition/DetectLabels']?.windowMean, 1, 'agreement with the references');
    const times = status.history.map((h) => h.t);
    assert.deepEqual(
      times,
      [...times].sort((a, b) => a - b),
      'oldest first',
    );
    const calibration = (status as unknown as { calibration: Record<string, { point: { level: number } }> })
      .calibration;
    assert.ok(calibration['rekognition/DetectLabels'], 'the calibrated state is in /status.json');
    const firstIn = status.history[0]!.bytesIn;
    assert.ok(firstIn < last.bytesIn, 'the history grows with the traffic');
  });

  test('/status is one self-contained HTML page: no external script, style or font', async () => {
    const res = await request(`${adminUrl}/status`);
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/html/);
    assert.match(String(res.headers['content-security-policy']), /default-src 'none'/);
    const html = await res.body.text();
    assert.doesNotMatch(html, /<(script|link|img)[^>]+(src|href)=/i, 'nothing loaded from elsewhere');
  });

  test('in headless Chromium the page shows the model, bytes saved and drawn charts', {
    skip: skipWithoutChromium,
  }, async () => {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const pageErrors: string[] = [];
      page.on('pageerror', (error) => pageErrors.push(error.message));
      await page.goto(`${adminUrl}/status`);
      await page.waitForSelector('body[data-loaded="true"]', { timeout: 15_000 });
      assert.deepEqual(pageErrors, []);

      const modelId = runtime.router.status().models.find((m) => m.modelId)?.modelId;
      assert.ok(modelId, 'the runtime serves an ONNX model');
      assert.match(
        (await page.locator('#models').textContent()) ?? '',
        new RegExp(modelId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')),
      );
      const saved = (await page.locator('#saved').textContent()) ?? '';
      assert.match(saved, /^[\d.]+ (B|KB|MB)$/);
      assert.notEqual(saved, '0 B');
      assert.match((await page.locator('#controllers').textContent()) ?? '', /rekognition\/DetectLabelspolicy/);
      assert.match(
        (await page.locator('#calibration').textContent()) ?? '',
        /rekognition\/DetectLabels(stored size|\d+ px)\d/,
        'the calibrated operating point is shown',
      );
      assert.match((await page.locator('#refs').textContent()) ?? '', /sent \d+/);

      assert.ok((await page.locator('#chart-saved path[data-series]').count()) === 1, 'bytes-saved line drawn');
      assert.ok((await page.locator('#chart-actions rect[data-quality]').count()) >= 1, 'actions histogram drawn');
      assert.ok((await page.locator('#chart-agreement path[data-series]').count()) >= 1, 'agreement line drawn');
      assert.ok((await page.locator('#chart-refs path[data-series]').count()) >= 1, 'reference spend drawn');

      const png = await page.screenshot({ fullPage: true });
      if (process.env.ADACOMPRESS_SCREENSHOT) await writeFile(process.env.ADACOMPRESS_SCREENSHOT, png);
      const image = sharp(png);
      const meta = await image.metadata();
      assert.equal(meta.width, 1280);
      const stats = await image.stats();
      const spread = stats.channels.slice(0, 3).map((c) => c.stdev);
      assert.ok(
        Math.min(...spread) > 10,
        `the screenshot has content (channel stdev ${spread.map((s) => s.toFixed(1))})`,
      );
      assert.ok(png.length > 20_000, `screenshot of ${png.length} bytes`);
    } finally {
      await browser.close();
    }
  });
});
