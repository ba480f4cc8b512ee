/**
 * `adacompress evaluate`: the table that decides everything. For a policy model and collected data (validation split
 * by default), per key: every fixed (side, quality) action of the grid, the best fixed action at each accuracy level
 * (the cheapest reaching it), the per-image oracle (and the oracle held to the policy's accuracy), uniform random over
 * each image's candidates, the paper's published numbers, and the policy, decided by the SAME code the proxy runs
 * (OnnxPolicy.decideFromFeatures at the model's trained operating point, under the operation's limits). Columns:
 * accuracy (the key's agreement), a second measure, mean bytes, size ratio vs the reference, mean quality and side.
 * Writes JSON and an HTML page with an inline SVG chart. With --logs: off-policy estimates (IPS, SNIPS, DR) of the
 * policy on decision logs, with bootstrap confidence intervals.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { z } from 'zod';
import type { EncodeAction } from '../codec/types.ts';
import { commandOptions, int, option } from '../config/options.ts';
import { DEFAULT_POLICY_MODELS } from '../config/proxy.ts';
import type { ReferenceKind } from '../feedback/reward-spec.ts';
import { actionKey } from '../policy/actions.ts';
import { servingModel } from '../policy/model-map.ts';
import { OnnxPolicy } from '../policy/onnx-policy.ts';
import { readOnnxMetadata } from '../policy/onnx-writer.ts';
import { createProgress } from '../progress.ts';
import { findOperation } from '../providers/registry.ts';
import type { ImageLimits } from '../providers/types.ts';
import { defaultCollectDir, recordFileName } from './data.ts';
import {
  buildDataset,
  type ImageRow,
  metricsOf,
  oracleAtAccuracy,
  oracleChoice,
  type PolicyMetrics,
  type ReferenceChoice,
  rewardSpecOf,
} from './dataset.ts';
import { evaluateOnLogs, policyOnLogs, readLoggedSamples } from './logs.ts';
import type { OpeResult } from './ope.ts';
import { choicesOfModel } from './policy-model.ts';
import { readRecordsWithCurrentFeatures } from './refeature.ts';

export const ENV_PREFIX = 'ADACOMPRESS_EVALUATE_';

export const evaluateOptions = {
  model: option(
    z.string(),
    '',
    'Policy model file to evaluate; "" = the model serving --key in the proxy (ADACOMPRESS_POLICY_MODELS, else the shipped map).',
    'the model serving --key',
  ),
  key: option(
    z.string().regex(/^[a-z]+\/.+$/, 'provider/operation'),
    'rekognition/DetectLabels',
    'provider/operation of the data.',
  ),
  data: option(z.string(), defaultCollectDir, 'Folder of collected data.', '.data/collect'),
  split: option(
    z.enum(['collected', 'validation', 'train', 'all']),
    'collected',
    'Which images to evaluate on; collected = every image in the data (the split it was collected with).',
  ),
  reference: option(
    z.enum(['auto', 'q75', 'original']),
    'auto',
    "What agreement is measured against: quality 75 at the stored size (the paper's), the client's file as it is, or auto: the proxy's default reference (--reference-kind's default, the client's original; text always the original).",
  ),
  logs: option(z.string(), '', 'Decision log path for off-policy estimates; "" = none.'),
  out: option(z.string(), '', 'Write <out>.json and <out>.html (default: .data/eval/<key>).'),
  seed: option(int(0), 1, 'Bootstrap seed.'),
};

/** AdaCompress as published (PAPER.md): ImageNet, 1200 images, size vs q75. */
export const PAPER_RESULTS: Record<string, { accuracy: number; sizeRatio: number; meanQuality: number }> = {
  rekognition: { accuracy: 0.912, sizeRatio: 0.464, meanQuality: 28 },
  baidu: { accuracy: 0.926, sizeRatio: 0.498, meanQuality: 31 },
  facepp: { accuracy: 0.97, sizeRatio: 0.415, meanQuality: 24 },
};

