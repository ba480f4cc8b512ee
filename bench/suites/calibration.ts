import { gridActions } from '../../src/policy/actions.ts';
import { facesDir, heldOutFoldPhotos, trainingPhotos, validationPhotos } from '../../testkit/shared-data.ts';
import { atLeast, atMost, type BenchReport } from '../lib/report.ts';
import { fmt, mean, percentile } from '../lib/stats.ts';
import {
  BATCH,
  type Batch,
  bestFixed,
  describeTrace,
  type FixedRow,
  photosIn,
  runScenario,
  type Scenario,
  whatTheTargetsLeave,
} from '../lib/streaming.ts';

/**
 * Calibration on a backend the shipped policy was never trained on: the emulator's operation is bound to another model
 * (or another working resolution), the proxy runs its shipped policies with calibration on, and photos stream through
 * it (bench/lib/streaming.ts). Per 50 requests: agreement of what the client got with the reference answer, bytes sent,
 * requests labelled by a reference (paid or reused), uploads paid beyond the clients' (references sent, probes), the
 * calibrated point. The best fixed (resolution, quality) action found offline on the same photos
 * and backend is the yardstick for the calibrated bytes.
 * ADACOMPRESS_BENCH_CALIBRATION=<part of a key> runs one scenario; ADACOMPRESS_BENCH_REQUESTS=<n> sets the stream's
 * length (streamLength: longer streams show where a slow search settles).
 * ADACOMPRESS_BENCH_RUNS=<n> (default 1) streams each scenario n times, each with its own order of the photos (seeds
 * 7, 8, ...): one stream is one draw, so the per-batch table is the first run's, every run's figures are listed with
 * their spread, and a target holds only if it holds in every run (it is judged on the worst one).
 * ADACOMPRESS_BENCH_SPLIT=training streams the labels scenario over the training photos instead of the validation ones
 * (`held-out-fold`: the fifth of them scripts/levels-fold-cv.sh holds out from a refitted model), and
 * ADACOMPRESS_BENCH_LABELS_BACKEND / ADACOMPRESS_BENCH_FACES_BACKEND=<model> bind a scenario's operation to another
 * emulator model (e.g. `mobilenetv2-12-int8@256`, `yunet@1024`): a choice between proxy settings is made on training
 * photos and several backends, and validation is reported once.
 */

const QUALITIES_SWEPT = [15, 25, 35, 45, 55, 65, 75, 85];
const GRID = gridActions.filter((a) => QUALITIES_SWEPT.includes(a.quality));

const SCENARIOS: Scenario[] = [
  {
    name: 'Baidu labels on MobileNetV3-Small (policy trained on MobileNetV2)',
    key: 'baidu/image-classify/v2/advanced_general',
    emulator: { baiduAdvancedGeneral: process.env.ADACOMPRESS_BENCH_LABELS_BACKEND || 'mobilenet-v3-small' },
    photos: labelPhotos(process.env.ADACOMPRESS_BENCH_SPLIT),
    requests: 3000,
    grid: GRID,
  },
  {
    name: 'Baidu faces on YuNet at 2048 px (policy trained at 1920x1080)',
    key: 'baidu/face/v3/detect',
    emulator: { baiduFaceDetect: process.env.ADACOMPRESS_BENCH_FACES_BACKEND || 'yunet@2048' },
    photos: () => photosIn(facesDir),
    requests: 1500,
    grid: GRID,
  },
];

/** The labels scenario's photos: validation (the default), the training split, or its held-out fifth. */
function labelPhotos(split: string | undefined): () => string[] {
  if (split === 'training') return trainingPhotos;
  if (split === 'held-out-fold') return heldOutFoldPhotos;
  if (split === undefined || split === '' || split === 'validation') return validationPhotos;
  throw new Error(`ADACOMPRESS_BENCH_SPLIT=${split}: expected validation, training or held-out-fold`);
}

const TARGET = 0.97;
/** The issue's limits: reference-labelled requests until agreement holds, and final bytes over the best fixed action. */
const REFERENCE_LIMIT = 300;
const BYTES_LIMIT = 1.1;
const FIRST_SEED = 7;

/** What one stream shows against the issue's targets. */
interface RunMeasures {
  /** The batch from which agreement holds the target to the end, or undefined if it never does. */
  holdsFrom: number | undefined;
  referencesUntil: number;
  minimumWhileCalibrating: number;
  /** Where that worst block was: its last request and the point serving at its end. */
  worstBlock: { request: number; point: string } | undefined;
  meanAgreement: number;
  finalBytes: number;
  steadyReferences: number;
}

/** Each target: how one run measures it, its limit, and which way is worse. */
const TARGETS = [
  {
    name: `references until agreement holds ${TARGET}`,
    of: (m: RunMeasures) => m.referencesUntil,
    limit: REFERENCE_LIMIT,
    worst: 'max',
    unit: '',
  },
  {
    name: 'worst 50-request agreement while calibrating',
    of: (m: RunMeasures) => m.minimumWhileCalibrating,
    limit: 0.95,
    worst: 'min',
    unit: '',
  },
  {
    name: 'final bytes / best fixed action',
    of: (m: RunMeasures, best?: FixedRow) => (best ? m.finalBytes / best.bytes : Number.NaN),
    limit: BYTES_LIMIT,
    worst: 'max',
    unit: 'x',
  },
  {
    name: 'paid references and probes in steady state',
    of: (m: RunMeasures) => 100 * m.steadyReferences,
    limit: 5,
    worst: 'max',
    unit: '%',
  },
] as const;

