/**
 * `adacompress collect`: full-information data. Every image of a folder is swept over the joint grid of actions
 * (longest side x JPEG quality, `gridActions`) and sent to every chosen API operation (an emulator, or a real API
 * within a call budget), through the provider code the proxy uses; the normalised answers (in the original image's
 * pixels), bytes and the policy features go to one JSONL file per API (data.ts).
 *
 * Affordable: each grid action is first fitted to the operation's limits and the image (candidatesFor, as the proxy
 * fits its decisions), and only the DISTINCT uploads are encoded and sent: on a 500-px photo every side from 512 up
 * sends the stored size, so the 72 grid actions are 27 calls. Each encoding is made once per image and shared by the
 * APIs that send it.
 *
 * Resumable: an image's line is appended only when all its actions are answered, and images already in the file (by
 * content hash: a second folder into the same --out adds its images, a changed file is collected again) are skipped.
 * An image that cannot be read or decoded is skipped and listed, never sent. Safe to interrupt: SIGINT stops new
 * images, lets the in-flight ones finish and write, then exits.
 */
import { appendFile, mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { encodeJpeg } from '../codec/encode.ts';
import { inspectImage } from '../codec/inspect.ts';
import type { EncodeAction, EncodeResult } from '../codec/types.ts';
import { commandOptions, int, type loadOptions, num, type OptionSpec, option } from '../config/options.ts';
import { actionKey, candidatesFor, effectiveAction, gridActions } from '../policy/actions.ts';
import { FEATURE_VERSION, featureHeaderOf, featuresOf } from '../policy/features.ts';
import { createProgress, type Progress } from '../progress.ts';
import { providerDescriptors } from '../providers/registry.ts';
import type { ImageLimits } from '../providers/types.ts';
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
  contentHash,
  defaultCollectDir,
  defaultImagenetDir,
  listImages,
  readRecords,
  recordFileName,
  type SentOutcome,
  type Split,
} from './data.ts';
import { limitsOf } from './dataset.ts';

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
  /** Files that could not be read or decoded (truncated, not an image, not a regular file): skipped, never sent. */
  unreadable: { image: string; reason: string }[];
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

/** What collect reports as it goes: one tick per image finished (collected, already done, or unreadable). */
export interface CollectProgress {
  start(total: number): void;
  tick(note: string): void;
}

const silent: CollectProgress = { start() {}, tick() {} };

/**
 * Which images of a key are collected already: by content hash; records older than hashes by name, and only while
 * the file still has the size it had then (the best an old record can say about a changed file). Records of an older
 * schema (version 1: qualities at the stored size only) are not done: they lack the grid, so the image is collected
 * again and its new line replaces the old one.
 */
function doneIndex(records: readonly CollectedRecord[]) {
  const hashes = new Set<string>();
  const legacy = new Map<string, number>();
  for (const r of records) {
    if (r.v !== COLLECT_SCHEMA_VERSION) continue;
    if (r.hash) hashes.add(r.hash);
    else legacy.set(r.image, r.original.bytes);
  }
  return (hash: string, name: string, size: number) => hashes.has(hash) || legacy.get(name) === size;
}

/** What sweeping the grid over one image under an API's limits sends: the distinct uploads, and which each action sends. */
export interface Sweep {
  limits: ImageLimits;
  uploads: EncodeAction[];
  /** Per grid action, the index of its upload (-1 when the image cannot be sent at all). */
  sentBy: number[];
}

export function sweepOf(image: { width: number; height: number }, limits: ImageLimits): Sweep {
  const candidates = candidatesFor(gridActions, image, limits, undefined);
  const uploads = candidates.map((c) => c.action);
  const position = new Map(uploads.map((a, i) => [actionKey(a), i]));
  const sentBy = gridActions.map((action) => {
    const sent = candidates.length > 0 ? effectiveAction(action, image, limits) : undefined;
    return sent ? (position.get(actionKey(sent)) ?? -1) : -1;
  });
  return { limits, uploads, sentBy };
}

const reasonOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** Collect with an explicit client; the testable core of the command. */
export async function collect(
  config: CollectConfig,
  client: ApiClient,
  stop: StopSignal = { stopped: false },
  progress: CollectProgress = silent,
): Promise<CollectSummary> {
  const started = Date.now();
  await mkdir(config.out, { recursive: true });
  const keys = config.apis;
  const isDone = new Map<string, ReturnType<typeof doneIndex>>();
  for (const key of keys) isDone.set(key, doneIndex(await readRecords(join(config.out, recordFileName(key)))));
  let images = listImages(config.images).filter((i) => config.split === 'all' || i.split === config.split);
  // Validation first: evaluation needs it whole before training needs everything.
  images = [...images.filter((i) => i.split === 'validation'), ...images.filter((i) => i.split === 'train')];
  if (config.limit > 0) images = images.slice(0, config.limit);
  const codecLimits = { maxInputPixels: config.maxInputPixels };
  const callSlot = semaphore(config.concurrency);
  // Images in flight: enough to keep the call slots busy, few enough that an interrupt finishes quickly.
  const imageWidth = Math.max(1, Math.ceil(config.concurrency / 2));
  const unreadable: CollectSummary['unreadable'] = [];
  let calls = 0;
  let failedCalls = 0;
  let finished = 0;
  let skipped = 0;
  let next = 0;
  progress.start(images.length);

  /** The image's header; undefined (and listed) when it is unreadable. */
  const inspect = async (name: string, bytes: Buffer) => {
    try {
      return await inspectImage(bytes, codecLimits);
    } catch (error) {
      unreadable.push({ image: name, reason: reasonOf(error) });
      return undefined;
    }
  };

  const one = async (item: { name: string; split: Split }) => {
    const path = join(config.images, item.name);
    let bytes: Buffer;
    try {
      // Regular files only: reading a FIFO named x.jpg would wait forever.
      if (!(await stat(path)).isFile()) throw new Error('not a regular file');
      bytes = await readFile(path);
    } catch (error) {
      unreadable.push({ image: item.name, reason: reasonOf(error) });
      return `${item.name}: unreadable`;
    }
    const hash = contentHash(bytes);
    const todo = keys.filter((k) => !isDone.get(k)!(hash, item.name, bytes.length));
    if (todo.length === 0) {
      skipped++;
      return `${item.name}: done before`;
    }
    const image = await inspect(item.name, bytes);
    if (!image) return `${item.name}: unreadable`;
    // Every distinct upload of every API to do, encoded once before anything is sent: an image whose pixels do not
    // decode (truncated data behind a good header) is skipped whole, nothing of it sent.
    const sweeps = new Map(todo.map((key) => [key, sweepOf(image, limitsOf(key))]));
    const encodings = new Map<string, EncodeResult>();
    try {
      const distinct = new Map<string, EncodeAction>();
      for (const sweep of sweeps.values()) for (const a of sweep.uploads) distinct.set(actionKey(a), a);
      const results = await Promise.all([...distinct.values()].map((a) => encodeJpeg(image, a, codecLimits)));
      for (const [i, k] of [...distinct.keys()].entries()) encodings.set(k, results[i]!);
    } catch (error) {
      unreadable.push({ image: item.name, reason: reasonOf(error) });
      return `${item.name}: unreadable`;
    }
    const features = featuresOf(image);
    const records: CollectedRecord[] = [];
    for (const key of todo) {
      const sweep = sweeps.get(key)!;
      const send = (upload: EncodeResult) =>
        callSlot(async () => {
          calls++;
          const result = await client
            .call(key, { original: image, ...upload })
            .catch(() => ({ status: 0, answer: null }));
          if (result.answer === null) failedCalls++;
          return { width: upload.width, height: upload.height, bytes: upload.bytes.length, ...result };
        });
      // The sweep, and beside it the client's file as it is (one call more): the answer a client gets without the proxy.
      const [sent, asIs] = await Promise.all([
        Promise.all(
          sweep.uploads.map(
            async (action): Promise<SentOutcome> => ({ action, ...(await send(encodings.get(actionKey(action))!)) }),
          ),
        ),
        sweep.uploads.length === 0 ? undefined : send({ bytes, width: image.width, height: image.height }),
      ]);
      records.push({
        v: COLLECT_SCHEMA_VERSION,
        key,
        image: item.name,
        hash,
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
        limits: sweep.limits,
        grid: gridActions.map((a) => ({ ...a })),
        sentBy: sweep.sentBy,
        sent,
        ...(asIs ? { asIs } : {}),
        ...(sweep.uploads.length === 0
          ? { unsendable: `under the API's minimum side (${sweep.limits.minSide} px)` }
          : {}),
      });
    }
    // One line per image and API, written whole: an interrupt never leaves half an image behind.
    for (const record of records) {
      await appendFile(join(config.out, recordFileName(record.key)), `${JSON.stringify(record)}\n`);
    }
    finished++;
    return `${item.name}, ${calls} calls, ${failedCalls} failed`;
  };

  // A worker that fails (a write error) stops the others before the error goes up: none keeps sending meanwhile.
  const results = await Promise.allSettled(
    Array.from({ length: imageWidth }, async () => {
      try {
        while (!stop.stopped && next < images.length) progress.tick(await one(images[next++]!));
      } catch (error) {
        stop.stopped = true;
        throw error;
      }
    }),
  );
  const failure = results.find((r) => r.status === 'rejected');
  if (failure) throw (failure as PromiseRejectedResult).reason;
  return {
    images: finished,
    skipped,
    unreadable,
    calls,
    failedCalls,
    seconds: (Date.now() - started) / 1000,
    interrupted: stop.stopped && next < images.length,
  };
}