export interface TableRow extends Partial<PolicyMetrics> {
  name: string;
  kind: 'policy' | 'fixed' | 'best-fixed' | 'oracle' | 'random' | 'paper';
  accuracy: number;
  sizeRatio: number;
  /** Fixed rows: the grid action, and the others that send the same on every image of this data. */
  action?: EncodeAction;
  same?: EncodeAction[];
  /** Best-fixed rows: the accuracy level it is the cheapest fixed action to reach. */
  level?: number;
}

/** Accuracy levels at which the cheapest fixed action is reported (and the policy's own accuracy). */
export const ACCURACY_LEVELS: readonly number[] = [0.9, 0.95, 0.97, 0.98, 0.99, 1];

export interface Evaluation {
  key: string;
  model: string;
  modelId: string;
  /** The split scored: validation, train, or all (both). */
  split: string;
  reference: ReferenceKind;
  images: number;
  /** Usable images in the data, per split (what the split chose from). */
  collected: { train: number; validation: number };
  /** The operating point the policy decided at (its trained threshold; none for a model without heads). */
  threshold?: number;
  rows: TableRow[];
  /** Policy bytes over the bytes of the oracle held to the policy's accuracy. */
  bytesVsOracleAtEqualAccuracy: number;
  /** Policy bytes over the bytes of the cheapest fixed action at least as accurate (undefined when none is). */
  bytesVsBestFixedAtEqualAccuracy?: number;
  offPolicy?: OpeResult & { decisions: number };
}

const sideName = (a: EncodeAction) => (a.maxSide === undefined ? 'full' : String(a.maxSide));
export const actionName = (a: EncodeAction) => `q${a.quality} @ ${sideName(a)}`;

/**
 * Fixed grid actions, those that send the same upload on every image of the data merged into one row (on 500-px
 * photos every side from 512 up is the stored size): the row carries the smallest side, `same` lists the others.
 */
function fixedRows(rows: readonly ImageRow[]): TableRow[] {
  const actions = rows[0]?.actions ?? [];
  const groups = new Map<string, number[]>();
  actions.forEach((_, k) => {
    const signature = rows.map((r) => actionKey(r.sent[k]!)).join(',');
    groups.set(signature, [...(groups.get(signature) ?? []), k]);
  });
  const table: TableRow[] = [];
  for (const columns of groups.values()) {
    const k = columns.at(-1)!; // the grid lists sides largest first: the last is the smallest side
    const same = columns.slice(0, -1).map((c) => actions[c]!);
    const name = `fixed ${actionName(actions[k]!)}${same.length > 0 ? ` (= ${same.map(sideName).join(', ')})` : ''}`;
    table.push({ name, kind: 'fixed', action: actions[k]!, same, ...metricsOf(rows, () => k) });
  }
  return table;
}

/** The cheapest fixed row (mean bytes) with accuracy >= level (a small tolerance for float sums). */
export function bestFixed(fixed: readonly TableRow[], level: number): TableRow | undefined {
  return fixed
    .filter((r) => r.accuracy >= level - 1e-9)
    .reduce<TableRow | undefined>((best, r) => (!best || r.meanBytes! < best.meanBytes! ? r : best), undefined);
}

