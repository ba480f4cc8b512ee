import { readdirSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Answer } from '../../src/answer.ts';
import { encodeJpeg } from '../../src/codec/encode.ts';
import { inspectImage } from '../../src/codec/inspect.ts';
import type { EncodeAction, InspectedImage } from '../../src/codec/types.ts';
import { startEmulator } from '../../src/emulator/main.ts';
import { type CalibrationSnapshot, wilson } from '../../src/feedback/calibration.ts';
import {
  DEFAULT_REFERENCE_KIND,
  type ReferenceKind,
  referenceKindOf,
  rewardSpec,
} from '../../src/feedback/reward-spec.ts';
import { candidatesFor } from '../../src/policy/actions.ts';
import { seededRng } from '../../src/policy/rng.ts';
import { findOperation } from '../../src/providers/registry.ts';
import type { TaskKind } from '../../src/providers/types.ts';
import { type ApiClient, createApiClient, emulatorCredentials } from '../../src/trainer/api-client.ts';
import { readPhoto } from '../../testkit/shared-data.ts';
import { repoRoot, spawnProxy, sumOf } from './processes.ts';
import { fmt } from './stats.ts';

/**
 * Photos streamed through the proxy (its shipped policies, calibration on) to an emulated backend, with the real
 * request path, references and all; and, offline on the same photos and backend, a sweep of fixed actions against the
 * reference answer (the proxy's reference, `benchReferenceKind`). Offline tables are cached in .data/bench:
 * the emulator is deterministic, so they depend only on the backend binding, the photos and the actions.
 */

export interface Scenario {
  name: string;
  key: string;
  /** Emulator options for the backend (e.g. a binding the shipped policy never saw). */
  emulator: Record<string, string>;
  photos: () => string[];
  requests: number;
  /** The fixed actions swept offline. */
  grid: readonly EncodeAction[];
}

export const BATCH = 50;

export interface Batch {
  agreement: number;
  bytes: number;
  /** Paid uploads beyond the clients' own: references sent (a reused one costs no call) and probes. */
  references: number;
  /** Requests that got a reference answer, paid or reused (what a reference-labelled request is). */
  labelled: number;
  point: string;
}

/** A trace as a report note's words. */
export const describeTrace = (trace: CalibrationTrace): string =>
  `moves ${trace.moves.join('; ') || 'none'}${trace.ladderFrom ? `; the model's levels gave way to the model-free ladder at request ${trace.ladderFrom}` : ''}; current ${trace.current}; last candidates (side, level): ${trace.candidates.join('; ') || 'none'}`;

/** How calibration got where it ended: its moves, and its last candidates with their evidence. */
export interface CalibrationTrace {
  moves: string[];
  /** The last current point with its own evidence. */
  current: string;
  candidates: string[];
  /** The batch end (in requests) by which the key's levels were the model-free ladder, if they became it. */
  ladderFrom?: number;
}

export interface FixedRow {
  side: number | null;
  quality: number;
  agreement: number;
  bytes: number;
}

export interface Offline {
  references: (Answer | null)[];
  fixed: FixedRow[];
  /** Mean bytes of the originals. */
  original: number;
}

export const photosIn = (dir: string, match: (name: string) => boolean = () => true): string[] =>
  readdirSync(dir)
    .filter((n) => /\.(jpe?g|png)$/i.test(n) && match(n))
    .sort()
    .map((n) => path.join(dir, n));

/**
 * Requests streamed for a scenario: its own count, or ADACOMPRESS_BENCH_REQUESTS (shorter for a quick look, longer to
 * see where a search settles: the steady state of a slow one lies beyond the default streams).
 */
export function streamLength(scenario: Pick<Scenario, 'requests'>): number {
  return Number(process.env.ADACOMPRESS_BENCH_REQUESTS) || scenario.requests;
}

/**
 * The offline table and the stream through the proxy, per 50 requests. `seed` draws the stream's photos: another seed
 * is another order of the same photos (the proxy's own draws, references and exploration, are unseeded anyway), so
 * several seeds show how much of one run is luck.
 */
