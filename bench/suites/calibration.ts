import { gridActions } from '../../src/policy/actions.ts';
import { facesDir, validationPhotos } from '../../testkit/shared-data.ts';
import { atLeast, atMost, type BenchReport } from '../lib/report.ts';
import { fmt, mean } from '../lib/stats.ts';
import {
  BATCH,
  type Batch,
  bestFixed,
  describeTrace,
  type FixedRow,
  photosIn,
  runScenario,
  type Scenario,
} from '../lib/streaming.ts';

/**
 * Calibration on a backend the shipped policy was never trained on: the emulator's operation is bound to another model
 * (or another working resolution), the proxy runs its shipped policies with calibration on, and photos stream through
 * it (bench/lib/streaming.ts). Per 50 requests: agreement of what the client got with the reference answer, bytes sent,
 * requests labelled by a reference (paid or reused), uploads paid beyond the clients' (references sent, probes), the
 * calibrated point. The best fixed (resolution, quality) action found offline on the same photos
 * and backend is the yardstick for the calibrated bytes.
 * ADACOMPRESS_BENCH_CALIBRATION=<part of a key> runs one scenario; ADACOMPRESS_BENCH_REQUESTS=<n> shortens the stream.
 */

const QUALITIES_SWEPT = [15, 25, 35, 45, 55, 65, 75, 85];
const GRID = gridActions.filter((a) => QUALITIES_SWEPT.includes(a.quality));

const SCENARIOS: Scenario[] = [
  {
    name: 'Baidu labels on MobileNetV3-Small (policy trained on MobileNetV2)',
    key: 'baidu/image-classify/v2/advanced_general',
    emulator: { baiduAdvancedGeneral: 'mobilenet-v3-small' },
    photos: validationPhotos,
    requests: 3000,
    grid: GRID,
  },
  {
    name: 'Baidu faces on YuNet at 2048 px (policy trained at 1920x1080)',
    key: 'baidu/face/v3/detect',
    emulator: { baiduFaceDetect: 'yunet@2048' },
    photos: () => photosIn(facesDir),
    requests: 1500,
    grid: GRID,
  },
];

const TARGET = 0.97;

export async function run(): Promise<BenchReport> {
  const rows: string[][] = [];
  const targets: BenchReport['targets'] = [];
  const notes: string[] = [];
  const only = process.env.ADACOMPRESS_BENCH_CALIBRATION;
  for (const scenario of SCENARIOS.filter((s) => !only || s.key.includes(only))) {
    const { offline, batches, trace } = await runScenario(scenario, TARGET);
    const result = summarise(scenario, batches, bestFixed(offline.fixed, TARGET), offline.original);
    notes.push(`${scenario.name}: ${describeTrace(trace)}.`);
    rows.push(...result.rows);
    targets.push(...result.targets);
    notes.push(...result.notes);
  }
  return {
    title: 'Calibration on a backend the shipped policy was never trained on (emulator, real request path)',
    columns: ['scenario', 'requests', 'agreement', 'KiB sent', 'labelled', 'paid uploads', 'operating point'],
    rows,
    targets,
    notes,
  };
}

function summarise(scenario: Scenario, batches: Batch[], best: FixedRow | undefined, originalBytes: number) {
  const rows = batches.map((b, i) => [
    i === 0 ? scenario.name : '',
    String((i + 1) * BATCH),
    fmt(b.agreement, 3),
    fmt(b.bytes / 1024, 1),
    String(b.labelled),
    String(b.references),
    b.point,
  ]);
  // Holding the target: from some batch on, the mean agreement of every 100-request window stays at or above it.
  let holdsFrom = batches.length;
  for (let i = batches.length - 1; i >= 1; i--) {
    if ((batches[i]!.agreement + batches[i - 1]!.agreement) / 2 >= TARGET) holdsFrom = i - 1;
    else break;
  }
  const referencesUntil = batches.slice(0, holdsFrom + 1).reduce((s, b) => s + b.labelled, 0);
  const minimumWhileCalibrating = Math.min(...batches.slice(0, holdsFrom + 1).map((b) => b.agreement));
  const tail = batches.slice(-10);
  const finalBytes = mean(tail.map((b) => b.bytes));
  const steadyReferences = tail.reduce((s, b) => s + b.references, 0) / (tail.length * BATCH);
  const targets = [
    atMost(`${scenario.key}: references until agreement holds ${TARGET}`, referencesUntil, 300, ''),
    atLeast(`${scenario.key}: worst 50-request agreement while calibrating`, minimumWhileCalibrating, 0.95, ''),
    ...(best ? [atMost(`${scenario.key}: final bytes / best fixed action`, finalBytes / best.bytes, 1.1, 'x')] : []),
    atMost(`${scenario.key}: paid references and probes in steady state`, 100 * steadyReferences, 5, '%'),
  ];
  const held =
    holdsFrom < batches.length
      ? `agreement holds ${TARGET} from request ${(holdsFrom + 1) * BATCH} (after ${referencesUntil} reference-labelled requests)`
      : `agreement never held ${TARGET} over the last 100 requests (${referencesUntil} reference-labelled requests)`;
  const notes = [
    `${scenario.name}: ${held}; mean agreement ${fmt(mean(batches.map((b) => b.agreement)), 3)}; final ${fmt(finalBytes / 1024, 1)} KiB per image (originals ${fmt(originalBytes / 1024, 1)} KiB); best fixed action offline at ${TARGET}: ${best ? `q${best.quality} at ${best.side ?? 'stored'} px, ${fmt(best.bytes / 1024, 1)} KiB (agreement ${fmt(best.agreement, 3)})` : 'none reaches it'}; paid references and probes in steady state ${fmt(100 * steadyReferences, 1)}% of requests.`,
  ];
  return { rows, targets, notes };
}
