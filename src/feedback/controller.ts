/**
 * The online controller, after the paper's inference-estimate-retrain loop (PAPER.md), adapted to a proxy that must
 * not keep hurting users while a policy is wrong and that does not train in process.
 *
 * 'policy': decisions use the policy; a reference is taken at the sampler's normal rate; each referenced decision's
 *   agreement (0..1, from rewards.ts) enters a window of the last `windowSize` samples. When the window holds at
 *   least `minSamples` and its mean is below `threshold`, go to 'fallback'.
 * 'fallback': decisions use the safe quality, except probes. References are asked for at the boosted probability,
 *   and a decision that wins a reference is a probe: it uses the policy's action, so its agreement measures the
 *   policy (the agreement of the safe action would say nothing about it). Users are exposed to the policy only on
 *   the probed share, which is exactly the share needed to measure it. The window restarts on entering fallback; when
 *   it again holds `minSamples` probes with mean >= `recoverThreshold` (hysteresis above `threshold`), go back to
 *   'policy'. `needsRetraining` is raised on entering fallback and cleared on recovery or on a new model.
 * Detecting the drop: with `detector: 'window'` (the paper's rule) the window mean below `threshold` trips it. The
 *   default `detector: 'cusum'` is Page's CUSUM on agreement, S = max(0, S + cusumReference - agreement), tripping at
 *   S > cusumThreshold: references are a few percent of calls, so a window of them fills slowly and a window mean both
 *   reacts late and raises false alarms on two unlucky samples; CUSUM accumulates evidence sample by sample and forgets
 *   it while agreement stays above the reference level (defaults: a couple of disagreements in quick succession trip
 *   it; isolated ones decay away).
 * onModelLoaded(): a new model starts in 'policy' with an empty window; samples from the previous model still in
 *   flight are ignored (matched by model id).
 *
 * Unlike the paper, the estimate rate does not follow the accuracy trend and nothing is retrained here: the trainer
 * process reads the decision log and the proxy hot-reloads what it writes.
 */
import { EventEmitter } from 'node:events';
import { z } from 'zod';
import type { AcquireOptions } from './reference-sampler.ts';

export const controllerConfigSchema = z
  .object({
    /** Reference samples the agreement mean is taken over (the paper: 10). */
    windowSize: z.number().int().min(1).default(20),
    /** Samples needed in the window before any transition is judged; default the full window. */
    minSamples: z.number().int().min(1).optional(),
    /** A0: fall back when the window mean drops below this (the paper: 0.8). */
    threshold: z.number().min(0).max(1).default(0.8),
    /** Return to the policy when the probes' window mean reaches this; at least `threshold`. */
    recoverThreshold: z.number().min(0).max(1).default(0.95),
    /**
     * JPEG quality sent while in fallback: the reference's own (the proxy passes `safeQualityFor` its reference kind;
     * 75 is the paper's reference, agreement 1 by construction against it).
     */
    safeQuality: z.number().int().min(1).max(100).default(75),
    /** Reference probability while in fallback; still capped by the sampler's per-minute budget. */
    boostedReferenceProbability: z.number().min(0).max(1).default(0.2),
    /** How a drop is detected in 'policy': CUSUM on agreement (default) or the window mean (the paper). */
    detector: z.enum(['cusum', 'window']).default('cusum'),
    /** CUSUM reference level k: agreement above it drains the statistic, below it fills it. */
    cusumReference: z.number().min(0).max(1).default(0.9),
    /** CUSUM decision threshold h. */
    cusumThreshold: z.number().positive().default(2.5),
    /**
     * The sampler's normal reference probability. When given, suspicion raises it: in 'policy' the probability asked
     * for is base x (1 + suspicionBoost x S/h), capped at boostedReferenceProbability. Calm costs the base rate (S is
     * 0 while agreement holds); a few disagreements buy more evidence at once (the paper's estimate rate following
     * the accuracy trend), so a real drop is confirmed in far fewer calls.
     */
    referenceProbability: z.number().min(0).max(1).optional(),
    suspicionBoost: z.number().min(0).default(6),
  })
  .refine((config) => config.recoverThreshold >= config.threshold, {
    message: 'recoverThreshold must be at least threshold',
    path: ['recoverThreshold'],
  })
  .refine((config) => config.minSamples === undefined || config.minSamples <= config.windowSize, {
    message: 'minSamples must not exceed windowSize',
    path: ['minSamples'],
  });

