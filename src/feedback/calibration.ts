/**
 * Online calibration of one provider/operation's operating point from its reference uploads: how small a resolution
 * (the side floor) and how low a level of the policy's ladder (agreement threshold, or JPEG quality for a fixed rule)
 * still hold the target agreement on THIS backend. A policy trained on one backend meets another; the per-image policy
 * keeps choosing within the point, calibration moves the point.
 *
 * The grid: sides (SIDES, largest first) x levels (the policy's ladder, safest first). Point (i, j) is cheaper than
 * (i', j') when i >= i' and j >= j'; agreement is taken to fall as points get cheaper (monotone), so evidence bounds
 * whole regions:
 *   - a point is GOOD when some point at least as cheap has a Wilson lower bound >= target (its own samples);
 *   - a point is BAD when some point at least as safe has a Wilson upper bound < target.
 * Moves: from the current point, one candidate per dimension, `step` points cheaper (galloping: the step doubles after a
 * success, halves after a failure). Referenced requests are mostly sent at a candidate (probes) while one is undecided,
 * a quarter of them once both are decided; the current point is what every other request gets. A good candidate becomes
 * the current point. A current point that turns bad (its own samples, or the controller's CUSUM on them for abrupt
 * changes such as a backend swap: `onDrift`) sends it back, one step safer, evidence about it and cheaper points
 * forgotten.
 * Evidence fades (`memory` per sample), so a settled point is re-probed now and then and drift shows.
 * Cautious when it knows little: it starts at a safe point and asks for more references while a candidate is undecided.
 */
import { z } from 'zod';
import type { OperatingPoint } from '../policy/types.ts';
import type { AcquireOptions } from './reference-sampler.ts';

export const calibrationConfigSchema = z.object({
  /** Agreement with the reference the calibration holds (--target-agreement). */
  target: z.number().min(0).max(1).default(0.97),
  /** One-sided normal quantile of the bounds judging a point (1.64: 95%; they are checked after every sample). */
  z: z.number().positive().default(1.64),
  /** Effective samples a point needs before a lower bound can call it good. */
  minSamples: z.number().positive().default(10),
  /** Evidence weight kept per new sample at the key (0.998: about the last 500 samples count). */
  memory: z.number().min(0).max(1).default(0.998),
  /** Share of referenced requests sent at a candidate while one is undecided, and once both are decided. */
  probeShare: z.number().min(0).max(1).default(0.9),
  settledProbeShare: z.number().min(0).max(1).default(0.25),
  /** Reference probability asked for while a candidate is undecided (still capped by the per-minute budget). */
  calibratingReferenceProbability: z.number().min(0).max(1).default(0.25),
  /** References spent exploring from one point before the boost stops (the candidates are then re-checked slowly). */
  explorationBudget: z.number().int().positive().default(300),
});
export type CalibrationConfig = z.input<typeof calibrationConfigSchema>;
export const calibrationDefaults = calibrationConfigSchema.parse({});

/** A point of the grid by indices: side index (0 = largest) and level index (0 = safest). */
export interface GridPoint {
  side: number;
  level: number;
}

export interface CalibrationGrid {
  /** Side floors, largest first; null = as stored. */
  sides: readonly (number | null)[];
  /** Number of levels of the policy's ladder. */
  levels: number;
  /** Where to start (cautious). */
  start: GridPoint;
  /**
   * The first candidate's distance from the start per dimension (default 4 and 4): e.g. the level a model was trained
   * at, so that the first probe tests the model's own claim on this backend.
   */
  firstSteps?: { side?: number; level?: number };
}

/** What calibration keeps, small enough to persist beside the decision log (calibration-store.ts). */
export interface CalibrationState {
  sides: (number | null)[];
  levels: number;
  current: GridPoint;
  steps: { side: number; level: number };
  /** Effective sample count and agreement sum per point, row-major by side then level. */
  counts: number[];
  sums: number[];
  samples: number;
  moves: number;
  /**
   * True from the start and after every move until both candidates are decided: references are boosted then. Once
   * settled, a candidate whose evidence faded is re-checked at the base rate, not at the calibrating one.
   */
  exploring: boolean;
  /** `samples` when exploring last began. */
  exploringSince: number;
}