export function evaluationTable(
  key: string,
  rows: readonly ImageRow[],
  policyChoices: readonly number[],
  modelId: string,
): TableRow[] {
  const policy = metricsOf(rows, (_, i) => policyChoices[i]!);
  const table: TableRow[] = [{ name: `policy ${modelId}`, kind: 'policy', ...policy }];
  const fixed = fixedRows(rows);
  for (const level of [...ACCURACY_LEVELS, policy.accuracy].sort((a, b) => a - b)) {
    const best = bestFixed(fixed, level);
    const at = level === policy.accuracy ? `the policy's accuracy (${level.toFixed(3)})` : `accuracy >= ${level}`;
    if (best) {
      const { name: _, kind: __, ...metrics } = best;
      table.push({
        ...metrics,
        name: `best fixed at ${at}: ${best.name.slice('fixed '.length)}`,
        kind: 'best-fixed',
        level,
      });
    }
  }
  table.push({ name: 'oracle (smallest action keeping the answer)', kind: 'oracle', ...metricsOf(rows, oracleChoice) });
  const held = oracleAtAccuracy(rows, policy.accuracy);
  table.push({ name: "oracle at the policy's accuracy", kind: 'oracle', ...metricsOf(rows, (_, i) => held[i]!) });
  table.push({
    name: "random (uniform over each image's candidates)",
    kind: 'random',
    ...metricsOf(rows, (row) => {
      const p = new Array<number>(row.sent.length).fill(0);
      for (const c of row.candidates) p[c.index] = 1 / row.candidates.length;
      return p;
    }),
  });
  const paper = PAPER_RESULTS[key.split('/')[0]!];
  if (paper && rewardSpecOf(key).kind === 'labels')
    table.push({ name: 'AdaCompress paper (ImageNet, real API, stored size)', kind: 'paper', ...paper });
  table.push(...fixed);
  return table;
}

