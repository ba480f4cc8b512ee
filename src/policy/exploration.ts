import type { Rng } from './rng.ts';

/**
 * How a scored policy turns scores (expected rewards) into a choice.
 *  - epsilon-greedy: the best action with probability 1 - epsilon, else uniform over all actions. Ties for the best
 *    share the greedy mass, so probabilities stay exact.
 *  - softmax: P(a) proportional to exp(score_a / temperature).
 * The probability of the chosen action under this exact distribution is logged as its propensity (off-policy weights).
 */
export type Exploration = { kind: 'epsilon-greedy'; epsilon: number } | { kind: 'softmax'; temperature: number };

export function actionProbabilities(scores: ArrayLike<number>, exploration: Exploration): Float64Array {
  const n = scores.length;
  const p = new Float64Array(n);
  if (n === 0) return p;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) max = Math.max(max, sanitize(scores[i]!));
  if (exploration.kind === 'softmax') {
    const t = Math.max(exploration.temperature, 1e-9);
    let sum = 0;
    for (let i = 0; i < n; i++) {
      p[i] = Math.exp((sanitize(scores[i]!) - max) / t);
      sum += p[i]!;
    }
    for (let i = 0; i < n; i++) p[i]! /= sum;
    return p;
  }
  const epsilon = Math.min(1, Math.max(0, exploration.epsilon));
  let best = 0;
  for (let i = 0; i < n; i++) if (sanitize(scores[i]!) === max) best++;
  for (let i = 0; i < n; i++) p[i] = epsilon / n + (sanitize(scores[i]!) === max ? (1 - epsilon) / best : 0);
  return p;
}

/** NaN scores (a broken model) never win. */
function sanitize(score: number): number {
  return Number.isNaN(score) ? Number.NEGATIVE_INFINITY : score;
}

/** Draw an index from a probability vector. */
export function sampleIndex(probabilities: ArrayLike<number>, rng: Rng): number {
  const u = rng();
  let cumulative = 0;
  for (let i = 0; i < probabilities.length; i++) {
    cumulative += probabilities[i]!;
    if (u < cumulative) return i;
  }
  // Rounding left u above the last cumulative sum: take the last action with non-zero probability.
  for (let i = probabilities.length - 1; i >= 0; i--) if (probabilities[i]! > 0) return i;
  return 0;
}