export async function runScenario(
  scenario: Scenario,
  target: number,
  seed = 7,
): Promise<{ offline: Offline; batches: Batch[]; trace: CalibrationTrace }> {
  const { operation } = findOperation(scenario.key)!;
  const spec = rewardSpec(operation.kind);
  const emulator = await startEmulator({ port: 0, logLevel: 'warn', workers: 2, ...scenario.emulator });
  const images: InspectedImage[] = [];
  for (const file of scenario.photos()) {
    try {
      images.push(await inspectImage(readPhoto(file), { maxInputPixels: 100_000_000 }));
    } catch {
      // an unreadable photo is not part of the stream
    }
  }
  const direct = createApiClient(endpointsFor(emulator.url), emulatorCredentials);
  try {
    const offline = await offlineTable(scenario, images, direct);
    const proxy = await spawnProxy({
      ADACOMPRESS_REKOGNITION_ENDPOINT: emulator.url,
      ADACOMPRESS_FACEPP_ENDPOINT: emulator.url,
      ADACOMPRESS_BAIDU_ENDPOINT: emulator.url,
      ADACOMPRESS_REFERENCE_PROBABILITY: '0.03',
      ADACOMPRESS_REFERENCE_BUDGET_PER_MINUTE: '100000',
      ADACOMPRESS_TARGET_AGREEMENT: String(target),
    });
    const client = createApiClient(endpointsFor(proxy.url), emulatorCredentials);
    const rng = seededRng(seed);
    const batches: Batch[] = [];
    const trace: CalibrationTrace = { moves: [], current: '-', candidates: [] };
    // One read of the metrics page per batch: paid uploads, reference-labelled requests and bytes sent so far.
    const counters = async () => {
      const text = await (await fetch(`${proxy.adminUrl}/metrics`)).text();
      const uploads = (result = '') => sumOf(text, 'adacompress_reference_uploads_total', result);
      return {
        paid: uploads() - uploads('result="reused"'),
        labelled: uploads() - uploads('result="probe"'),
        bytes: sumOf(text, 'adacompress_image_bytes_out_total'),
      };
    };
    try {
      let agreed = 0;
      let judged = 0;
      let sent = 0;
      let before = await counters();
      const requests = streamLength(scenario);
      for (let i = 0; i < requests; i++) {
        const index = Math.floor(rng() * images.length);
        const image = images[index]!;
        const answer = await client.call(scenario.key, {
          original: image,
          bytes: image.bytes,
          width: image.width,
          height: image.height,
        });
        const reference = offline.references[index];
        // A photo whose reference the API itself refuses (too large for it as the client sent it: the proxy made it
        // fit) has nothing to agree with: it is not judged, as the proxy's own calibration does not judge it either.
        if (spec.usableReference(reference)) {
          agreed += spec.agreement(reference, answer.answer ?? undefined);
          judged++;
        }
        sent++;
        if (sent === BATCH) {
          const now = await counters();
          const status = (await (await fetch(`${proxy.adminUrl}/status.json`)).json()) as {
            calibration: Record<string, CalibrationSnapshot & { levels: string }>;
          };
          const calibration = status.calibration[scenario.key];
          const point = calibration?.point;
          if (calibration) {
            // Overwritten every batch: what is left is the last one's.
            const own = calibration.estimate;
            trace.current = `(${calibration.current.side}, ${calibration.current.level})${own ? `, ${own.samples.toFixed(1)} samples agreeing ${own.mean.toFixed(3)}` : ''}`;
            if (trace.ladderFrom === undefined && calibration.levels.includes(':model-free-')) {
              trace.ladderFrom = (batches.length + 1) * BATCH;
            }
            trace.candidates = calibration.candidates.map(
              (c) =>
                `(${c.side}, ${c.level}) ${c.verdict}, ${c.samples} samples${c.mean === null ? '' : ` agreeing ${c.mean.toFixed(3)}`}`,
            );
          }
          batches.push({
            agreement: judged > 0 ? agreed / judged : Number.NaN,
            bytes: (now.bytes - before.bytes) / BATCH,
            references: now.paid - before.paid,
            labelled: now.labelled - before.labelled,
            point: point
              ? `${point.floor ?? 'stored'}px${point.aboveWorkingSide ? ' above working side' : ''}/L${point.level}`
              : '-',
          });
          before = now;
          agreed = 0;
          judged = 0;
          sent = 0;
        }
      }
      for (const line of proxy.logLines()) {
        if (line.msg === 'calibration moved' && line.key === scenario.key) {
          const at = (p: { side: number; level: number }) => `(${p.side}, ${p.level})`;
          const from = line.from as { side: number; level: number };
          const to = line.to as { side: number; level: number };
          trace.moves.push(`${at(from)} -> ${at(to)} ${String(line.reason)}`);
        }
      }
    } finally {
      await client.close();
      await proxy.stop();
    }
    return { offline, batches, trace };
  } finally {
    await direct.close();
    await emulator.close();
  }
}

