/**
 * `adacompress collect`: full-information data. Every image of a folder is encoded at every action and sent to every
 * chosen API operation (an emulator, or a real API within a call budget), through the provider code the proxy uses;
 * the normalised answers, bytes and the policy features go to one JSONL file per API (data.ts).
 *
 * Resumable: an image's line is appended only when all its actions are answered, and images already in the file are
 * skipped. Safe to interrupt: SIGINT stops new images, lets the in-flight ones finish and write, then exits.
 */
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { encodeJpeg } from '../codec/encode.ts';
import { inspectImage } from '../codec/inspect.ts';
import { commandOptions, int, type loadOptions, num, type OptionSpec, option } from '../config/options.ts';
import { paperActions } from '../policy/actions.ts';
import { FEATURE_VERSION, featureHeaderOf, featuresOf } from '../policy/features.ts';
import { providerDescriptors } from '../providers/registry.ts';
import {
  type ApiClient,
  collectKeys,
  createApiClient,
  credentialsFromEnv,
  emulatorCredentials,
  splitKey,
} from './api-client.ts';
import {
  COLLECT_SCHEMA_VERSION,
  type CollectedRecord,
  defaultCollectDir,
  defaultImagenetDir,
  listImages,
  readRecords,
  recordFileName,
  type Split,
} from './data.ts';

export const ENV_PREFIX = 'ADACOMPRESS_COLLECT_';

/** Published list prices per 1000 calls (USD, first tier), for the estimate printed before real calls. */
const PRICE_PER_1000: Record<string, number> = { rekognition: 1.0, facepp: 0.5, baidu: 0.5 };

const keyList = z
  .string()
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.enum(collectKeys as [string, ...string[]])).min(1));

export const collectOptions = {
  images: option(
    z.string().min(1),
    defaultImagenetDir,
    'Folder of images to send.',
    '../shared/data/images/imagenet-sample',
  ),
  out: option(
    z.string().min(1),
    defaultCollectDir,
    'Folder for the JSONL files (one per API); gitignored.',
    '.data/collect',
  ),
  apis: option(
    keyList,
    [
      'rekognition/DetectLabels',
      'baidu/image-classify/v2/advanced_general',
      'facepp/imagepp/beta/detectsceneandobject',
    ],
    `Comma-separated provider/operation keys: ${collectKeys.join(', ')}.`,
    'the three label APIs',
  ),
  split: option(
    z.enum(['all', 'train', 'validation']),
    'all',
    'Which images of the fixed split (validation ones go first).',
  ),
  limit: option(int(0), 0, 'At most this many images (0 = all).'),
  concurrency: option(int(1, 64), 4, 'API calls in flight.'),
  target: option(
    z.string().min(1),
    'emulator',
    '`emulator` starts one in this process; otherwise the base URL of every API (use the *Endpoint flags to split).',
  ),
  ...endpointOptions(),
  budget: option(
    int(0),
    0,
    'Most API calls allowed against a real API (0 = no limit for an emulator, refused otherwise).',
  ),
  emulatorWorkers: option(int(0, 64), 2, 'Inference worker threads of the in-process emulator.'),
  maxInputPixels: option(num(1), 40_000_000, 'Largest image decoded.'),
};

/** `--<provider>-endpoint` per provider with a client: its origin when it differs from --target. */
function endpointOptions(): Record<string, OptionSpec<string>> {
  return Object.fromEntries(
    providerDescriptors
      .filter((d) => d.client)
      .map((d) => [d.endpointOption, option(z.string(), '', `${d.name} origin (default: target).`)]),
  );
}

export type CollectConfig = Omit<ReturnType<typeof loadOptions<typeof collectOptions>>, 'help'>;

export interface CollectSummary {
  images: number;
  skipped: number;
  calls: number;
  failedCalls: number;
  seconds: number;
  interrupted: boolean;
}

/** A signal the caller flips to stop taking new images (SIGINT). */
export interface StopSignal {
  stopped: boolean;
}