export function formatTable(table: readonly TableRow[]): string {
  const head =
    '| policy | accuracy | overlap / recall | mean bytes | size ratio | bytes ratio | mean quality | mean side |\n|---|---|---|---|---|---|---|---|';
  const fmt = (x: number | undefined, d = 3) => (x === undefined ? '–' : x.toFixed(d));
  return [
    head,
    ...table.map(
      (r) =>
        `| ${r.name} | ${fmt(r.accuracy)} | ${fmt(r.overlap)} | ${r.meanBytes === undefined ? '–' : Math.round(r.meanBytes)} | ${fmt(r.sizeRatio)} | ${fmt(r.bytesRatio)} | ${fmt(r.meanQuality, 1)} | ${r.meanSide === undefined ? '–' : Math.round(r.meanSide)} |`,
    ),
  ].join('\n');
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"]/g, (c) => `&${{ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot' }[c]};`);

/** The fixed rows no other fixed row beats on both accuracy and size ratio, cheapest first. */
function frontier(fixed: readonly TableRow[]): TableRow[] {
  const sorted = [...fixed].sort((a, b) => a.sizeRatio - b.sizeRatio || b.accuracy - a.accuracy);
  const out: TableRow[] = [];
  for (const r of sorted) if (out.length === 0 || r.accuracy > out.at(-1)!.accuracy) out.push(r);
  return out;
}

/** Accuracy vs size ratio, one point per row: a self-contained SVG (no chart library). */
export function chartSvg(table: readonly TableRow[], title: string): string {
  const W = 720;
  const H = 460;
  const m = { l: 60, r: 20, t: 30, b: 50 };
  const shown = table.filter((r) => r.kind !== 'best-fixed');
  const maxX = Math.max(1, ...shown.map((r) => r.sizeRatio)) * 1.05;
  const minY = Math.max(0, Math.min(...shown.map((r) => r.accuracy)) - 0.05);
  const x = (v: number) => m.l + (v / maxX) * (W - m.l - m.r);
  const y = (v: number) => H - m.b - ((v - minY) / (1 - minY)) * (H - m.t - m.b);
  const colour = {
    policy: '#d62728',
    fixed: '#1f77b4',
    'best-fixed': '#1f77b4',
    oracle: '#2ca02c',
    random: '#7f7f7f',
    paper: '#ff7f0e',
  };
  const edge = frontier(table.filter((r) => r.kind === 'fixed'));
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="13">${escapeHtml(title)}</text>`,
    `<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="#000"/>`,
    `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="#000"/>`,
    `<text x="${W / 2}" y="${H - 12}" text-anchor="middle">size ratio vs the reference</text>`,
    `<text x="14" y="${H / 2}" transform="rotate(-90 14 ${H / 2})" text-anchor="middle">accuracy (reference kept)</text>`,
  ];
  const step = maxX > 2 ? 0.5 : 0.25;
  for (let t = 0; t <= maxX; t += step) {
    parts.push(`<text x="${x(t)}" y="${H - m.b + 14}" text-anchor="middle">${t.toFixed(2)}</text>`);
  }
  for (let t = Math.ceil(minY * 20) / 20; t <= 1.0001; t += 0.05) {
    parts.push(`<text x="${m.l - 6}" y="${y(t) + 4}" text-anchor="end">${t.toFixed(2)}</text>`);
    parts.push(`<line x1="${m.l}" y1="${y(t)}" x2="${W - m.r}" y2="${y(t)}" stroke="#eee"/>`);
  }
  // The fixed actions' frontier as a line, each on it labelled; the others as small dots.
  parts.push(
    `<polyline fill="none" stroke="${colour.fixed}" points="${edge.map((r) => `${x(r.sizeRatio)},${y(r.accuracy)}`).join(' ')}"/>`,
  );
  for (const r of shown) {
    const onEdge = edge.includes(r);
    const radius = r.kind === 'policy' ? 6 : r.kind === 'fixed' ? (onEdge ? 3 : 2) : 4;
    parts.push(
      `<circle cx="${x(r.sizeRatio)}" cy="${y(r.accuracy)}" r="${radius}" fill="${colour[r.kind]}"${r.kind === 'fixed' && !onEdge ? ' fill-opacity="0.35"' : ''}><title>${escapeHtml(r.name)}: ${r.accuracy.toFixed(3)} at ${r.sizeRatio.toFixed(3)}</title></circle>`,
    );
    if (r.kind !== 'fixed') {
      parts.push(
        `<text x="${x(r.sizeRatio) + 8}" y="${y(r.accuracy) - 6}" fill="${colour[r.kind]}">${escapeHtml(r.name.split(' (')[0]!.slice(0, 40))}</text>`,
      );
    } else if (onEdge) {
      parts.push(
        `<text x="${x(r.sizeRatio) + 5}" y="${y(r.accuracy) + 12}" fill="${colour.fixed}">${escapeHtml(actionName(r.action!))}</text>`,
      );
    }
  }
  parts.push('</svg>');
  return parts.join('\n');
}

export function htmlPage(evaluation: Evaluation): string {
  const rows = evaluation.rows
    .map(
      (r) =>
        `<tr><td>${escapeHtml(r.name)}</td><td>${r.accuracy.toFixed(3)}</td><td>${r.overlap?.toFixed(3) ?? '–'}</td><td>${r.meanBytes === undefined ? '–' : Math.round(r.meanBytes)}</td><td>${r.sizeRatio.toFixed(3)}</td><td>${r.bytesRatio?.toFixed(3) ?? '–'}</td><td>${r.meanQuality?.toFixed(1) ?? '–'}</td><td>${r.meanSide === undefined ? '–' : Math.round(r.meanSide)}</td></tr>`,
    )
    .join('\n');
  const title = `${evaluation.key}: ${evaluation.modelId} on ${evaluation.images} ${evaluation.split} images`;
  const vsFixed = evaluation.bytesVsBestFixedAtEqualAccuracy;
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child{text-align:left}</style></head><body>
<h1>${escapeHtml(title)}</h1>
<p>Reference: ${evaluation.reference === 'q75' ? 'quality 75 at the stored size' : "the client's file as it is"}. ${evaluation.threshold === undefined ? 'Policy: argmax of its scores.' : `Policy: the cheapest candidate whose predicted agreement is at least ${evaluation.threshold} (its trained operating point), decided by OnnxPolicy.`}</p>
${chartSvg(evaluation.rows, title)}
<p>Policy bytes vs the cheapest fixed action at least as accurate: ${vsFixed === undefined ? 'no fixed action is as accurate' : `${vsFixed.toFixed(3)}x`}; vs the oracle held to the policy's accuracy: ${evaluation.bytesVsOracleAtEqualAccuracy.toFixed(3)}x.</p>
<table><tr><th>policy</th><th>accuracy</th><th>overlap / recall</th><th>mean bytes</th><th>size ratio</th><th>bytes ratio</th><th>mean quality</th><th>mean side</th></tr>
${rows}</table>
${evaluation.offPolicy ? `<pre>${escapeHtml(JSON.stringify(evaluation.offPolicy, null, 2))}</pre>` : ''}
</body></html>
`;
}

export type SplitChoice = 'collected' | 'validation' | 'train' | 'all';

/** `collected` names what the data holds: one split when it holds only one, all otherwise. */
export function resolveSplit(choice: SplitChoice, rows: readonly ImageRow[]): 'validation' | 'train' | 'all' {
  if (choice !== 'collected') return choice;
  const splits = new Set(rows.map((r) => r.split));
  return splits.size === 1 ? [...splits][0]! : 'all';
}

/** The limits the proxy fits this operation's uploads to (its descriptor's defaults), else the data's own. */
function limitsFor(key: string, data: ImageLimits | undefined): ImageLimits | undefined {
  return findOperation(key)?.operation.limits ?? data;
}

export async function evaluateModel(
  modelPath: string,
  key: string,
  dataDir: string,
  choice: SplitChoice,
  reference: ReferenceChoice = 'auto',
): Promise<Evaluation> {
  const bytes = new Uint8Array(await readFile(modelPath));
  const metadata = readOnnxMetadata(bytes);
  const modelId = metadata.model_id ?? modelPath;
  const dataset = buildDataset(
    key,
    await readRecordsWithCurrentFeatures(join(dataDir, recordFileName(key))),
    reference,
  );
  const split = resolveSplit(choice, dataset.rows);
  const rows = dataset.rows.filter((r) => split === 'all' || r.split === split);
  if (dataset.rows.length === 0) throw new Error(`no images collected for ${key} in ${dataDir}`);
  if (rows.length === 0) throw new Error(`no ${split} images collected for ${key} in ${dataDir}`);
  const progress = createProgress('evaluate', rows.length, { unit: 'img' });
  const choices = await choicesOfModel(bytes, rows, limitsFor(key, dataset.limits), () => progress.tick());
  progress.done();
  const table = evaluationTable(key, rows, choices, modelId);
  const policy = table[0]!;
  const heldBytes = table.find((r) => r.name.startsWith('oracle at the policy'))!.meanBytes!;
  const fixedAtPolicy = bestFixed(
    table.filter((r) => r.kind === 'fixed'),
    policy.accuracy,
  );
  const count = (s: string) => dataset.rows.filter((r) => r.split === s).length;
  const threshold = metadata.agreement_output ? operatingThreshold(metadata.operating_point) : undefined;
  return {
    key,
    model: modelPath,
    modelId,
    split,
    reference: dataset.reference,
    images: rows.length,
    collected: { train: count('train'), validation: count('validation') },
    ...(threshold === undefined ? {} : { threshold }),
    rows: table,
    bytesVsOracleAtEqualAccuracy: policy.meanBytes! / heldBytes,
    ...(fixedAtPolicy ? { bytesVsBestFixedAtEqualAccuracy: policy.meanBytes! / fixedAtPolicy.meanBytes! } : {}),
  };
}

function operatingThreshold(json: string | undefined): number | undefined {
  try {
    const threshold = (JSON.parse(json ?? 'null') as { threshold?: unknown } | null)?.threshold;
    return typeof threshold === 'number' ? threshold : undefined;
  } catch {
    return undefined;
  }
}

/** `--model`, or the file the proxy would use for --key: serve's map (its env variable, else the shipped default). */
export function modelForKey(model: string, key: string, env: Readonly<Record<string, string | undefined>>) {
  if (model) return { path: model, how: '--model' };
  const spec = env.ADACOMPRESS_POLICY_MODELS ?? DEFAULT_POLICY_MODELS;
  const from = env.ADACOMPRESS_POLICY_MODELS === undefined ? "serve's shipped map" : 'ADACOMPRESS_POLICY_MODELS';
  const serving = servingModel(spec, key, 'ADACOMPRESS_POLICY_MODELS');
  if (!serving)
    throw new Error(`no policy model serves ${key} in ${from} (the proxy uses its fixed quality): pass --model`);
  const via = serving.mapKey === key ? '' : ` (by its entry ${serving.mapKey})`;
  return { path: serving.path, how: `serves ${key} in ${from}${via}` };
}

/** What was scored, in words: the count, the split, and what the data held. */
export function scoredSentence(evaluation: Evaluation): string {
  const { train, validation } = evaluation.collected;
  const held = `${train + validation} collected: ${validation} validation, ${train} train`;
  const caveat =
    evaluation.split === 'validation' ? '' : "; train images may be the model's own training data (--split validation)";
  return `${evaluation.images} ${evaluation.split === 'all' ? 'train + validation' : evaluation.split} images of ${held}${caveat}`;
}

export async function run(argv: string[]): Promise<void> {
  const summary = 'Compare a policy with baselines (and on logs, off-policy).';
  const options = commandOptions('evaluate', summary, evaluateOptions, argv, process.env, ENV_PREFIX);
  if (!options) return;
  const model = modelForKey(options.model, options.key, process.env);
  if (model.how !== '--model') console.log(`evaluate: model ${relative(process.cwd(), model.path)}: ${model.how}`);
  options.model = model.path;
  const evaluation = await evaluateModel(options.model, options.key, options.data, options.split, options.reference);
  if (options.logs) {
    const samples = await readLoggedSamples(options.logs, options.key);
    const policy = await OnnxPolicy.fromBytes(new Uint8Array(await readFile(options.model)), {
      exploration: { kind: 'epsilon-greedy', epsilon: 0 },
    });
    try {
      const target = await policyOnLogs(policy, samples, findOperation(options.key)?.operation.limits);
      // Judged by the reward the model was trained for (its reward_weights), as the proxy's controller judges it;
      // DR's reward model: the policy's own scores (expected rewards under those weights).
      const spec = rewardSpecOf(options.key, policy.rewardWeights);
      evaluation.offPolicy = { ...evaluateOnLogs(samples, target, spec, options.seed), decisions: samples.length };
    } finally {
      await policy.release();
    }
  }
  console.log(`evaluate: ${evaluation.modelId} on ${evaluation.key}: ${scoredSentence(evaluation)}\n`);
  console.log(formatTable(evaluation.rows));
  const vsFixed = evaluation.bytesVsBestFixedAtEqualAccuracy;
  console.log(
    `\npolicy bytes / bytes of the cheapest fixed action at least as accurate: ${vsFixed === undefined ? 'none is as accurate' : vsFixed.toFixed(3)}`,
  );
  console.log(`policy bytes / oracle bytes at equal accuracy: ${evaluation.bytesVsOracleAtEqualAccuracy.toFixed(3)}`);
  if (evaluation.offPolicy) {
    const o = evaluation.offPolicy;
    const f = (e: { value: number; low: number; high: number }) =>
      `${e.value.toFixed(4)} [${e.low.toFixed(4)}, ${e.high.toFixed(4)}]`;
    console.log(
      `off-policy on ${o.decisions} decisions (ESS ${o.effectiveSamples.toFixed(1)}): IPS ${f(o.ips)}, SNIPS ${f(o.snips)}, DR ${f(o.dr)}`,
    );
  }
  const out = options.out || join(dirname(options.data), 'eval', options.key.replace(/[^A-Za-z0-9]+/g, '-'));
  await mkdir(dirname(out), { recursive: true });
  await writeFile(`${out}.json`, `${JSON.stringify(evaluation, null, 2)}\n`);
  await writeFile(`${out}.html`, htmlPage(evaluation));
  console.log(`evaluate: wrote ${out}.json and ${out}.html`);
}
