/**
 * Off-policy evaluation of a target policy from bandit logs (one action per context, logged with its propensity):
 * inverse propensity scoring (IPS), self-normalised IPS (SNIPS) and doubly robust (DR, with a reward model), each with
 * a percentile bootstrap confidence interval (seeded, so a report can be reproduced).
 */
import { seededRng } from '../policy/rng.ts';

export interface LoggedSample {
  /** Index of the logged action. */
  action: number;
  /** Probability the logging policy gave that action. */
  propensity: number;
  reward: number;
  /** The target policy's probability of each action in this context. */
  target: ArrayLike<number>;
  /** Reward model's prediction for each action (DR); omit for IPS/SNIPS only. */
  predicted?: ArrayLike<number>;
}

export interface Estimate {
  value: number;
  low: number;
  high: number;
}

export interface OpeResult {
  ips: Estimate;
  snips: Estimate;
  dr: Estimate;
  samples: number;
  /** Effective sample size of the importance weights: (sum w)^2 / sum w^2. */
  effectiveSamples: number;
}

export interface OpeOptions {
  bootstrap: number;
  /** Two-sided level, e.g. 0.95. */
  level: number;
  seed: number;
  /** Importance weights are clipped at this (bias for variance); Infinity = no clipping. */
  maxWeight: number;
}

export const defaultOpeOptions: OpeOptions = {
  bootstrap: 1000,
  level: 0.95,
  seed: 1,
  maxWeight: Number.POSITIVE_INFINITY,
};

interface Terms {
  w: number;
  wr: number;
  dr: number;
}

function termsOf(s: LoggedSample, maxWeight: number): Terms {
  const w = Math.min(maxWeight, (s.target[s.action] ?? 0) / s.propensity);
  let direct = 0;
  let predictedLogged = 0;
  if (s.predicted) {
    for (let k = 0; k < s.target.length; k++) direct += s.target[k]! * s.predicted[k]!;
    predictedLogged = s.predicted[s.action]!;
  }
  return { w, wr: w * s.reward, dr: direct + w * (s.reward - predictedLogged) };
}

function point(terms: readonly Terms[], pick: readonly number[]): { ips: number; snips: number; dr: number } {
  let sw = 0;
  let swr = 0;
  let sdr = 0;
  for (const i of pick) {
    const t = terms[i]!;
    sw += t.w;
    swr += t.wr;
    sdr += t.dr;
  }
  const n = Math.max(1, pick.length);
  return { ips: swr / n, snips: sw > 0 ? swr / sw : 0, dr: sdr / n };
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function offPolicyEstimates(samples: readonly LoggedSample[], options: Partial<OpeOptions> = {}): OpeResult {
  const o = { ...defaultOpeOptions, ...options };
  const terms = samples.map((s) => termsOf(s, o.maxWeight));
  const all = terms.map((_, i) => i);
  const estimate = point(terms, all);
  const rng = seededRng(o.seed);
  const boots = { ips: [] as number[], snips: [] as number[], dr: [] as number[] };
  for (let b = 0; b < o.bootstrap; b++) {
    const pick = all.map(() => Math.floor(rng() * all.length));
    const p = point(terms, pick);
    boots.ips.push(p.ips);
    boots.snips.push(p.snips);
    boots.dr.push(p.dr);
  }
  const alpha = (1 - o.level) / 2;
  const interval = (name: 'ips' | 'snips' | 'dr'): Estimate => {
    const sorted = boots[name].sort((a, b) => a - b);
    return { value: estimate[name], low: quantile(sorted, alpha), high: quantile(sorted, 1 - alpha) };
  };
  const sw = terms.reduce((s, t) => s + t.w, 0);
  const sw2 = terms.reduce((s, t) => s + t.w * t.w, 0);
  return {
    ips: interval('ips'),
    snips: interval('snips'),
    dr: interval('dr'),
    samples: samples.length,
    effectiveSamples: sw2 > 0 ? (sw * sw) / sw2 : 0,
  };
}

/** A deterministic policy as a probability vector: all mass on the argmax (ties share it). */
export function greedyDistribution(scores: ArrayLike<number>): Float64Array {
  let best = Number.NEGATIVE_INFINITY;
  for (let k = 0; k < scores.length; k++) best = Math.max(best, scores[k]!);
  const out = new Float64Array(scores.length);
  let ties = 0;
  for (let k = 0; k < scores.length; k++) if (scores[k] === best) ties++;
  for (let k = 0; k < scores.length; k++) if (scores[k] === best) out[k] = 1 / ties;
  return out;
}
