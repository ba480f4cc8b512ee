/**
 * Full-information records -> per-image tables of what every action would have earned: agreement with the reference
 * (the answer at quality 75, the paper's reference), confidence-weighted label overlap, bytes and size ratio vs q75.
 */
import { type RewardSpec, rewardSpec } from '../feedback/reward-spec.ts';
import { faceRecall, labelOverlap } from '../feedback/rewards.ts';
import { findOperation } from '../providers/registry.ts';
import type { TaskKind } from '../providers/types.ts';
import type { CollectedRecord, Split } from './data.ts';

export const REFERENCE_QUALITY = 75;

/** What an operation's answers are about, from its provider's descriptor (labels when the key is unknown). */
export function taskKindOf(key: string): TaskKind {
  return findOperation(key)?.operation.kind ?? 'labels';
}

/** The reward spec the trainer, the gate and OPE judge a key's answers by (the same the proxy's controller uses). */
export const rewardSpecOf = (key: string, weights?: Partial<Record<string, number>>): RewardSpec =>
  rewardSpec(taskKindOf(key), weights);

export interface ImageRow {
  image: string;
  split: Split;
  features: number[];
  featureVersion: number;
  qualities: number[];
  /** Agreement with the reference per action, by the key's reward spec (labels: paper accuracy; faces: recall). */
  accuracy: number[];
  /** Confidence-weighted label overlap per action (labels; face recall for faces). */
  overlap: number[];
  bytes: number[];
  /** bytes / reference bytes, per action. */
  ratio: number[];
  referenceBytes: number;
}

export interface Dataset {
  key: string;
  kind: TaskKind;
  rows: ImageRow[];
  /** Images dropped: no usable reference (API error or, for labels, an empty reference). */
  dropped: number;
}

export function buildDataset(key: string, records: readonly CollectedRecord[]): Dataset {
  const kind = taskKindOf(key);
  const spec = rewardSpec(kind);
  const rows: ImageRow[] = [];
  let dropped = 0;
  for (const record of records) {
    const reference = record.outcomes.find((o) => o.quality === REFERENCE_QUALITY);
    if (!reference || !spec.usableReference(reference.answer) || !(reference.bytes > 0)) {
      dropped++;
      continue;
    }
    const ref = reference.answer;
    const answers = record.outcomes.map((o) => o.answer ?? undefined);
    rows.push({
      image: record.image,
      split: record.split,
      features: record.features.values,
      featureVersion: record.features.version,
      qualities: record.outcomes.map((o) => o.quality),
      accuracy: answers.map((a) => spec.agreement(ref, a)),
      overlap: answers.map((a) => (kind === 'faces' ? faceRecall(ref, a) : labelOverlap(ref, a))),
      bytes: record.outcomes.map((o) => o.bytes),
      ratio: record.outcomes.map((o) => o.bytes / reference.bytes),
      referenceBytes: reference.bytes,
    });
  }
  return { key, kind, rows, dropped };
}

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
  rows.forEach((row, i) => {
    const c = choice(row, i);
    const probs = typeof c === 'number' ? row.qualities.map((_, k) => (k === c ? 1 : 0)) : Array.from(c);
    probs.forEach((p, k) => {
      if (p === 0) return;
      accuracy += p * row.accuracy[k]!;
      overlap += p * row.overlap[k]!;
      bytes += p * row.bytes[k]!;
      ratio += p * row.ratio[k]!;
      quality += p * row.qualities[k]!;
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
