/**
 * Full-information records -> per-image tables of what every grid action (longest side x quality) would have earned:
 * agreement with the reference (by the key's reward spec), a second measure (label overlap, face recall, text
 * similarity), bytes and size ratio vs the reference. The reference is the answer at quality 75 at the stored size
 * (the paper's, fitted to the API's limits like every action), or optionally the client's own file as it is.
 */
import type { Answer } from '../answer.ts';
import type { EncodeAction } from '../codec/types.ts';
import {
  DEFAULT_REFERENCE_KIND,
  type ReferenceKind,
  type RewardSpec,
  referenceKindOf,
  rewardSpec,
} from '../feedback/reward-spec.ts';
import { faceRecall, labelOverlap, textSimilarity } from '../feedback/rewards.ts';
import { actionKey, type Candidate, candidatesFor } from '../policy/actions.ts';
import { findOperation } from '../providers/registry.ts';
import type { ImageLimits, TaskKind } from '../providers/types.ts';
import { type CollectedRecord, gridOutcomes, type Split } from './data.ts';

export const REFERENCE_QUALITY = 75;

/** `auto`: the proxy's default reference for the key's kind (`DEFAULT_REFERENCE_KIND`, text always the original). */
export type ReferenceChoice = ReferenceKind | 'auto';

/** What an operation's answers are about, from its provider's descriptor (labels when the key is unknown). */
export function taskKindOf(key: string): TaskKind {
  return findOperation(key)?.operation.kind ?? 'labels';
}

/** The reward spec the trainer, the gate and OPE judge a key's answers by (the same the proxy's controller uses). */
export const rewardSpecOf = (key: string, weights?: Partial<Record<string, number>>): RewardSpec =>
  rewardSpec(taskKindOf(key), weights);

/** The limits an operation's uploads are fitted to: its descriptor's (the proxy's defaults, docs/PROVIDERS.md). */
export function limitsOf(key: string): ImageLimits {
  const found = findOperation(key);
  if (!found) throw new Error(`no operation ${key} in the provider descriptors`);
  return { ...found.operation.limits };
}

export interface ImageRow {
  image: string;
  split: Split;
  features: number[];
  featureVersion: number;
  /** The original's stored pixel size: what actions are fitted to. */
  width: number;
  height: number;
  /** The grid actions (columns), shared by every row of a dataset. */
  actions: readonly EncodeAction[];
  /** Per column, what it sends for this image (the effective action: maxSide only when it resizes). */
  sent: EncodeAction[];
  /** The distinct uploads of this image under the data's limits, each with its first column: the choices a policy has. */
  candidates: Candidate[];
  /** Agreement with the reference per column, by the key's reward spec (labels: paper accuracy; faces: recall). */
  accuracy: number[];
  /** A second measure per column: confidence-weighted label overlap (labels), face recall, text similarity. */
  overlap: number[];
  bytes: number[];
  /** bytes / reference bytes, per column. */
  ratio: number[];
  referenceBytes: number;
}

export interface Dataset {
  key: string;
  kind: TaskKind;
  /** The grid (columns of every row). */
  actions: readonly EncodeAction[];
  /** The limits the data's uploads were fitted to (absent for version 1 data: stored size only). */
  limits?: ImageLimits;
  reference: ReferenceKind;
  rows: ImageRow[];
  /** Images dropped: no usable reference (API error or, for labels, an empty reference), or not sendable at all. */
  dropped: number;
  /** Records of an older collect schema left out because newer ones are present (collect again to replace them). */
  stale: number;
}

/** The column of the reference action: quality 75 at the stored size (fitted to the limits like every action). */
export function referenceColumn(actions: readonly EncodeAction[]): number {
  return actions.findIndex((a) => a.quality === REFERENCE_QUALITY && a.maxSide === undefined);
}

function secondMeasure(kind: TaskKind, reference: Answer, answer: Answer | undefined): number {
  if (kind === 'faces') return faceRecall(reference, answer);
  if (kind === 'text') return textSimilarity(reference.text, answer?.text);
  return labelOverlap(reference, answer);
}

const sameGrid = (a: readonly EncodeAction[], b: readonly EncodeAction[]) =>
  a.length === b.length && a.every((x, i) => actionKey(x) === actionKey(b[i]!));

