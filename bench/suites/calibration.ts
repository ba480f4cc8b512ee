import { readdirSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { encodeJpeg } from '../../src/codec/encode.ts';
import { inspectImage } from '../../src/codec/inspect.ts';
import type { InspectedImage } from '../../src/codec/types.ts';
import { startEmulator } from '../../src/emulator/main.ts';
import { rewardSpec } from '../../src/feedback/reward-spec.ts';
import { candidatesFor, gridActions } from '../../src/policy/actions.ts';
import { seededRng } from '../../src/policy/rng.ts';
import { findOperation } from '../../src/providers/registry.ts';
import { type CallResult, createApiClient, emulatorCredentials } from '../../src/trainer/api-client.ts';
import { facesDir, imagenetDir, readPhoto, validationPhotos } from '../../testkit/shared-data.ts';
import { metricSum, repoRoot, spawnProxy } from '../lib/processes.ts';
import { atLeast, atMost, type BenchReport } from '../lib/report.ts';
import { fmt } from '../lib/stats.ts';

/**
 * Calibration on a backend the shipped policy was never trained on: the emulator's operation is bound to another model
 * (or another working resolution), the proxy runs its shipped policies with calibration on, and photos stream through
 * it with the real request path, references and all. Per 50 requests: agreement of what the client got with the
 * reference answer (the photo at q75, stored size, as the proxy's references), bytes sent, references paid. Offline,
 * on the same photos and backend, every fixed (resolution, quality) action of a coarse grid: the best fixed action
 * at the target is the yardstick for the calibrated bytes. Offline tables are cached in .data/bench (deterministic).
 * ADACOMPRESS_BENCH_CALIBRATION=<part of a key> runs one scenario; ADACOMPRESS_BENCH_REQUESTS=<n> shortens the stream.
 */

interface Scenario {
  name: string;
  key: string;
  /** Emulator bindings that make the backend one the shipped policy never saw. */
  emulator: Record<string, string>;
  photos: () => string[];
  requests: number;
}

const SCENARIOS: Scenario[] = [
  {
    name: 'Baidu labels on MobileNetV3-Small (policy trained on MobileNetV2)',
    key: 'baidu/image-classify/v2/advanced_general',
    emulator: { baiduAdvancedGeneral: 'mobilenet-v3-small' },
    photos: validationPhotos,
    requests: 3000,
  },
  {
    name: 'Baidu faces on YuNet at 2048 px (policy trained at 1920x1080)',
    key: 'baidu/face/v3/detect',
    emulator: { baiduFaceDetect: 'yunet@2048' },
    photos: () =>
      readdirSync(facesDir)
        .filter((n) => /\.(jpe?g|png)$/i.test(n))
        .sort()
        .map((n) => path.join(facesDir, n)),
    requests: 1500,
  },
];

const TARGET = 0.97;
const BATCH = 50;
const QUALITIES_SWEPT = [15, 25, 35, 45, 55, 65, 75, 85];

export async function run(): Promise<BenchReport> {
  const rows: string[][] = [];
  const targets: BenchReport['targets'] = [];
  const notes: string[] = [];
  const only = process.env.ADACOMPRESS_BENCH_CALIBRATION;
  for (const scenario of SCENARIOS.filter((s) => !only || s.key.includes(only))) {
    const result = await runScenario(scenario);
    rows.push(...result.rows);
    targets.push(...result.targets);
    notes.push(...result.notes);
  }
  return {
    title: 'Calibration on a backend the shipped policy was never trained on (emulator, real request path)',
    columns: ['scenario', 'requests', 'agreement', 'KiB sent', 'references', 'operating point'],
    rows,
    targets,
    notes,
  };
}

async function runScenario(scenario: Scenario) {
  const { operation } = findOperation(scenario.key)!;
  const spec = rewardSpec(operation.kind);
  const emulator = await startEmulator({ port: 0, logLevel: 'warn', workers: 2, ...scenario.emulator });
  const images: InspectedImage[] = [];
  for (const file of scenario.photos()) {
    try {
      images.push(await inspectImage(readPhoto(file), { maxInputPixels: 100_000_000 }));
    } catch {
      // unreadable photos are not part of the stream
    }
  }
  const direct = createApiClient(endpointsFor(emulator.url), emulatorCredentials);
  try {
    const offline = await offlineTable(scenario, images, direct);
    const best = offline.fixed.filter((f) => f.agreement >= TARGET).sort((a, b) => a.bytes - b.bytes)[0];
    const proxy = await spawnProxy({
      ADACOMPRESS_REKOGNITION_ENDPOINT: emulator.url,
      ADACOMPRESS_FACEPP_ENDPOINT: emulator.url,
      ADACOMPRESS_BAIDU_ENDPOINT: emulator.url,
      ADACOMPRESS_REFERENCE_PROBABILITY: '0.03',
      ADACOMPRESS_REFERENCE_BUDGET_PER_MINUTE: '100000',
      ADACOMPRESS_TARGET_AGREEMENT: String(TARGET),
    });
    const client = createApiClient(endpointsFor(proxy.url), emulatorCredentials);
    const rng = seededRng(7);
    const batches: { agreement: number; bytes: number; references: number; point: string }[] = [];
    try {
      let agreed = 0;
      let sent = 0;
      let refs = await metricSum(proxy.adminUrl!, 'adacompress_reference_uploads_total');
      let bytesOut = await metricSum(proxy.adminUrl!, 'adacompress_image_bytes_out_total');
      const requests = Number(process.env.ADACOMPRESS_BENCH_REQUESTS) || scenario.requests;
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
        agreed += reference ? spec.agreement(reference, answer.answer ?? undefined) : 0;
        sent++;
        if (sent === BATCH) {
          const refsNow = await metricSum(proxy.adminUrl!, 'adacompress_reference_uploads_total');
          const bytesNow = await metricSum(proxy.adminUrl!, 'adacompress_image_bytes_out_total');
          const calibration = (await (await fetch(`${proxy.adminUrl}/status.json`)).json()) as {
            calibration: Record<string, { point: { floor: number | null; level: number } }>;
          };
          const point = calibration.calibration[scenario.key]?.point;
          batches.push({
            agreement: agreed / BATCH,
            bytes: (bytesNow - bytesOut) / BATCH,
            references: refsNow - refs,
            point: point ? `${point.floor ?? 'stored'}px/L${point.level}` : '-',
          });
          refs = refsNow;
          bytesOut = bytesNow;
          agreed = 0;
          sent = 0;
        }
      }
    } finally {
      await client.close();
      await proxy.stop();
    }
    return summarise(scenario, batches, best, offline.original);
  } finally {
    await direct.close();
    await emulator.close();
  }
}