export type ControllerConfig = z.input<typeof controllerConfigSchema>;

/** The defaults, in one place: the proxy's flags take theirs from here. */
export const controllerDefaults = controllerConfigSchema.parse({});

export type ControllerState = 'policy' | 'fallback';
/** How one decision is routed: the policy's action, the safe action, or the policy's action as a measured probe. */
export type RouteMode = 'policy' | 'safe' | 'probe';

export interface Route {
  state: ControllerState;
  mode: RouteMode;
  /** Set when mode is 'safe': the quality to send instead of the policy's action. */
  safeQuality?: number;
}

export interface AgreementSample {
  /** 0..1: how well the answer agreed with the reference (rewards.ts `agreement` or `paperAccuracy`). */
  agreement: number;
  /** The mode the decision was routed with; 'safe' samples do not measure the policy and are ignored. */
  mode: RouteMode;
  /** The model that decided; samples from another model than the current one are ignored. */
  modelId: string;
}

export type TransitionReason = 'agreement-dropped' | 'agreement-recovered' | 'model-loaded';

export interface ControllerTransition {
  from: ControllerState;
  to: ControllerState;
  reason: TransitionReason;
  /** Window mean that triggered it (null for a model load with an empty window). */
  windowMean: number | null;
  samples: number;
  modelId: string;
  /** ISO time. */
  at: string;
}

export interface ControllerSnapshot {
  state: ControllerState;
  modelId: string;
  /** Mean agreement over the window; null while empty. */
  windowMean: number | null;
  samples: number;
  windowSize: number;
  /** ISO time of the last transition (or of creation). */
  since: string;
  transitions: number;
  needsRetraining: boolean;
  /** Samples ignored: routed 'safe', from another model, or not a number. */
  ignoredSamples: number;
  /** The CUSUM statistic (0 when agreement is as expected); fallback when it passes `cusumThreshold`. */
  cusum: number;
  /** Drops the detector saw that calibration absorbed by backing off (no fallback). */
  absorbedDrops: number;
}

interface ControllerEvents {
  transition: [ControllerTransition];
  /** Raised on entering fallback because agreement dropped: the trainer should produce a new model. */
  'retraining-needed': [ControllerSnapshot];
}

export class Controller extends EventEmitter<ControllerEvents> {
  readonly config: Readonly<z.output<typeof controllerConfigSchema>> & { readonly minSamples: number };
  #now: () => number;
  #state: ControllerState = 'policy';
  #modelId: string;
  #window: Float64Array;
  #count = 0;
  #next = 0;
  #sum = 0;
  #since: number;
  #transitions = 0;
  #needsRetraining = false;
  #ignored = 0;
  #cusum = 0;
  #absorbed = 0;

  readonly #absorb: () => boolean;

  /**
   * `absorb`: asked when the detector trips; returning true means someone else (online calibration, which backs off
   * to a safer operating point) has dealt with the drop, so the policy stays in charge and the detector starts over.
   */
  constructor(
    config: ControllerConfig & { modelId: string },
    dependencies: { now?: () => number; absorb?: () => boolean } = {},
  ) {
    super();
    this.#absorb = dependencies.absorb ?? (() => false);
    const parsed = controllerConfigSchema.parse(config);
    this.config = Object.freeze({ ...parsed, minSamples: parsed.minSamples ?? parsed.windowSize });
    this.#now = dependencies.now ?? Date.now;
    this.#modelId = config.modelId;
    this.#window = new Float64Array(this.config.windowSize);
    this.#since = this.#now();
  }

  get state(): ControllerState {
    return this.#state;
  }

  get needsRetraining(): boolean {
    return this.#needsRetraining;
  }