export async function run(): Promise<BenchReport> {
  const rows: string[][] = [];
  const targets: BenchReport['targets'] = [];
  const notes: string[] = [];
  const only = process.env.ADACOMPRESS_BENCH_CALIBRATION;
  const runs = Math.max(1, Number(process.env.ADACOMPRESS_BENCH_RUNS) || 1);
  for (const scenario of SCENARIOS.filter((s) => !only || s.key.includes(only))) {
    const measured: RunMeasures[] = [];
    // The offline table: the same in every run (the emulator is deterministic, the photos the same).
    let fixed: FixedRow[] = [];
    for (let r = 0; r < runs; r++) {
      const { offline, batches, trace } = await runScenario(scenario, TARGET, FIRST_SEED + r);
      fixed = offline.fixed;
      const measures = measure(batches);
      measured.push(measures);
      const label = runs > 1 ? `${scenario.name}, run ${r + 1} of ${runs}` : scenario.name;
      if (r === 0) rows.push(...batchRows(label, batches));
      notes.push(`${label}: ${describeTrace(trace)}.`);
      notes.push(`${label}: ${describeRun(measures, offline.original)}`);
    }
    const best = bestFixed(fixed, TARGET);
    notes.push(
      `${scenario.name}: best fixed action offline at ${TARGET}: ${best ? `q${best.quality} at ${best.side ?? 'stored'} px, ${fmt(best.bytes / 1024, 1)} KiB (agreement ${fmt(best.agreement, 3)})` : 'none reaches it'}.`,
    );
    if (best) {
      const leave = whatTheTargetsLeave(fixed, best, {
        ratio: BYTES_LIMIT,
        target: TARGET,
        references: REFERENCE_LIMIT,
        yardstickName: 'the best fixed action',
      });
      notes.push(`${scenario.name}: ${leave}`);
    }
    for (const target of TARGETS) {
      const values = measured.map((m) => target.of(m, best));
      if (values.every((v) => Number.isNaN(v))) continue;
      // A target holds only if every run holds it: judged on the worst run.
      const worst = target.worst === 'max' ? Math.max(...values) : Math.min(...values);
      const name = `${scenario.key}: ${target.name}${runs > 1 ? ` (worst of ${runs} runs)` : ''}`;
      targets.push(
        target.worst === 'max'
          ? atMost(name, worst, target.limit, target.unit)
          : atLeast(name, worst, target.limit, target.unit),
      );
      if (runs > 1) notes.push(`${scenario.name}: ${target.name}, per run: ${spread(values)}.`);
    }
  }
  return {
    title: 'Calibration on a backend the shipped policy was never trained on (emulator, real request path)',
    columns: ['scenario', 'requests', 'agreement', 'KiB sent', 'labelled', 'paid uploads', 'operating point'],
    rows,
    targets,
    notes,
  };
}

function batchRows(label: string, batches: Batch[]): string[][] {
  return batches.map((b, i) => [
    i === 0 ? label : '',
    String((i + 1) * BATCH),
    fmt(b.agreement, 3),
    fmt(b.bytes / 1024, 1),
    String(b.labelled),
    String(b.references),
    b.point,
  ]);
}

function measure(batches: Batch[]): RunMeasures {
  // Holding the target: from some batch on, the mean agreement of every 100-request window stays at or above it.
  let holdsFrom = batches.length;
  for (let i = batches.length - 1; i >= 1; i--) {
    if ((batches[i]!.agreement + batches[i - 1]!.agreement) / 2 >= TARGET) holdsFrom = i - 1;
    else break;
  }
  const calibrating = batches.slice(0, holdsFrom + 1);
  const tail = batches.slice(-10);
  const minimumWhileCalibrating = Math.min(...calibrating.map((b) => b.agreement));
  const worst = calibrating.findIndex((b) => b.agreement === minimumWhileCalibrating);
  return {
    holdsFrom: holdsFrom < batches.length ? holdsFrom : undefined,
    referencesUntil: calibrating.reduce((s, b) => s + b.labelled, 0),
    minimumWhileCalibrating,
    worstBlock: worst >= 0 ? { request: (worst + 1) * BATCH, point: calibrating[worst]!.point } : undefined,
    meanAgreement: mean(batches.map((b) => b.agreement)),
    finalBytes: mean(tail.map((b) => b.bytes)),
    steadyReferences: tail.reduce((s, b) => s + b.references, 0) / (tail.length * BATCH),
  };
}

function describeRun(m: RunMeasures, originalBytes: number): string {
  const held =
    m.holdsFrom !== undefined
      ? `agreement holds ${TARGET} from request ${(m.holdsFrom + 1) * BATCH} (after ${m.referencesUntil} reference-labelled requests)`
      : `agreement never held ${TARGET} over the last 100 requests (${m.referencesUntil} reference-labelled requests)`;
  const worst = m.worstBlock
    ? `; worst 50 requests while calibrating ${fmt(m.minimumWhileCalibrating, 3)}, ending at request ${m.worstBlock.request} (point then ${m.worstBlock.point})`
    : '';
  return `${held}${worst}; mean agreement ${fmt(m.meanAgreement, 3)}; final ${fmt(m.finalBytes / 1024, 1)} KiB per image (originals ${fmt(originalBytes / 1024, 1)} KiB); paid references and probes in steady state ${fmt(100 * m.steadyReferences, 1)}% of requests.`;
}

/** Every run's value, then min, median and max: how far one run is from another. */
function spread(values: number[]): string {
  const digits = Math.max(...values.map(Math.abs)) >= 10 ? 0 : 3;
  const list = values.map((v) => fmt(v, digits)).join(', ');
  return `${list} (min ${fmt(Math.min(...values), digits)}, median ${fmt(percentile(values, 50), digits)}, max ${fmt(Math.max(...values), digits)})`;
}