const endpointsFor = (url: string) => ({ rekognition: url, facepp: url, baidu: url });

interface FixedRow {
  side: number | null;
  quality: number;
  agreement: number;
  bytes: number;
}

/**
 * Every photo's reference answer (q75 at its stored size) and every fixed action of the coarse grid, on this backend.
 * Cached: the emulator is deterministic, so the table depends only on the scenario and the photos.
 */
async function offlineTable(scenario: Scenario, images: InspectedImage[], client: ReturnType<typeof createApiClient>) {
  const cacheDir = path.join(repoRoot, '.data', 'bench');
  const cacheFile = path.join(
    cacheDir,
    `calibration-${scenario.key.replace(/\W+/g, '-')}-${Object.values(scenario.emulator).join('-').replace(/\W+/g, '-')}-${images.length}.json`,
  );
  try {
    return JSON.parse(await readFile(cacheFile, 'utf8')) as Awaited<ReturnType<typeof computeOffline>>;
  } catch {
    const table = await computeOffline(scenario, images, client);
    await mkdir(cacheDir, { recursive: true });
    await writeFile(cacheFile, JSON.stringify(table));
    return table;
  }
}

async function computeOffline(
  scenario: Scenario,
  images: InspectedImage[],
  client: ReturnType<typeof createApiClient>,
) {
  const { operation } = findOperation(scenario.key)!;
  const spec = rewardSpec(operation.kind);
  const limits = { maxInputPixels: 100_000_000 };
  const grid = gridActions.filter((a) => QUALITIES_SWEPT.includes(a.quality));
  const call = async (image: InspectedImage, action: { quality: number; maxSide?: number }): Promise<CallResult> =>
    client.call(scenario.key, { original: image, ...(await encodeJpeg(image, action, limits)) });
  const references = [];
  const totals = new Map<string, { side: number | null; quality: number; agreement: number; bytes: number }>();
  let originalBytes = 0;
  for (const image of images) {
    originalBytes += image.bytes.length;
    const reference = (await call(image, { quality: 75 })).answer ?? undefined;
    references.push(reference ?? null);
    const candidates = candidatesFor(grid, image, operation.limits, undefined);
    const byKey = new Map<string, { agreement: number; bytes: number }>();
    for (const candidate of candidates) {
      const sent = await encodeJpeg(image, candidate.action, limits);
      const answer = await client.call(scenario.key, { original: image, ...sent });
      const agreement = reference ? spec.agreement(reference, answer.answer ?? undefined) : 0;
      byKey.set(`${candidate.action.quality}@${candidate.action.maxSide ?? 'full'}`, {
        agreement,
        bytes: sent.bytes.length,
      });
    }
    for (const action of grid) {
      const sent = candidatesFor([action], image, operation.limits, undefined)[0]?.action ?? {
        quality: action.quality,
      };
      const measured = byKey.get(`${sent.quality}@${sent.maxSide ?? 'full'}`);
      if (!measured) continue;
      const id = `${action.quality}@${action.maxSide ?? 'full'}`;
      const total = totals.get(id) ?? { side: action.maxSide ?? null, quality: action.quality, agreement: 0, bytes: 0 };
      total.agreement += measured.agreement / images.length;
      total.bytes += measured.bytes / images.length;
      totals.set(id, total);
    }
  }
  return { references, fixed: [...totals.values()] as FixedRow[], original: originalBytes / images.length };
}