export function buildDataset(
  key: string,
  records: readonly CollectedRecord[],
  choice: ReferenceChoice = 'auto',
): Dataset {
  const kind = taskKindOf(key);
  const reference = choice === 'auto' ? referenceKindOf(kind, DEFAULT_REFERENCE_KIND) : choice;
  const spec = rewardSpec(kind);
  // One schema per dataset: the newest present (a recollect over older data replaces it image by image).
  const newest = records.reduce((v, r) => Math.max(v, r.v), 0);
  const current = records.filter((r) => r.v === newest);
  const actions = current[0]?.grid ?? [];
  const limits = current.find((r) => r.limits)?.limits;
  const rows: ImageRow[] = [];
  let dropped = 0;
  const referenceAt = referenceColumn(actions);
  if (current.length > 0 && referenceAt < 0 && reference === 'q75') {
    throw new Error(
      `${key}: the collected grid has no quality ${REFERENCE_QUALITY} at the stored size (the reference)`,
    );
  }
  for (const record of current) {
    if (!sameGrid(record.grid, actions)) {
      throw new Error(
        `${key}: ${record.image} was collected over another grid than the rest: collect into a fresh --out`,
      );
    }
    const outcomes = gridOutcomes(record);
    const ref = reference === 'q75' ? outcomes[referenceAt]?.outcome : record.asIs;
    if (
      record.unsendable ||
      outcomes.some((o) => !o) ||
      !ref ||
      !spec.usableReference(ref.answer) ||
      !(ref.bytes > 0)
    ) {
      dropped++;
      continue;
    }
    const sent = outcomes.map((o) => o!.outcome);
    const answers = sent.map((o) => o.answer ?? undefined);
    const size = { width: record.original.width, height: record.original.height };
    rows.push({
      image: record.image,
      split: record.split,
      features: record.features.values,
      featureVersion: record.features.version,
      ...size,
      actions,
      sent: sent.map((o) => o.action),
      candidates: record.limits
        ? candidatesFor(actions, size, record.limits, undefined)
        : actions.map((action, index) => ({ index, action })),
      accuracy: answers.map((a) => spec.agreement(ref.answer!, a)),
      overlap: answers.map((a) => secondMeasure(kind, ref.answer!, a)),
      bytes: sent.map((o) => o.bytes),
      ratio: sent.map((o) => o.bytes / ref.bytes),
      referenceBytes: ref.bytes,
    });
  }
  return {
    key,
    kind,
    actions,
    ...(limits ? { limits } : {}),
    reference,
    rows,
    dropped,
    stale: records.length - current.length,
  };
}

/** The column of a row that sends `action` (decisions map to data by what they send), or -1. */
export function columnOf(row: ImageRow, action: EncodeAction): number {
  const key = actionKey(action);
  return row.sent.findIndex((a) => actionKey(a) === key);
}

/** Longest side of what a column sends for this row. */
export const sentSide = (row: ImageRow, k: number): number => row.sent[k]!.maxSide ?? Math.max(row.width, row.height);

/** Metrics of a choice of one action per row. */
export interface PolicyMetrics {
  accuracy: number;
  overlap: number;
  meanBytes: number;
  /** Mean of per-image bytes / q75 bytes (the paper's size term). */
  sizeRatio: number;
  /** Mean bytes / mean q75 bytes (what the uplink carries). */
  bytesRatio: number;
  meanQuality: number;
  /** Mean longest side sent (px). */
  meanSide: number;
  images: number;
}

/** `choice[i]` is an action index, or a probability vector over actions (random policy: expected values). */
export function metricsOf(
  rows: readonly ImageRow[],
  choice: (row: ImageRow, i: number) => number | ArrayLike<number>,
): PolicyMetrics {
  let accuracy = 0;
  let overlap = 0;
  let bytes = 0;
  let ratio = 0;
  let refBytes = 0;
  let quality = 0;
  let side = 0;
  rows.forEach((row, i) => {
    const c = choice(row, i);
    const probs = typeof c === 'number' ? row.sent.map((_, k) => (k === c ? 1 : 0)) : Array.from(c);
    probs.forEach((p, k) => {
      if (p === 0) return;
      accuracy += p * row.accuracy[k]!;
      overlap += p * row.overlap[k]!;
      bytes += p * row.bytes[k]!;
      ratio += p * row.ratio[k]!;
      quality += p * row.sent[k]!.quality;
      side += p * sentSide(row, k);
    });
    refBytes += row.referenceBytes;
  });
  const n = Math.max(1, rows.length);
  return {
    accuracy: accuracy / n,
    overlap: overlap / n,
    meanBytes: bytes / n,
    sizeRatio: ratio / n,
    bytesRatio: refBytes > 0 ? bytes / refBytes : 0,
    meanQuality: quality / n,
    meanSide: side / n,
    images: rows.length,
  };
}

/** The per-image oracle: the smallest action (by bytes) that keeps the reference answer (agreement 1). */
export function oracleChoice(row: ImageRow): number {
  let best = -1;
  row.accuracy.forEach((a, k) => {
    if (a >= 1 && (best < 0 || row.bytes[k]! < row.bytes[best]!)) best = k;
  });
  return best >= 0 ? best : row.accuracy.indexOf(Math.max(...row.accuracy));
}

/**
 * The oracle held to a given accuracy: start from the per-image oracle (accuracy 1) and give up images one by one
 * where dropping to the smallest action saves the most bytes per unit of accuracy lost, until the mean accuracy would
 * fall below `target`. The fairest "oracle at equal accuracy" for comparing bytes.
 */
export function oracleAtAccuracy(rows: readonly ImageRow[], target: number): number[] {
  const choice = rows.map(oracleChoice);
  let accuracy = rows.reduce((s, r, i) => s + r.accuracy[choice[i]!]!, 0);
  const candidates = rows
    .map((row, i) => {
      const smallest = row.bytes.indexOf(Math.min(...row.bytes));
      const saved = row.bytes[choice[i]!]! - row.bytes[smallest]!;
      const lost = row.accuracy[choice[i]!]! - row.accuracy[smallest]!;
      return { i, smallest, saved, lost };
    })
    .filter((c) => c.saved > 0)
    .sort((a, b) => b.saved / Math.max(b.lost, 1e-9) - a.saved / Math.max(a.lost, 1e-9));
  for (const c of candidates) {
    if ((accuracy - c.lost) / rows.length < target) continue;
    accuracy -= c.lost;
    choice[c.i] = c.smallest;
  }
  return choice;
}
