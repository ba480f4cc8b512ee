/**
 * Which decisions also get a reference upload. Each reference is a second paid API call, so two limits apply:
 * a probability per decision (the estimate rate), and a hard cap on references per minute, enforced over a sliding
 * window of grant times: in no 60-second interval are more than `maxPerMinute` granted, however requests are timed.
 * (A token bucket would allow a full bucket plus its refill within one minute, i.e. up to twice the cap.)
 * `tryAcquire` is synchronous, so concurrent requests cannot both take the last slot.
 */
import { z } from 'zod';

export const referenceSamplerConfigSchema = z.object({
  /** Probability that a decision is referenced in normal operation. */
  probability: z.number().min(0).max(1).default(0.02),
  /**
   * Hard cap of paid extra calls granted in any 60-second window (references, and calibration's probes, which take
   * slots with `force`); 0 disables references.
   */
  maxPerMinute: z.number().int().nonnegative().default(30),
});

export type ReferenceSamplerConfig = z.input<typeof referenceSamplerConfigSchema>;

/** The defaults, in one place: the proxy's flags take theirs from here. */
export const referenceSamplerDefaults = referenceSamplerConfigSchema.parse({});

export type AcquireReason =
  | 'sampled' // drawn with the probability and within budget
  | 'forced' // asked for regardless of probability, within budget
  | 'not-drawn' // the probability said no
  | 'budget'; // drawn (or forced) but the per-minute cap is reached

export interface AcquireResult {
  granted: boolean;
  reason: AcquireReason;
  /** The probability the decision was drawn with (1 when forced): log it with the decision. */
  probability: number;
}

export interface AcquireOptions {
  /** Use this probability instead of the configured one (the controller's boosted rate). Still capped by budget. */
  probability?: number;
  /** Take a reference if the budget allows, whatever the probability (e.g. a probe the controller needs measured). */
  force?: boolean;
}

export interface ReferenceSamplerCounters {
  granted: number;
  refusedByBudget: number;
  notDrawn: number;
}

export interface ReferenceSampler {
  /** The configured probability: what a decision is drawn with when nobody asks for another. */
  readonly probability: number;
  /** The hard cap per minute: 0 means no reference is ever granted, whoever asks. */
  readonly maxPerMinute: number;
  tryAcquire(options?: AcquireOptions): AcquireResult;
  /** References granted in the last 60 seconds. */
  inWindow(): number;
  counters(): ReferenceSamplerCounters;
}

const WINDOW_MS = 60_000;

export function createReferenceSampler(
  config: ReferenceSamplerConfig = {},
  dependencies: { now?: () => number; random?: () => number } = {},
): ReferenceSampler {
  const { probability: baseProbability, maxPerMinute } = referenceSamplerConfigSchema.parse(config);
  const now = dependencies.now ?? (() => performance.now());
  const random = dependencies.random ?? Math.random;
  // Ring buffer of the last `maxPerMinute` grant times: the cap is reached when the oldest is still in the window.
  const grants = new Float64Array(Math.max(1, maxPerMinute));
  let granted = 0;
  let refusedByBudget = 0;
  let notDrawn = 0;

  const oldestGrant = () => (granted < maxPerMinute ? Number.NEGATIVE_INFINITY : grants[granted % maxPerMinute]!);

  return {
    probability: baseProbability,
    maxPerMinute,
    tryAcquire(options = {}) {
      const probability = options.force ? 1 : Math.min(1, Math.max(0, options.probability ?? baseProbability));
      if (!options.force && !(random() < probability)) {
        notDrawn += 1;
        return { granted: false, reason: 'not-drawn', probability };
      }
      const time = now();
      if (maxPerMinute === 0 || time - oldestGrant() < WINDOW_MS) {
        refusedByBudget += 1;
        return { granted: false, reason: 'budget', probability };
      }
      grants[granted % maxPerMinute] = time;
      granted += 1;
      return { granted: true, reason: options.force ? 'forced' : 'sampled', probability };
    },
    inWindow() {
      const time = now();
      let count = 0;
      for (let i = 0; i < Math.min(granted, maxPerMinute); i++) if (time - grants[i]! < WINDOW_MS) count += 1;
      return count;
    },
    counters: () => ({ granted, refusedByBudget, notDrawn }),
  };
}