export interface CalibrationSnapshot {
  /** The operating point every request gets now. */
  point: OperatingPoint;
  current: GridPoint;
  /** True while a cheaper candidate is still undecided (references boosted, probes frequent). */
  calibrating: boolean;
  candidates: (GridPoint & { verdict: 'good' | 'bad' | 'undecided' })[];
  /** The current point's own estimate: mean agreement and its Wilson bounds (null without samples). */
  estimate: { mean: number; low: number; high: number; samples: number } | null;
  samples: number;
  moves: number;
  target: number;
}

export interface CalibrationEvent {
  type: 'moved';
  from: GridPoint;
  to: GridPoint;
  reason: 'candidate-good' | 'current-bad' | 'drift';
}

export interface RouteChoice {
  point: OperatingPoint;
  grid: GridPoint;
  probe: boolean;
}

export class Calibrator {
  readonly config: Readonly<z.output<typeof calibrationConfigSchema>>;
  readonly #sides: readonly (number | null)[];
  readonly #levels: number;
  readonly #rng: () => number;
  #state: CalibrationState;
  #onEvent: (event: CalibrationEvent) => void;

  constructor(
    config: CalibrationConfig,
    grid: CalibrationGrid,
    options: { rng?: () => number; onEvent?: (event: CalibrationEvent) => void; state?: CalibrationState } = {},
  ) {
    this.config = Object.freeze(calibrationConfigSchema.parse(config));
    this.#sides = grid.sides;
    this.#levels = Math.max(1, grid.levels);
    this.#rng = options.rng ?? Math.random;
    this.#onEvent = options.onEvent ?? (() => {});
    const restored = options.state && this.#fits(options.state) ? options.state : undefined;
    this.#state = restored ? structuredClone(restored) : this.#fresh(grid.start, grid.firstSteps);
  }

  /** The point of a grid index. */
  pointOf(grid: GridPoint): OperatingPoint {
    return { floor: this.#sides[grid.side] ?? null, level: grid.level };
  }

  /** What the sampler should be asked for on this request: more references while calibrating, never fewer. */
  referenceRequest(base: number): AcquireOptions {
    return this.#calibrating() ? { probability: Math.max(base, this.config.calibratingReferenceProbability) } : {};
  }

  /**
   * Exploring (from the start or a move) with some candidate still undecided, for at most `explorationBudget`
   * references without a verdict: a candidate that agrees just about as well as the target would otherwise keep the
   * boosted rate forever.
   */
  #calibrating(): boolean {
    const state = this.#state;
    if (!state.exploring) return false;
    const spent = state.samples - state.exploringSince;
    if (spent >= this.config.explorationBudget || !this.#candidates().some((c) => c.verdict === 'undecided')) {
      state.exploring = false;
    }
    return state.exploring;
  }