function summarise(
  scenario: Scenario,
  batches: { agreement: number; bytes: number; references: number; point: string }[],
  best: FixedRow | undefined,
  originalBytes: number,
) {
  const rows = batches.map((b, i) => [
    i === 0 ? scenario.name : '',
    String((i + 1) * BATCH),
    fmt(b.agreement, 3),
    fmt(b.bytes / 1024, 1),
    String(b.references),
    b.point,
  ]);
  // Holding the target: from some batch on, the mean agreement of every 100-request window stays at or above it.
  let holdsFrom = batches.length;
  for (let i = batches.length - 1; i >= 1; i--) {
    if ((batches[i]!.agreement + batches[i - 1]!.agreement) / 2 >= TARGET) holdsFrom = i - 1;
    else break;
  }
  const referencesUntil = batches.slice(0, holdsFrom + 1).reduce((s, b) => s + b.references, 0);
  const minimumWhileCalibrating = Math.min(...batches.slice(0, holdsFrom + 1).map((b) => b.agreement));
  const tail = batches.slice(-10);
  const finalBytes = tail.reduce((s, b) => s + b.bytes, 0) / tail.length;
  const steadyReferences = tail.reduce((s, b) => s + b.references, 0) / (tail.length * BATCH);
  const targets = [
    atMost(`${scenario.key}: references until agreement holds ${TARGET}`, referencesUntil, 300, ''),
    atLeast(`${scenario.key}: worst 50-request agreement while calibrating`, minimumWhileCalibrating, 0.95, ''),
    ...(best ? [atMost(`${scenario.key}: final bytes / best fixed action`, finalBytes / best.bytes, 1.1, 'x')] : []),
    atMost(`${scenario.key}: references in steady state`, 100 * steadyReferences, 5, '%'),
  ];
  const notes = [
    `${scenario.name}: agreement holds ${TARGET} from request ${(holdsFrom + 1) * BATCH} (after ${referencesUntil} references); final ${fmt(finalBytes / 1024, 1)} KiB per image (originals ${fmt(originalBytes / 1024, 1)} KiB); best fixed action offline at ${TARGET}: ${best ? `q${best.quality} at ${best.side ?? 'stored'} px, ${fmt(best.bytes / 1024, 1)} KiB (agreement ${fmt(best.agreement, 3)})` : 'none reaches it'}; steady-state references ${fmt(100 * steadyReferences, 1)}%.`,
  ];
  return { rows, targets, notes };
}