  /** What to ask the reference sampler for on this decision: the boosted probability while in fallback. */
  referenceRequest(): AcquireOptions {
    const { boostedReferenceProbability: boosted, referenceProbability: base } = this.config;
    if (this.#state === 'fallback') return { probability: boosted };
    if (base === undefined || this.config.detector !== 'cusum' || this.#cusum === 0) return {};
    const suspicion = this.#cusum / this.config.cusumThreshold;
    return { probability: Math.min(Math.max(boosted, base), base * (1 + this.config.suspicionBoost * suspicion)) };
  }

  /** Route one decision, given whether the sampler granted it a reference. */
  route(referenceGranted: boolean): Route {
    if (this.#state === 'policy') return { state: 'policy', mode: 'policy' };
    return referenceGranted
      ? { state: 'fallback', mode: 'probe' }
      : { state: 'fallback', mode: 'safe', safeQuality: this.config.safeQuality };
  }

  /** Feed the agreement measured for one referenced decision. */
  record(sample: AgreementSample): void {
    if (sample.mode === 'safe' || sample.modelId !== this.#modelId || !Number.isFinite(sample.agreement)) {
      this.#ignored += 1;
      return;
    }
    const value = Math.min(1, Math.max(0, sample.agreement));
    if (this.#count === this.#window.length) this.#sum -= this.#window[this.#next]!;
    else this.#count += 1;
    this.#window[this.#next] = value;
    this.#sum += value;
    this.#next = (this.#next + 1) % this.#window.length;

    // Calibration's probes (mode 'probe' while the policy is in charge) try cheaper points on purpose: their misses
    // count in the window the status shows, not as evidence that the point requests go at has dropped.
    if (this.#state === 'policy' && sample.mode !== 'probe') {
      this.#cusum = Math.max(0, this.#cusum + this.config.cusumReference - value);
    }
    const tripped =
      this.config.detector === 'cusum'
        ? this.#cusum > this.config.cusumThreshold
        : this.#count >= this.config.minSamples && this.#mean()! < this.config.threshold;
    if (this.#state === 'policy' && tripped && this.#absorb()) {
      this.#absorbed += 1;
      this.#clearWindow();
    } else if (this.#state === 'policy' && tripped) {
      const mean = this.#mean()!;
      this.#needsRetraining = true;
      this.#transition('fallback', 'agreement-dropped', mean);
      this.emit('retraining-needed', this.snapshot());
    } else if (
      this.#state === 'fallback' &&
      this.#count >= this.config.minSamples &&
      this.#mean()! >= this.config.recoverThreshold
    ) {
      const mean = this.#mean()!;
      this.#needsRetraining = false;
      this.#transition('policy', 'agreement-recovered', mean);
    }
  }

  /** A new model went live: trust it again (back to 'policy'), with an empty window. */
  onModelLoaded(modelId: string): void {
    const previousMean = this.#mean();
    const previousSamples = this.#count;
    this.#modelId = modelId;
    this.#needsRetraining = false;
    if (this.#state === 'fallback') this.#transition('policy', 'model-loaded', previousMean, previousSamples);
    else this.#clearWindow();
  }

  snapshot(): ControllerSnapshot {
    return {
      state: this.#state,
      modelId: this.#modelId,
      windowMean: this.#mean(),
      samples: this.#count,
      windowSize: this.config.windowSize,
      since: new Date(this.#since).toISOString(),
      transitions: this.#transitions,
      needsRetraining: this.#needsRetraining,
      ignoredSamples: this.#ignored,
      cusum: this.#cusum,
      absorbedDrops: this.#absorbed,
    };
  }

  #mean(): number | null {
    return this.#count === 0 ? null : this.#sum / this.#count;
  }

  #clearWindow(): void {
    this.#cusum = 0;
    this.#count = 0;
    this.#next = 0;
    this.#sum = 0;
  }

  #transition(to: ControllerState, reason: TransitionReason, windowMean: number | null, samples = this.#count): void {
    const from = this.#state;
    this.#state = to;
    this.#since = this.#now();
    this.#transitions += 1;
    // Each state is judged on samples taken in it: the fallback window holds only probes, the new policy window
    // only decisions made after recovery.
    this.#clearWindow();
    this.emit('transition', {
      from,
      to,
      reason,
      windowMean,
      samples,
      modelId: this.#modelId,
      at: new Date(this.#since).toISOString(),
    });
  }
}

export function createController(
  config: ControllerConfig & { modelId: string },
  dependencies: { now?: () => number; absorb?: () => boolean } = {},
): Controller {
  return new Controller(config, dependencies);
}
