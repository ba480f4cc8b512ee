import path from 'node:path';
import { rewardSpec } from '../../src/feedback/reward-spec.ts';
import { findOperation } from '../../src/providers/registry.ts';
import { sharedData } from '../../testkit/shared-data.ts';
import { atLeast, type BenchReport } from '../lib/report.ts';
import { fmt, mean } from '../lib/stats.ts';
import {
  benchReferenceKind,
  bestFixed,
  describeTrace,
  photosIn,
  runScenario,
  type Scenario,
  streamLength,
  whatTheTargetsLeave,
} from '../lib/streaming.ts';

/**
 * Bytes on photos of realistic size (../shared/data/images/photos: 1-12 MP phone and camera photos, q88-95): per
 * emulated operation on its default backend, what the proxy sends once calibrated (the last 300 requests of a stream
 * through it, shipped policies, calibration on) against the client's originals and against the best fixed JPEG quality
 * at the stored size (offline, same photos and backend), at the target agreement with the proxy's reference.
 * ADACOMPRESS_BENCH_PHOTOS=<part of a key> runs one operation.
 */

const TARGET = 0.97;
/**
 * Requests per operation. "Once calibrated" needs the search to have ended: from the cautious q95 start each step
 * down needs ~100-200 samples of its candidates, and on these photos DetectLabels settled only after about 3000
 * requests (docs/BENCHMARKS.md, run AA; at 900 every label operation was still searching).
 */
const REQUESTS = 3600;
/** The limits: bytes at least 3x fewer than the best fixed quality at full size, inside its reference budget. */
const FEWER_LIMIT = 3;
const REFERENCE_LIMIT = 300;
const QUALITIES = [15, 25, 35, 45, 55, 65, 75, 85];
const FULL_SIZE = QUALITIES.map((quality) => ({ quality }));
/**
 * A coarse grid of smaller sides, swept offline only: it says what the 3x target leaves calibration to certify
 * (the yardstick stays the best quality at full size).
 */
const RESIZED = [1024, 768, 512, 384].flatMap((maxSide) => [25, 45, 65, 85].map((quality) => ({ quality, maxSide })));
const photosDir = path.join(sharedData, 'images', 'photos');
const all = () => photosIn(photosDir);
const people = () => photosIn(photosDir, (name) => name.startsWith('faces-group') || name.startsWith('street'));

/** The emulated operations with their working resolution as the emulator documents it (docs/EMULATOR.md). */
const OPERATIONS: (Scenario & { workingSide: number })[] = [
  { key: 'rekognition/DetectLabels', photos: all, workingSide: 352 },
  { key: 'baidu/image-classify/v2/advanced_general', photos: all, workingSide: 224 },
  { key: 'facepp/imagepp/beta/detectsceneandobject', photos: all, workingSide: 352 },
  { key: 'rekognition/DetectFaces', photos: people, workingSide: 1920 },
  { key: 'baidu/face/v3/detect', photos: people, workingSide: 1920 },
  { key: 'facepp/facepp/v3/detect', photos: people, workingSide: 2048 },
].map((o) => ({ ...o, name: o.key, emulator: {}, requests: REQUESTS, grid: [...FULL_SIZE, ...RESIZED] }));

/** What agreement is measured against, as the proxy's reference kind (ADACOMPRESS_REFERENCE_KIND) makes it. */
const referenceWords = () =>
  benchReferenceKind('labels') === 'original'
    ? "the client's original"
    : 'the photo at q75, stored size (the original where that q75 is larger: ADACOMPRESS_REFERENCE_KIND=q75)';

export async function run(): Promise<BenchReport> {
  const rows: string[][] = [];
  const targets: BenchReport['targets'] = [];
  const traces: string[] = [];
  const only = process.env.ADACOMPRESS_BENCH_PHOTOS;
  for (const scenario of OPERATIONS.filter((s) => !only || s.key.includes(only))) {
    const { offline, batches, trace } = await runScenario(scenario, TARGET);
    const tail = batches.slice(-6);
    traces.push(
      `${scenario.key}: ${describeTrace(trace)}; paid references and probes over the last 300 requests ${fmt((100 * tail.reduce((s, b) => s + b.references, 0)) / 300, 1)}%.`,
    );
    const agreement = mean(tail.map((b) => b.agreement));
    const bytes = mean(tail.map((b) => b.bytes));
    const best = bestFixed(
      offline.fixed.filter((row) => row.side === null),
      TARGET,
    );
    const fewer = best ? best.bytes / bytes : Number.NaN;
    rows.push([
      scenario.key,
      `${scenario.workingSide} px`,
      fmt(offline.original / 1024, 0),
      best ? `q${best.quality}: ${fmt(best.bytes / 1024, 0)} (${fmt(best.agreement, 3)})` : 'none reaches it',
      `${fmt(bytes / 1024, 1)} (${fmt(agreement, 3)})`,
      tail.at(-1)?.point ?? '-',
      best ? `${fmt(fewer, 1)}x` : '-',
      `${fmt(offline.original / bytes, 1)}x`,
    ]);
    if (scenario.workingSide <= 640 && best) {
      const leave = whatTheTargetsLeave(offline.fixed, best, {
        ratio: 1 / FEWER_LIMIT,
        target: TARGET,
        references: REFERENCE_LIMIT,
        yardstickName: 'the best fixed quality at full size',
      });
      const spec = rewardSpec(findOperation(scenario.key)!.operation.kind);
      const judged = offline.references.filter((r) => spec.usableReference(r)).length;
      traces.push(
        `${scenario.key}: ${leave} ${judged} photos judged: one photo is ${fmt(1 / judged, 3)} of agreement.`,
      );
      targets.push(
        atLeast(`${scenario.key}: fewer bytes than the best fixed quality at full size`, fewer, FEWER_LIMIT, 'x'),
      );
    }
    targets.push(atLeast(`${scenario.key}: agreement once calibrated`, agreement, TARGET, ''));
  }
  return {
    title: 'Realistic photos (1-12 MP): the calibrated proxy vs the originals and the best fixed quality at full size',
    columns: [
      'operation',
      'working res.',
      'original KiB',
      `best fixed q at full size, KiB (agreement)`,
      'proxy KiB (agreement)',
      'operating point',
      'fewer than best fixed',
      'fewer than original',
    ],
    rows,
    targets,
    notes: [
      ...traces,
      `${streamLength(OPERATIONS[0]!)} requests per operation, photos drawn at random from ../shared/data/images/photos (people photos for the face operations); proxy figures over the last 300 requests; agreement with the answer to ${referenceWords()}; the 3x target applies where the backend works at 640 px or less.`,
    ],
  };
}