/**
 * The reference kind the spawned proxy uses for a key (it inherits ADACOMPRESS_REFERENCE_KIND): the offline table
 * judges by the same one, so that the stream and the yardstick mean the same agreement.
 */
export function benchReferenceKind(kind: TaskKind): ReferenceKind {
  const configured = process.env.ADACOMPRESS_REFERENCE_KIND;
  return referenceKindOf(kind, configured === 'q75' || configured === 'original' ? configured : DEFAULT_REFERENCE_KIND);
}

const endpointsFor = (url: string) => ({ rekognition: url, facepp: url, baidu: url });

async function offlineTable(scenario: Scenario, images: InspectedImage[], client: ApiClient): Promise<Offline> {
  const cacheDir = path.join(repoRoot, '.data', 'bench');
  const grid = scenario.grid.map((a) => `${a.quality}@${a.maxSide ?? 'full'}`).join(',');
  // `reference:v3`: the original where q75 would be larger (v1 sent q75 always, unlike the proxy); photos whose
  // reference the API refused are not judged (v1 and v2 counted them as disagreeing).
  const reference = benchReferenceKind(findOperation(scenario.key)!.operation.kind);
  const id = `${scenario.key}|${JSON.stringify(scenario.emulator)}|${images.map((i) => i.bytes.length).join(',')}|${grid}|reference:v3${reference === 'q75' ? '' : `:${reference}`}`;
  const digest = (await import('node:crypto')).createHash('sha256').update(id).digest('hex').slice(0, 16);
  const cacheFile = path.join(cacheDir, `offline-${scenario.key.replace(/\W+/g, '-')}-${digest}.json`);
  try {
    return JSON.parse(await readFile(cacheFile, 'utf8')) as Offline;
  } catch {
    const table = await computeOffline(scenario, images, client, reference);
    await mkdir(cacheDir, { recursive: true });
    await writeFile(cacheFile, JSON.stringify(table));
    return table;
  }
}

async function computeOffline(
  scenario: Scenario,
  images: InspectedImage[],
  client: ApiClient,
  referenceKind: ReferenceKind,
): Promise<Offline> {
  const { operation } = findOperation(scenario.key)!;
  const spec = rewardSpec(operation.kind);
  const limits = { maxInputPixels: 100_000_000 };
  const references: (Answer | null)[] = [];
  const totals = new Map<string, { row: FixedRow; sent: number; judged: number }>();
  let originalBytes = 0;
  for (const image of images) {
    originalBytes += image.bytes.length;
    // The proxy's own reference rule (feedback/loop.ts): q75 at the stored size, or the original when that q75 would be
    // larger (a client's low-quality JPEG) or when the key's reference kind is the original.
    const q75 = referenceKind === 'q75' ? await encodeJpeg(image, { quality: 75 }, limits) : undefined;
    const referenceUpload = q75 && q75.bytes.length < image.bytes.length ? q75 : image;
    const reference = (await client.call(scenario.key, { original: image, ...referenceUpload })).answer ?? undefined;
    references.push(reference ?? null);
    const measured = new Map<string, { agreement: number; bytes: number }>();
    for (const candidate of candidatesFor(scenario.grid, image, operation.limits, undefined)) {
      const encoded = await encodeJpeg(image, candidate.action, limits);
      const answer = await client.call(scenario.key, { original: image, ...encoded });
      const agreement = spec.usableReference(reference) ? spec.agreement(reference, answer.answer ?? undefined) : NaN;
      measured.set(keyOf(candidate.action), { agreement, bytes: encoded.bytes.length });
    }
    for (const action of scenario.grid) {
      const sent = candidatesFor([action], image, operation.limits, undefined)[0]?.action;
      const result = sent && measured.get(keyOf(sent));
      if (!result) continue;
      const id = keyOf(action);
      const total = totals.get(id) ?? {
        row: { side: action.maxSide ?? null, quality: action.quality, agreement: 0, bytes: 0 },
        sent: 0,
        judged: 0,
      };
      total.row.bytes += result.bytes;
      total.sent++;
      // Agreement over the photos whose reference the API answered (as in the stream above).
      if (!Number.isNaN(result.agreement)) {
        total.row.agreement += result.agreement;
        total.judged++;
      }
      totals.set(id, total);
    }
  }
  const fixed = [...totals.values()].map(({ row, sent, judged }) => ({
    ...row,
    agreement: judged > 0 ? row.agreement / judged : Number.NaN,
    bytes: row.bytes / sent,
  }));
  return { references, fixed, original: originalBytes / images.length };
}