/** The calls a collect would make (before skipping what is done): every image's distinct uploads per API, from headers. */
export async function plannedCalls(config: CollectConfig) {
  let images = listImages(config.images).filter((i) => config.split === 'all' || i.split === config.split);
  if (config.limit > 0) images = images.slice(0, config.limit);
  const perKey: Record<string, number> = Object.fromEntries(config.apis.map((k) => [k, 0]));
  const limits = new Map(config.apis.map((k) => [k, limitsOf(k)]));
  for (const { name } of images) {
    let image: { width: number; height: number };
    try {
      image = await inspectImage(await readFile(join(config.images, name)), { maxInputPixels: config.maxInputPixels });
    } catch {
      continue; // unreadable: collect lists it and sends nothing
    }
    for (const key of config.apis) {
      const uploads = sweepOf(image, limits.get(key)!).uploads.length;
      perKey[key]! += uploads > 0 ? uploads + 1 : 0; // + the file as it is
    }
  }
  return { images: images.length, perKey, calls: Object.values(perKey).reduce((a, b) => a + b, 0) };
}

export async function run(argv: string[]): Promise<void> {
  const summary = 'Sweep every image over the (side x quality) grid to APIs; store answers (JSONL).';
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
  const plan = await plannedCalls(config);
  const price = Object.entries(plan.perKey).reduce(
    (sum, [key, n]) => sum + (n * (PRICE_PER_1000[splitKey(key).provider] ?? 1)) / 1000,
    0,
  );
  const calls = plan.calls;
  const perImage = plan.images > 0 ? calls / (plan.images * config.apis.length) : 0;
  console.log(
    `collect: ${plan.images} images x ${config.apis.length} APIs, grid of ${gridActions.length} actions fitted to each API's limits: ` +
      `at most ${calls} calls (${perImage.toFixed(1)} per image and API; images collected before are skipped)` +
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
  let bar: Progress | undefined;
  try {
    const summary = await collect(config, client, stop, {
      start: (total) => {
        bar = createProgress('collect', total, { unit: 'img' });
      },
      tick: (note) => bar?.tick(1, note),
    });
    bar?.done();
    bar = undefined;
    console.log(
      `collect: ${summary.images} images in ${summary.seconds.toFixed(1)} s, ${summary.calls} calls ` +
        `(${summary.failedCalls} without an answer), ${summary.skipped} already collected` +
        (summary.unreadable.length > 0 ? `, ${summary.unreadable.length} unreadable (skipped)` : '') +
        (summary.interrupted ? '; interrupted, run again to resume' : ''),
    );
    for (const { image, reason } of summary.unreadable) console.log(`collect: skipped ${image}: ${reason}`);
  } finally {
    bar?.done('stopped');
    process.off('SIGINT', onInterrupt);
    await client.close();
    await closeEmulator();
  }
}
