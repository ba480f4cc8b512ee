/**
 * The drift scenario of PAPER.md's inference-estimate-retrain loop, end to end: photos stream through the real proxy to
 * the Rekognition emulator (DetectLabels), first 300 "day" photos, then 300 "night" photos (other photos, darkened and
 * desaturated, with sensor noise: at the qualities the policy picks their labels flip far more often). Prints when the controller noticed, the
 * reference uploads paid before and after, and what the fallback sent.
 *
 *   npm run drift -- [--per-scene 300] [--reference-probability 0.03] [--detector cusum|window]
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DetectLabelsCommand, RekognitionClient } from '@aws-sdk/client-rekognition';
import sharp from 'sharp';
import { defaultProxyConfig } from '../src/config/proxy.ts';
import { startEmulator } from '../src/emulator/main.ts';
import { createLogger } from '../src/logger.ts';
import { createRuntime } from '../src/runtime.ts';
import { hasSharedData, imagenetDir, readPhoto } from '../testkit/shared-data.ts';

const { values } = parseArgs({
  options: {
    'per-scene': { type: 'string', default: '300' },
    'reference-probability': { type: 'string', default: '0.03' },
    detector: { type: 'string', default: 'cusum' },
  },
});
if (!hasSharedData) {
  console.error(`needs ${imagenetDir}`);
  process.exit(2);
}
const perScene = Number(values['per-scene']);
const credentials = { accessKeyId: 'AKIDEMULATOR', secretAccessKey: 'emulator-secret' };

const emulator = await startEmulator({ latencyMs: 0 });
const runtime = await createRuntime(
  defaultProxyConfig({
    port: 0,
    adminPort: 0,
    rekognitionEndpoint: emulator.url,
    decisionLog: process.env.DRIFT_LOG ?? '',
    referenceProbability: Number(values['reference-probability']),
    referenceBudgetPerMinute: 10_000,
    controllerDetector: values.detector === 'window' ? 'window' : 'cusum',
  }),
  { logger: createLogger('silent'), credentials: async () => credentials },
);
const { url } = await runtime.listen();
const client = new RekognitionClient({ endpoint: url, region: 'us-east-1', credentials });

// Day: the first photos of the spread order; night: the next ones, darkened. Different photos, nothing memorised.
// Name order groups photos by class (hundreds of animals first): a stride coprime with the count spreads both scenes
// over all classes.
const sorted = readdirSync(imagenetDir).sort();
const files = sorted.map((_, i) => sorted[(i * 7) % sorted.length]!);
/** Night: darker, washed-out colours and sensor noise (deterministic), re-saved by the camera at quality 92. */
async function night(photo: Buffer): Promise<Buffer> {
  const { data, info } = await sharp(photo)
    .linear(0.2, 0)
    .modulate({ saturation: 0.5 })
    .raw()
    .toBuffer({ resolveWithObject: true });
  let seed = 12345;
  for (let i = 0; i < data.length; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    data[i] = Math.max(0, Math.min(255, data[i]! + ((seed >> 8) % 61) - 30));
  }
  return sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } })
    .jpeg({ quality: 92 })
    .toBuffer();
}
const key = 'rekognition/DetectLabels';
const references = async () =>
  (await runtime.metrics.references.get()).values
    .filter((entry) => entry.labels.result === 'sent')
    .reduce((sum, entry) => sum + entry.value, 0);
let detectedAt: number | undefined;
let apiErrors = 0;
let referencesBeforeChange = 0;
let fallbackQualities: number[] = [];
for (let i = 0; i < 2 * perScene; i++) {
  const isNight = i >= perScene;
  if (i === perScene) {
    await runtime.loop.drain(10_000);
    referencesBeforeChange = await references();
  }
  const raw = readPhoto(path.join(imagenetDir, files[i]!));
  const photo = isNight ? await night(raw) : raw;
  try {
    await client.send(new DetectLabelsCommand({ Image: { Bytes: photo } }));
  } catch {
    apiErrors++; // e.g. a photo below Rekognition's 80 px minimum: the API's own answer, passed on
  }
  const state = runtime.loop.controllers()[key]?.state;
  if (state === 'fallback' && detectedAt === undefined) {
    detectedAt = i;
    fallbackQualities = [];
  }
  if (state === 'fallback') {
    fallbackQualities = (await runtime.metrics.actions.get()).values.map((e) => Number(e.labels.quality));
  }
}
await runtime.loop.drain(10_000);
const snapshot = runtime.loop.controllers()[key];
console.log(`scene change after ${perScene} day photos; ${perScene} night photos follow`);
console.log(
  `controller: ${detectedAt === undefined ? 'never left the policy' : `fell back at image ${detectedAt} (${detectedAt < perScene ? 'BEFORE the change: false alarm' : `${detectedAt - perScene + 1} images after the change`})`}`,
);
console.log(
  `state at the end: ${snapshot?.state}, window mean ${snapshot?.windowMean?.toFixed(2)}, transitions ${snapshot?.transitions}`,
);
console.log(
  `reference uploads before the change: ${referencesBeforeChange} of ${perScene} calls (${((100 * referencesBeforeChange) / perScene).toFixed(1)}%)`,
);
console.log(
  `reference uploads after the change: ${(await references()) - referencesBeforeChange} of ${perScene} calls`,
);
console.log(`API errors passed on (photos the API refuses): ${apiErrors}`);
console.log(`qualities seen while falling back: ${[...new Set(fallbackQualities)].sort((a, b) => a - b).join(', ')}`);
client.destroy();
await runtime.shutdown();
await emulator.close();