/** Limits work in flight to `width` (a counting semaphore). */
function semaphore(width: number) {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <T>(work: () => Promise<T>): Promise<T> => {
    if (active >= width) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await work();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

/** Collect with an explicit client; the testable core of the command. */
export async function collect(
  config: CollectConfig,
  client: ApiClient,
  stop: StopSignal = { stopped: false },
  progress: (line: string) => void = () => {},
): Promise<CollectSummary> {
  const started = Date.now();
  await mkdir(config.out, { recursive: true });
  const keys = config.apis;
  const done = new Map<string, Set<string>>();
  for (const key of keys) {
    const records = await readRecords(join(config.out, recordFileName(key)));
    done.set(key, new Set(records.map((r) => r.image)));
  }
  let images = listImages(config.images).filter((i) => config.split === 'all' || i.split === config.split);
  // Validation first: evaluation needs it whole before training needs everything.
  images = [...images.filter((i) => i.split === 'validation'), ...images.filter((i) => i.split === 'train')];
  if (config.limit > 0) images = images.slice(0, config.limit);
  const todo = images.filter((i) => keys.some((k) => !done.get(k)!.has(i.name)));
  const skipped = images.length - todo.length;
  const limits = { maxInputPixels: config.maxInputPixels };
  const callSlot = semaphore(config.concurrency);
  // Images in flight: enough to keep the call slots busy, few enough that an interrupt finishes quickly.
  const imageWidth = Math.max(1, Math.ceil(config.concurrency / 2));
  let calls = 0;
  let failedCalls = 0;
  let finished = 0;
  let next = 0;

  const one = async (item: { name: string; split: Split }) => {
    const bytes = await readFile(join(config.images, item.name));
    const image = await inspectImage(bytes, limits);
    const features = featuresOf(image);
    const encoded = await Promise.all(paperActions.map((a) => encodeJpeg(image, a, limits)));
    for (const key of keys) {
      if (done.get(key)!.has(item.name)) continue;
      const outcomes = await Promise.all(
        paperActions.map((action, i) =>
          callSlot(async () => {
            const sent = encoded[i]!;
            const body = sent.bytes;
            calls++;
            const result = await client
              .call(key, { original: image, ...sent })
              .catch(() => ({ status: 0, answer: null }));
            if (result.answer === null) failedCalls++;
            return { quality: action.quality, bytes: body.length, status: result.status, answer: result.answer };
          }),
        ),
      );
      const record: CollectedRecord = {
        v: COLLECT_SCHEMA_VERSION,
        key,
        image: item.name,
        split: item.split,
        original: {
          bytes: bytes.length,
          width: image.width,
          height: image.height,
          format: image.format,
          ...(image.sourceQuality === undefined ? {} : { sourceQuality: image.sourceQuality }),
        },
        header: featureHeaderOf(image),
        features: { version: FEATURE_VERSION, values: Array.from(features) },
        outcomes,
      };
      // One line per image and API, written whole: an interrupt never leaves half an image behind.
      await appendFile(join(config.out, recordFileName(key)), `${JSON.stringify(record)}\n`);
    }
    finished++;
    const elapsed = (Date.now() - started) / 1000;
    const rate = finished / elapsed;
    const left = todo.length - finished;
    progress(
      `collect: ${finished}/${todo.length} images (${skipped} done before), ${calls} calls, ${failedCalls} failed, ` +
        `${rate.toFixed(2)} img/s, ~${Math.round(left / Math.max(rate, 1e-9))} s left`,
    );
  };

  await Promise.all(
    Array.from({ length: imageWidth }, async () => {
      while (!stop.stopped && next < todo.length) await one(todo[next++]!);
    }),
  );
  return {
    images: finished,
    skipped,
    calls,
    failedCalls,
    seconds: (Date.now() - started) / 1000,
    interrupted: stop.stopped && next < todo.length,
  };
}

export async function run(argv: string[]): Promise<void> {
  const summary = 'Send every image at every action to APIs; store answers (JSONL).';
  const config = commandOptions('collect', summary, collectOptions, argv, process.env, ENV_PREFIX);
  if (!config) return;
  const env = process.env;
  const useEmulator = config.target === 'emulator';
  let closeEmulator = async () => {};
  let base = config.target;
  if (useEmulator) {
    const { startEmulator } = await import('../emulator/main.ts');
    const emulator = await startEmulator({ workers: config.emulatorWorkers, queue: 1000, concurrency: 8 });
    base = emulator.url;
    closeEmulator = () => emulator.close();
  }
  const images = listImages(config.images).filter((i) => config.split === 'all' || i.split === config.split);
  const count = config.limit > 0 ? Math.min(config.limit, images.length) : images.length;
  const calls = count * paperActions.length * config.apis.length;
  const price = config.apis.reduce(
    (sum, key) => sum + (count * paperActions.length * (PRICE_PER_1000[splitKey(key).provider] ?? 1)) / 1000,
    0,
  );
  console.log(
    `collect: ${count} images x ${paperActions.length} actions x ${config.apis.length} APIs = ${calls} calls` +
      (useEmulator ? ' (in-process emulator, free)' : `, list price about $${price.toFixed(2)} before free tiers`),
  );
  if (!useEmulator && (config.budget === 0 || calls > config.budget)) {
    throw new Error(`${calls} calls exceed the budget (${config.budget}); raise --budget or ${ENV_PREFIX}BUDGET`);
  }
  const settings = config as unknown as Record<string, string>;
  const endpoints = Object.fromEntries(providerDescriptors.map((d) => [d.name, settings[d.endpointOption] || base]));
  const client = createApiClient(endpoints, useEmulator ? emulatorCredentials : credentialsFromEnv(env));
  const stop: StopSignal = { stopped: false };
  const onInterrupt = () => {
    if (stop.stopped) process.exit(130);
    stop.stopped = true;
    process.stderr.write('\ncollect: interrupted, finishing the images in flight (Ctrl-C again to quit now)\n');
  };
  process.on('SIGINT', onInterrupt);
  const tty = process.stderr.isTTY;
  let lastPrint = 0;
  try {
    const summary = await collect(config, client, stop, (line) => {
      if (tty) process.stderr.write(`\r${line}`);
      else if (Date.now() - lastPrint > 10_000) {
        lastPrint = Date.now();
        process.stderr.write(`${line}\n`);
      }
    });
    if (tty) process.stderr.write('\n');
    console.log(
      `collect: ${summary.images} images in ${summary.seconds.toFixed(1)} s, ${summary.calls} calls ` +
        `(${summary.failedCalls} without an answer), ${summary.skipped} already collected` +
        (summary.interrupted ? '; interrupted, run again to resume' : ''),
    );
  } finally {
    process.off('SIGINT', onInterrupt);
    await client.close();
    await closeEmulator();
  }
}
