/**
 * Online calibration of one provider/operation's operating point from its reference uploads: how small a resolution
 * (the side floor) and how low a level (the safe rung, then the policy's ladder: agreement thresholds, or JPEG
 * qualities for a fixed rule) still hold the target agreement on THIS backend. A policy trained on one backend meets
 * another; the per-image policy keeps choosing within the point, calibration moves the point.
 *
 * The grid: sides (SIDES, largest first) x levels (safest first). Point (i, j) is cheaper than (i', j') when i >= i'
 * and j >= j'; agreement is taken to fall as points get cheaper (monotone), so a verdict covers a whole region:
 *   - a point is GOOD when some point at least as cheap passed its test (its own samples);
 *   - a point is BAD when some point at least as safe failed its test, and none at least as cheap passed (the two
 *     contradict only when one test erred, and a false "bad" is far likelier than a false "good": `falseBad`).
 * The test is a sequential probability ratio test per point (Wald): agreement a little above the target against a
 * little below it, a false "good" (clients pay) rarer than a false "bad" (a saving missed for a while). Unlike a
 * confidence bound looked at after every sample, it is valid under those looks, and it decides a point agreeing just
 * about as well as the target too (half of them within about 170 samples), instead of leaving it undecided for ever
 * (past `stallSamples`, a nearer candidate is tried instead).
 * Moves: from the current point, one candidate per dimension, `step` points cheaper (galloping: the step doubles after
 * a success, halves after a failure or a stall). Clients always get the current point. A referenced request also pays
 * probes: the same image sent at each undecided candidate (up to `probesPerReference`), off the client's path, judged
 * against the same reference answer; the client's own answer meanwhile keeps testing the current point. A good
 * candidate becomes the current point. A current point that fails its own test goes back one step safer, keeping the
 * evidence that failed it; the controller's CUSUM on its samples (abrupt changes such as a backend swap: `onDrift`)
 * sends it back further and forgets what was known about cheaper points.
 * Evidence fades (`memory` per sample), so a settled point is re-probed now and then and drift shows.
 * Cautious when it knows little: it starts at a safe point and asks for more references while a candidate is undecided.
 */
import { z } from 'zod';
import type { OperatingPoint } from '../policy/types.ts';
import type { AcquireOptions } from './reference-sampler.ts';