const keyOf = (action: EncodeAction) => `${action.quality}@${action.maxSide ?? 'full'}`;

/** The cheapest fixed action reaching `target` (mean agreement), if any. */
export const bestFixed = (fixed: readonly FixedRow[], target: number): FixedRow | undefined =>
  fixed.filter((f) => f.agreement >= target).sort((a, b) => a.bytes - b.bytes)[0];

/**
 * What a bytes target leaves calibration to certify: the fixed action that agrees most among those costing at most
 * `ratio` times the yardstick's bytes (the cheaper of equals), if any.
 */
export const mostAgreeingWithin = (
  fixed: readonly FixedRow[],
  yardstick: FixedRow,
  ratio: number,
): FixedRow | undefined =>
  fixed
    .filter((f) => f.bytes <= yardstick.bytes * ratio && Number.isFinite(f.agreement))
    .sort((a, b) => b.agreement - a.agreement || a.bytes - b.bytes)[0];

/**
 * Samples of one point that a one-sided 95% test needs to show that a point truly agreeing `agreement` agrees at
 * least `target`, at even odds of passing: the least n at which the Wilson lower bound of that mean clears the target
 * (about z^2 a (1 - a) / (a - target)^2; for a point that never disagrees, z^2 t / (1 - t)). A floor for any test: one
 * that looks after every sample (as calibration's must) and passes such a point more often than half the time needs
 * more. Infinite when the point agrees no better than the target.
 */
export function samplesToShow(agreement: number, target: number): number {
  if (!(agreement > target)) return Number.POSITIVE_INFINITY;
  const shows = (n: number) => wilson(Math.min(1, agreement), n, 1.645).low >= target;
  let high = 1;
  while (!shows(high)) high *= 2;
  let low = high / 2;
  // The bound rises with n at a fixed mean: the least n that shows it lies in (low, high].
  while (high - low > 1) {
    const mid = Math.floor((low + high) / 2);
    if (shows(mid)) high = mid;
    else low = mid;
  }
  return high;
}

/**
 * What a bytes target leaves calibration to certify, from an offline table: the fixed action agreeing most among those
 * costing at most `ratio` times the yardstick's bytes (the best fixed action, or the best full-size quality), and the
 * cheapest fixed action at 0.98, 0.99 and 1.00, each with the samples of it that any valid test needs to show it
 * holds the target (`samplesToShow`). A point that cannot be shown to hold the target within the reference budget is
 * not one calibration can settle on.
 */
export function whatTheTargetsLeave(
  fixed: readonly FixedRow[],
  yardstick: FixedRow,
  limits: { ratio: number; target: number; references: number; yardstickName: string },
): string {
  const describe = (row: FixedRow) => {
    const samples = samplesToShow(row.agreement, limits.target);
    const shown = Number.isFinite(samples) ? `at least ${samples} samples` : 'no number of samples';
    return `q${row.quality} at ${row.side ?? 'stored'} px, ${fmt(row.bytes / yardstick.bytes)}x (agreement ${fmt(row.agreement, 3)}, ${shown})`;
  };
  const within = mostAgreeingWithin(fixed, yardstick, limits.ratio);
  const frontier = [0.98, 0.99, 1]
    .map((a) => bestFixed(fixed, a))
    .filter((row): row is FixedRow => row !== undefined)
    .map(describe);
  return (
    `within ${fmt(limits.ratio)}x the bytes of ${limits.yardstickName}, the fixed action agreeing most is ${within ? describe(within) : 'none'}; ` +
    `the cheapest at 0.98, 0.99 and 1.00: ${frontier.join('; ') || 'none'}. Samples: of that one point, for a one-sided 95% test ` +
    `to show it agrees at least ${limits.target} at even odds; the target allows ${limits.references} reference-labelled requests (three probes each) for the whole search.`
  );
}