  /** Where one request goes: the current point, or, for some referenced requests, an undecided candidate. */
  route(referenced: boolean): RouteChoice {
    const current = this.#state.current;
    if (referenced) {
      const undecided = this.#candidates().filter((c) => c.verdict === 'undecided');
      const share = this.#calibrating() ? this.config.probeShare : this.config.settledProbeShare;
      const pool = undecided.length > 0 ? undecided : this.#candidates().filter((c) => c.verdict !== 'good');
      if (pool.length > 0 && this.#rng() < share) {
        // One candidate at a time (split evenly, each would take longer): the first undecided in the order listed (the
        // diagonal first), unless another is nearer its verdict.
        const probe = pool.reduce((a, b) => (this.#evidence(b) > this.#evidence(a) + this.config.minSamples ? b : a));
        return { point: this.pointOf(probe), grid: { side: probe.side, level: probe.level }, probe: true };
      }
    }
    return { point: this.pointOf(current), grid: { ...current }, probe: false };
  }

  /** One reference's agreement for a request sent at `grid`. */
  record(grid: GridPoint, agreement: number): void {
    if (!Number.isFinite(agreement) || !this.#inGrid(grid)) return;
    const value = Math.min(1, Math.max(0, agreement));
    const state = this.#state;
    for (let k = 0; k < state.counts.length; k++) {
      state.counts[k]! *= this.config.memory;
      state.sums[k]! *= this.config.memory;
    }
    const k = this.#index(grid);
    state.counts[k]! += 1;
    state.sums[k]! += value;
    state.samples += 1;
    if (this.#bad(state.current)) {
      this.#backOff('current-bad');
      return;
    }
    this.#advance();
  }

  /** Suspected drift from outside (a new backend, a controller alarm): back off and forget what is stale. */
  onDrift(): void {
    this.#backOff('drift');
  }

  /** Whether calibration has room to act: false at the safest point (then the controller's fallback is the net). */
  get atSafest(): boolean {
    return this.#state.current.side === 0 && this.#state.current.level === 0;
  }

  state(): CalibrationState {
    return structuredClone(this.#state);
  }

  snapshot(): CalibrationSnapshot {
    const k = this.#index(this.#state.current);
    const n = this.#state.counts[k]!;
    const bounds = n > 0 ? wilson(this.#state.sums[k]! / n, n, this.config.z) : undefined;
    return {
      point: this.pointOf(this.#state.current),
      current: { ...this.#state.current },
      calibrating: this.#calibrating(),
      candidates: this.#candidates(),
      estimate: bounds ? { mean: this.#state.sums[k]! / n, ...bounds, samples: n } : null,
      samples: this.#state.samples,
      moves: this.#state.moves,
      target: this.config.target,
    };
  }

  #fresh(start: GridPoint, firstSteps: CalibrationGrid['firstSteps'] = {}): CalibrationState {
    const size = this.#sides.length * this.#levels;
    return {
      sides: [...this.#sides],
      levels: this.#levels,
      current: this.#clamp(start),
      steps: { side: Math.max(1, firstSteps.side ?? 4), level: Math.max(1, firstSteps.level ?? 4) },
      counts: new Array(size).fill(0),
      sums: new Array(size).fill(0),
      samples: 0,
      moves: 0,
      exploring: true,
      exploringSince: 0,
    };
  }

  #fits(state: CalibrationState): boolean {
    return (
      state.levels === this.#levels &&
      state.sides.length === this.#sides.length &&
      state.sides.every((side, i) => side === this.#sides[i]) &&
      state.counts.length === this.#sides.length * this.#levels &&
      this.#inGrid(state.current)
    );
  }

  #index = (p: GridPoint) => p.side * this.#levels + p.level;
  #inGrid = (p: GridPoint) =>
    Number.isInteger(p.side) &&
    Number.isInteger(p.level) &&
    p.side >= 0 &&
    p.side < this.#sides.length &&
    p.level >= 0 &&
    p.level < this.#levels;
  #clamp = (p: GridPoint): GridPoint => ({
    side: Math.min(Math.max(0, p.side), this.#sides.length - 1),
    level: Math.min(Math.max(0, p.level), this.#levels - 1),
  });

  /** Wilson bounds of one point's own samples, when it has enough of them. */
  #bounds(p: GridPoint, minimum: number): { low: number; high: number } | undefined {
    const k = this.#index(p);
    const n = this.#state.counts[k]!;
    if (n < minimum) return undefined;
    return wilson(this.#state.sums[k]! / n, n, this.config.z);
  }

  /**
   * Proven to hold the target: some point at least as cheap as `p` has a Wilson lower bound at or above it on its own
   * samples (agreement falls as points get cheaper, so `p` agrees at least as well). Own samples only: pooling points
   * would let a few failed tries at a much cheaper point hold back every safer one.
   */
  #good(p: GridPoint): boolean {
    for (let i = p.side; i < this.#sides.length; i++) {
      for (let j = p.level; j < this.#levels; j++) {
        const bounds = this.#bounds({ side: i, level: j }, this.config.minSamples);
        if (bounds && bounds.low >= this.config.target) return true;
      }
    }
    return false;
  }

  /** Samples gathered at `p` itself: how close a candidate is to a verdict. */
  #evidence(p: GridPoint): number {
    return this.#state.counts[this.#index(p)]!;
  }

  /** Some point at least as safe as `p` misses the target for sure (its own samples): so does `p`. */
  #bad(p: GridPoint): boolean {
    for (let i = 0; i <= p.side; i++) {
      for (let j = 0; j <= p.level; j++) {
        const bounds = this.#bounds({ side: i, level: j }, 3);
        if (bounds && bounds.high < this.config.target) return true;
      }
    }
    return false;
  }

  #candidates(): (GridPoint & { verdict: 'good' | 'bad' | 'undecided' })[] {
    const { current, steps } = this.#state;
    const out: (GridPoint & { verdict: 'good' | 'bad' | 'undecided' })[] = [];
    const add = (p: GridPoint) => {
      const clamped = this.#clamp(p);
      if (clamped.side === current.side && clamped.level === current.level) return;
      const verdict = this.#bad(clamped) ? 'bad' : this.#good(clamped) ? 'good' : 'undecided';
      out.push({ ...clamped, verdict });
    };
    // The diagonal first: cheaper in both dimensions, a success there proves both single-step candidates at once.
    add({ side: current.side + steps.side, level: current.level + steps.level });
    add({ side: current.side + steps.side, level: current.level });
    add({ side: current.side, level: current.level + steps.level });
    return out;
  }

  /** Take a proven candidate (galloping on), or shorten the step of a dimension whose candidate failed. */
  #advance(): void {
    const state = this.#state;
    for (const dimension of ['side', 'level'] as const) {
      for (;;) {
        const candidate = this.#clamp({
          ...state.current,
          [dimension]: state.current[dimension] + state.steps[dimension],
        });
        if (candidate[dimension] === state.current[dimension]) break;
        if (this.#good(candidate)) {
          this.#move(candidate, 'candidate-good');
          state.steps[dimension] *= 2;
          continue;
        }
        if (this.#bad(candidate) && state.steps[dimension] > 1) {
          state.steps[dimension] = Math.max(1, Math.floor(state.steps[dimension] / 2));
          // A verdict is progress: the exploration budget counts from here.
          state.exploringSince = state.samples;
          continue;
        }
        break;
      }
    }
  }

  #backOff(reason: 'current-bad' | 'drift'): void {
    const state = this.#state;
    const from = state.current;
    const to = this.#clamp({ side: from.side - 1, level: from.level - (reason === 'drift' ? 2 : 1) });
    // What was learnt about the abandoned point and everything cheaper is stale (or was wrong): forget it.
    for (let i = to.side; i < this.#sides.length; i++) {
      for (let j = to.level; j < this.#levels; j++) {
        const k = this.#index({ side: i, level: j });
        state.counts[k] = 0;
        state.sums[k] = 0;
      }
    }
    state.steps = { side: 1, level: 1 };
    this.#move(to, reason);
  }

  #move(to: GridPoint, reason: 'candidate-good' | 'current-bad' | 'drift'): void {
    const from = this.#state.current;
    if (from.side === to.side && from.level === to.level) return;
    this.#state.current = { ...to };
    this.#state.moves += 1;
    this.#state.exploring = true;
    this.#state.exploringSince = this.#state.samples;
    this.#onEvent({ type: 'moved', from, to, reason });
  }
}

/** Wilson score interval of a mean of [0, 1] values over n (effective) samples, one-sided quantile z. */
export function wilson(mean: number, n: number, z: number): { low: number; high: number } {
  const z2 = z * z;
  const denominator = 1 + z2 / n;
  const center = (mean + z2 / (2 * n)) / denominator;
  const half = (z * Math.sqrt((mean * (1 - mean)) / n + z2 / (4 * n * n))) / denominator;
  return { low: Math.max(0, center - half), high: Math.min(1, center + half) };
}