export const calibrationConfigSchema = z.object({
  /** Agreement with the reference the calibration holds (--target-agreement). */
  target: z.number().min(0).max(1).default(0.97),
  /**
   * Each point's test tells "agrees at target + marginAbove" (good) from "at target - marginBelow" (bad); a point
   * between is decided either way (at the defaults: one agreeing 0.97 passes 10% of the time, 0.99 88%, half of them
   * within about 170 samples; 1.0 passes after about 125).
   */
  marginAbove: z.number().positive().max(0.5).default(0.02),
  marginBelow: z.number().positive().max(0.5).default(0.01),
  /**
   * The test's error rates: calling a point at target - marginBelow good (what clients would pay for: kept small), and
   * calling one at target + marginAbove bad (a saving missed until the evidence fades and it is tried again).
   * falseGood is per search step: the step's candidates (up to `probesPerReference`) are tested at once, each at
   * falseGood / probesPerReference (Bonferroni), so that three chances to pass a bad point are not three times the
   * risk. At the defaults a point agreeing 0.965 passes about 4% of the time (at 0.05 each: 10%), and one agreeing
   * 1.0 needs about 125 samples (90).
   */
  falseGood: z.number().positive().max(0.5).default(0.05),
  falseBad: z.number().positive().max(0.5).default(0.2),
  /** One-sided normal quantile of the Wilson bounds the snapshot shows for the current point (1.64: 95%). */
  z: z.number().positive().default(1.64),
  /**
   * Evidence weight kept per new sample at the key (0.9995: about the last 2000 samples count), so that a backend
   * that changed shows and a verdict, right or wrong, is tried again. While calibrating a candidate gets a quarter of
   * the samples (it can hold about 500, enough for `stallSamples`). Once settled, a bad verdict fades in time, and
   * that candidate then gets the settled re-checks, one sample in five (about 400): that is how a false "bad" is
   * re-tested.
   */
  memory: z.number().min(0).max(1).default(0.9995),
  /**
   * Share of referenced requests that also pay probes while calibrating, and once settled: then one probe, a re-check
   * of a candidate not proven good, the one whose verdict faded (or that new samples undid) first if there is one.
   * References are not boosted for a re-check: settled, calls beyond the clients' are the base reference rate times
   * 1 + settledProbeShare.
   */
  probeShare: z.number().min(0).max(1).default(1),
  settledProbeShare: z.number().min(0).max(1).default(0.25),
  /**
   * Candidates probed on one referenced request while calibrating (once settled: one). Each probe is a call, but the
   * reference it is judged against is paid once: with three, 3 of every 4 calls test a candidate (with one, 1 of 2),
   * and the candidates' verdicts come together instead of one after another.
   */
  probesPerReference: z.number().int().min(1).max(3).default(3),
  /**
   * Reference probability asked for while a candidate is undecided (still capped by the per-minute budget). With
   * three probes each, 0.2 costs 0.8 calls per client request while calibrating and gives 0.6 candidate samples.
   */
  calibratingReferenceProbability: z.number().min(0).max(1).default(0.2),
  /**
   * Own samples after which a candidate still undecided counts as stalled: it agrees about as well as the target (at
   * the defaults, 17-23% of tests of a point agreeing 0.975-0.985 are undecided at 300, 13% at 0.99: the figures of
   * scripts/calibration-test-oc.ts), and the test may need many hundreds more. The step in its dimension then
   * halves: a nearer candidate agrees better and is decided sooner (the stalled one's samples are kept). A stalled
   * candidate at step 1 no longer keeps the reference boost on: calibration is settled when every candidate is
   * decided or stalled, and the stalled ones are re-checked at the settled rate.
   */
  stallSamples: z.number().int().positive().default(300),
  /**
   * A candidate stalls sooner when its samples already say a pass is far off: after 100 of its own, the upper Wilson
   * bound at this z of its mean is under target + marginAbove (it agrees less than the "good" hypothesis, where the
   * test is slow). With 1.5 (scripts/calibration-test-oc.ts) a candidate agreeing 0.98 stalls 42% of the time, half of
   * them deciding or stalling within 126 samples; one agreeing 0.99 stalls 18% (a nearer, surer point is tried
   * first), and passes 74%. 0 = only `stallSamples`.
   */
  futilityZ: z.number().min(0).default(1.5),
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
  /**
   * Side 0 is the stored size above the API's documented working side (which caps every other side): the one point
   * safer than the documented ceiling, for a backend that works at a higher resolution than documented.
   */
  aboveWorkingSide?: boolean;
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
   * True from the start, after every move and after drift, until every candidate is decided or stalled: references
   * are boosted then. Once settled, a candidate whose verdict faded is re-checked at the base reference rate.
   */
  exploring: boolean;
  /**
   * Points (indices as in `counts`) that stalled as candidates since the last move: undecided after `stallSamples`.
   * Kept, not re-derived from the faded count, so that one left to the settled re-checks does not re-open the boost
   * each time its evidence fades below the mark (and stall again on the boosted probes, over and over).
   */
  stalled: number[];
}

export interface CalibrationSnapshot {
  /** The operating point every request gets now. */
  point: OperatingPoint;
  current: GridPoint;
  /** True while a cheaper candidate is still undecided (references boosted, probes frequent). */
  calibrating: boolean;
  candidates: Candidate[];
  /** The current point's own estimate: mean agreement and its Wilson bounds (null without samples). */
  estimate: { mean: number; low: number; high: number; samples: number } | null;
  samples: number;
  moves: number;
  target: number;
}

/** A cheaper point being tested: its verdict, and its own (faded) evidence. */
export interface Candidate extends GridPoint {
  verdict: 'good' | 'bad' | 'undecided';
  /** Undecided after `stallSamples` of its own: re-checked at the settled rate only. */
  stalled: boolean;
  samples: number;
  /** Mean agreement of its own samples (null without any). */
  mean: number | null;
}

export interface CalibrationEvent {
  type: 'moved';
  from: GridPoint;
  to: GridPoint;
  reason: 'candidate-good' | 'current-bad' | 'drift';
}

/** Where one request goes: the current point for the client, and, on some referenced requests, shadow probes. */
export interface RouteChoice {
  point: OperatingPoint;
  grid: GridPoint;
  /** Candidates to send the same image at as well, off the client's path, judged against the same reference. */
  probes: { point: OperatingPoint; grid: GridPoint }[];
}

/** Samples a candidate is probed for before the others take turns: half the verdicts at 0.99 come within 170. */
const FOCUS_SAMPLES = 150;
/** Own samples before `futilityZ` may stall a candidate: fewer say too little about a point agreeing near 0.99. */
const FUTILITY_SAMPLES = 100;

/**
 * The futility rule (`futilityZ`): `n` own samples summing to `sum` already say a pass is far off, their upper Wilson
 * bound under the "good" hypothesis.
 */
export function passFarOff(sum: number, n: number, config: z.output<typeof calibrationConfigSchema>): boolean {
  const { futilityZ, target, marginAbove } = config;
  return futilityZ > 0 && n >= FUTILITY_SAMPLES && wilson(sum / n, n, futilityZ).high < target + marginAbove;
}

export class Calibrator {
  readonly config: Readonly<z.output<typeof calibrationConfigSchema>>;
  readonly #sides: readonly (number | null)[];
  readonly #aboveWorkingSide: boolean;
  readonly #levels: number;
  readonly #rng: () => number;
  /** The test's constants, from the frozen config: asked for on every request, for every point of a region. */
  readonly #test: PointTest;
  #state: CalibrationState;
  #onEvent: (event: CalibrationEvent) => void;

  constructor(
    config: CalibrationConfig,
    grid: CalibrationGrid,
    options: { rng?: () => number; onEvent?: (event: CalibrationEvent) => void; state?: CalibrationState } = {},
  ) {
    this.config = Object.freeze(calibrationConfigSchema.parse(config));
    this.#sides = grid.sides;
    this.#aboveWorkingSide = grid.aboveWorkingSide ?? false;
    this.#levels = Math.max(1, grid.levels);
    this.#rng = options.rng ?? Math.random;
    this.#onEvent = options.onEvent ?? (() => {});
    this.#test = pointTest(this.config);
    const restored = options.state && this.#fits(options.state) ? options.state : undefined;
    this.#state = restored ? structuredClone(restored) : this.#fresh(grid.start, grid.firstSteps);
  }

  /** The point of a grid index. */
  pointOf(grid: GridPoint): OperatingPoint {
    const point: OperatingPoint = { floor: this.#sides[grid.side] ?? null, level: grid.level };
    return this.#aboveWorkingSide && grid.side === 0 ? { ...point, aboveWorkingSide: true } : point;
  }

  /** What the sampler should be asked for on this request: more references while calibrating, never fewer. */
  referenceRequest(base: number): AcquireOptions {
    return this.#calibrating() ? { probability: Math.max(base, this.config.calibratingReferenceProbability) } : {};
  }

  /**
   * Exploring (from the start, a move or drift) while some candidate is still undecided and not stalled. Each
   * candidate ends it within `stallSamples` of its own, so a candidate agreeing just about as well as the target
   * cannot keep the boosted rate forever. Without probes (probeShare 0) candidates get no samples, and more
   * references would buy nothing.
   */
  #calibrating(candidates?: readonly Candidate[]): boolean {
    const state = this.#state;
    if (state.exploring && (this.config.probeShare === 0 || !(candidates ?? this.#candidates()).some(isOpen))) {
      state.exploring = false;
    }
    return state.exploring;
  }

  /**
   * Where one request goes: the client always gets the current point; a referenced request may also pay a probe of a
   * candidate (undecided ones while calibrating, the others now and then once settled, as their evidence fades).
   */
  route(referenced: boolean): RouteChoice {
    const current = this.#state.current;
    const choice: RouteChoice = { point: this.pointOf(current), grid: { ...current }, probes: [] };
    if (!referenced) return choice;
    const candidates = this.#candidates();
    const calibrating = this.#calibrating(candidates);
    const open = candidates.filter(isOpen);
    const settledPool = open.length > 0 ? open : candidates.filter((c) => c.verdict !== 'good');
    const pool = calibrating ? candidates.filter((c) => c.verdict === 'undecided') : settledPool;
    const share = calibrating ? this.config.probeShare : this.config.settledProbeShare;
    if (pool.length === 0 || !(this.#rng() < share)) return choice;
    const chosen = calibrating ? this.#focus(pool) : [pool[Math.floor(this.#rng() * pool.length)]!];
    return {
      ...choice,
      probes: chosen.map((c) => ({ point: this.pointOf(c), grid: { side: c.side, level: c.level } })),
    };
  }

  /**
   * Calibrating, when fewer probes than candidates are allowed: the first in the order listed (the diagonal first)
   * until it has FOCUS_SAMPLES of its own; past that, one agreeing about as well as the target (the slowest to decide)
   * must not starve the others, so they take turns, the fewest samples first. (Settled, the one probe goes to a
   * candidate drawn at random: a diagonal bad by its safer neighbours' verdicts, whatever its own samples, would
   * otherwise take every re-check, and a neighbour's false "bad" would never be re-tested.)
   */
  #focus(pool: Candidate[]): Candidate[] {
    const first = pool.find((c) => c.samples < FOCUS_SAMPLES) ?? pool.reduce((a, b) => (b.samples < a.samples ? b : a));
    const rest = pool.filter((c) => c !== first).sort((a, b) => a.samples - b.samples);
    return [first, ...rest].slice(0, this.config.probesPerReference);
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
    if (this.#bad(state.current) && !this.#good(state.current)) {
      this.#backOff('current-bad');
      return;
    }
    this.#advance();
  }

  /** Suspected drift from outside (a new backend, a controller alarm): back off and forget what is stale. */
  onDrift(): void {
    this.#backOff('drift');
  }

  /** A point's verdict by the region rules (its own test, or a cheaper point's pass, or a safer point's fail). */
  verdictAt(p: GridPoint): Candidate['verdict'] {
    if (!this.#inGrid(p)) return 'undecided';
    return this.#good(p) ? 'good' : this.#bad(p) ? 'bad' : 'undecided';
  }

  /** The point clients get now (what `snapshot()` says, without building the rest of it). */
  get current(): GridPoint {
    return { ...this.#state.current };
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
    const candidates = this.#candidates();
    return {
      point: this.pointOf(this.#state.current),
      current: { ...this.#state.current },
      calibrating: this.#calibrating(candidates),
      candidates,
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
      stalled: [],
    };
  }

  #fits(state: CalibrationState): boolean {
    return (
      state.levels === this.#levels &&
      state.sides.length === this.#sides.length &&
      state.sides.every((side, i) => side === this.#sides[i]) &&
      state.counts.length === this.#sides.length * this.#levels &&
      state.stalled.every((k) => k < state.counts.length) &&
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

  /**
   * The test's verdict on a point's own (faded) samples: their log-likelihood ratio, agreeing at target + marginAbove
   * against target - marginBelow, beyond Wald's bounds for the two error rates.
   */
  #verdict(p: GridPoint): 'good' | 'bad' | undefined {
    const k = this.#index(p);
    const llr = sprtLlr(this.#state.sums[k]!, this.#state.counts[k]!, this.#test.hypotheses);
    if (llr >= this.#test.good) return 'good';
    if (llr <= this.#test.bad) return 'bad';
    return undefined;
  }

  /**
   * Proven to hold the target: some point at least as cheap as `p` passed its own test (agreement falls as points get
   * cheaper, so `p` agrees at least as well). Own samples only: pooling points would let a few failed tries at a much
   * cheaper point hold back every safer one.
   */
  #good(p: GridPoint): boolean {
    for (let i = p.side; i < this.#sides.length; i++) {
      for (let j = p.level; j < this.#levels; j++) {
        if (this.#verdict({ side: i, level: j }) === 'good') return true;
      }
    }
    return false;
  }

  /** Some point at least as safe as `p` failed its own test: so does `p`. */
  #bad(p: GridPoint): boolean {
    for (let i = 0; i <= p.side; i++) {
      for (let j = 0; j <= p.level; j++) {
        if (this.#verdict({ side: i, level: j }) === 'bad') return true;
      }
    }
    return false;
  }

  #candidates(): Candidate[] {
    const { current, steps, counts, sums } = this.#state;
    const out: Candidate[] = [];
    const add = (p: GridPoint) => {
      const clamped = this.#clamp(p);
      if (clamped.side === current.side && clamped.level === current.level) return;
      if (out.some((c) => c.side === clamped.side && c.level === clamped.level)) return;
      const verdict = this.verdictAt(clamped);
      const k = this.#index(clamped);
      const samples = Math.round(counts[k]! * 10) / 10;
      const stalled = verdict === 'undecided' && this.#stalled(clamped);
      out.push({ ...clamped, verdict, stalled, samples, mean: counts[k]! > 0 ? sums[k]! / counts[k]! : null });
    };
    // The diagonal first: cheaper in both dimensions, a success there proves both single-step candidates at once.
    add({ side: current.side + steps.side, level: current.level + steps.level });
    add({ side: current.side + steps.side, level: current.level });
    add({ side: current.side, level: current.level + steps.level });
    return out;
  }

  /**
   * Take a proven candidate (galloping on), or shorten the step of a dimension whose candidate failed or stalled
   * (`stallSamples`).
   */
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
        if ((this.#bad(candidate) || this.#stalled(candidate)) && state.steps[dimension] > 1) {
          state.steps[dimension] = Math.max(1, Math.floor(state.steps[dimension] / 2));
          continue;
        }
        break;
      }
    }
  }

  /**
   * Whether an undecided `p` has stalled: marked once its own samples reach `stallSamples` (or say a pass is far off:
   * `futilityZ`), until the next move.
   */
  #stalled(p: GridPoint): boolean {
    const k = this.#index(p);
    const { stalled, counts } = this.#state;
    if (stalled.includes(k)) return true;
    const n = counts[k]!;
    if (n < this.config.stallSamples && !passFarOff(this.#state.sums[k]!, n, this.config)) return false;
    stalled.push(k);
    return true;
  }

  #backOff(reason: 'current-bad' | 'drift'): void {
    const state = this.#state;
    const from = state.current;
    const to = this.#clamp({ side: from.side - 1, level: from.level - (reason === 'drift' ? 2 : 1) });
    // After drift, what was learnt at the new point and everything cheaper is stale: forget it. A point that failed
    // its own test keeps its evidence: that is what failed it, and wiping it would send the search straight back.
    if (reason === 'drift') {
      this.#forgetFrom(to);
      state.exploring = true;
    }
    state.steps = { side: 1, level: 1 };
    this.#move(to, reason);
  }

  #forgetFrom(to: GridPoint): void {
    const state = this.#state;
    for (let i = to.side; i < this.#sides.length; i++) {
      for (let j = to.level; j < this.#levels; j++) {
        const k = this.#index({ side: i, level: j });
        state.counts[k] = 0;
        state.sums[k] = 0;
      }
    }
  }

  #move(to: GridPoint, reason: 'candidate-good' | 'current-bad' | 'drift'): void {
    const from = this.#state.current;
    if (from.side === to.side && from.level === to.level) return;
    this.#state.current = { ...to };
    this.#state.moves += 1;
    this.#state.exploring = true;
    // Cheaper points are tried afresh from the new point (those still at the mark stall again at once).
    this.#state.stalled = [];
    this.#onEvent({ type: 'moved', from, to, reason });
  }
}

/** A candidate still being decided: undecided, and short of `stallSamples` of its own. */
const isOpen = (c: Candidate) => c.verdict === 'undecided' && !c.stalled;

/**
 * A state for a grid of the same sides and `levels` levels whose first `rungs` levels are the same actions as
 * `state`'s (the model-free rungs: the safe quality down to the start's): their evidence at every side, the current
 * side and the side step are carried over, and the current level if it is one of them (else the lowest rung); every
 * other level starts afresh, its first candidate `levelStep` below that rung. What a key keeps when its levels are
 * replaced under it.
 */
export function carryRungs(
  state: CalibrationState,
  rungs: number,
  levels: number,
  levelStep: number,
): CalibrationState {
  const size = state.sides.length * levels;
  const counts = new Array<number>(size).fill(0);
  const sums = new Array<number>(size).fill(0);
  state.sides.forEach((_, side) => {
    for (let level = 0; level < rungs; level++) {
      counts[side * levels + level] = state.counts[side * state.levels + level]!;
      sums[side * levels + level] = state.sums[side * state.levels + level]!;
    }
  });
  return {
    sides: [...state.sides],
    levels,
    current: { side: state.current.side, level: Math.min(state.current.level, rungs - 1) },
    steps: { side: state.steps.side, level: Math.max(1, levelStep) },
    counts,
    sums,
    samples: state.samples,
    moves: state.moves,
    exploring: true,
    stalled: [],
  };
}

export interface Hypotheses {
  /** ln(p1 / p0) and ln((1 - p1) / (1 - p0)): what one agreeing and one disagreeing sample add. */
  agree: number;
  disagree: number;
}

/** One point's test: its two hypotheses, and Wald's bounds on the log-likelihood ratio for a verdict. */
export interface PointTest {
  hypotheses: Hypotheses;
  good: number;
  bad: number;
}

/**
 * The test every point gets under `config`: "agrees at target + marginAbove" against "at target - marginBelow", with
 * falseGood shared by the candidates tested at once (Bonferroni).
 */
export function pointTest(config: z.output<typeof calibrationConfigSchema>): PointTest {
  const { target, marginAbove, marginBelow, falseGood, falseBad, probesPerReference } = config;
  const falseGoodPerCandidate = falseGood / probesPerReference;
  return {
    hypotheses: hypothesesFor(target + marginAbove, target - marginBelow),
    good: Math.log((1 - falseBad) / falseGoodPerCandidate),
    bad: Math.log(falseBad / (1 - falseGoodPerCandidate)),
  };
}

/** The test of "agrees at `good`" (capped below 1) against "agrees at `bad`". */
export function hypothesesFor(good: number, bad: number): Hypotheses {
  const p1 = Math.min(good, 1 - 1e-3);
  const p0 = Math.max(Math.min(bad, p1 - 1e-3), 1e-3);
  return { agree: Math.log(p1 / p0), disagree: Math.log((1 - p1) / (1 - p0)) };
}

/**
 * The log-likelihood ratio of `n` (effective) samples summing to `sum`, each an agreement in [0, 1]: a sample of 0.6
 * counts as 0.6 of an agreeing and 0.4 of a disagreeing one (the Bernoulli quasi-likelihood of a mean).
 */
export function sprtLlr(sum: number, n: number, h: Hypotheses): number {
  return sum * h.agree + (n - sum) * h.disagree;
}

/** Wilson score interval of a mean of [0, 1] values over n (effective) samples, one-sided quantile z. */
export function wilson(mean: number, n: number, z: number): { low: number; high: number } {
  const z2 = z * z;
  const denominator = 1 + z2 / n;
  const center = (mean + z2 / (2 * n)) / denominator;
  const half = (z * Math.sqrt((mean * (1 - mean)) / n + z2 / (4 * n * n))) / denominator;
  return { low: Math.max(0, center - half), high: Math.min(1, center + half) };
}
