import type { FastifyBaseLogger } from 'fastify';
import type { Answer } from '../answer.ts';
import { encodeJpeg } from '../codec/index.ts';
import type { CodecLimits } from '../codec/types.ts';
import { QUALITIES, SIDES } from '../policy/actions.ts';
import { FixedQualityPolicy } from '../policy/fixed.ts';
import { QualityLadderPolicy } from '../policy/ladder.ts';
import type { DecisionContext, OperatingPoint, Policy } from '../policy/types.ts';
import type { ProviderName, TaskKind } from '../providers/types.ts';
import {
  type Exchange,
  referenceExchange,
  type ShadowPlan,
  type SlotOutcome,
  type SlotPlan,
  type SlotWork,
  sentBytesOf,
  shadowExchange,
  shadowSlot,
} from '../request/exchange.ts';
import type { LearningHooks } from '../request/steps.ts';
import {
  type CalibrationConfig,
  type CalibrationSnapshot,
  type CalibrationState,
  Calibrator,
  carryRungs,
  type GridPoint,
} from './calibration.ts';
import type { CalibrationStore, StoredCalibration } from './calibration-store.ts';
import { type Controller, type ControllerConfig, type ControllerSnapshot, createController } from './controller.ts';
import { decisionLine } from './decision-line.ts';
import type { DecisionLog } from './decision-log.ts';
import type { AcquireOptions, ReferenceSampler } from './reference-sampler.ts';
import { type ReferenceKind, type RewardSpec, rewardSpec } from './reward-spec.ts';

/** A policy that may route to per-operation models (the PolicyRouter): controllers then track each model's id. */
type RoutedPolicy = Policy & { policyFor?(context: DecisionContext): Policy };

export interface LearningLoopOptions {
  policy: RoutedPolicy;
  sampler: ReferenceSampler;
  log?: DecisionLog;
  referenceKind: ReferenceKind;
  /** Per task kind, a reference kind that replaces `referenceKind` (text: the original, docs/EMULATOR.md). */
  referenceKinds?: Readonly<Partial<Record<TaskKind, ReferenceKind>>>;
  controller: Omit<ControllerConfig, 'modelId'>;
  /** Per task kind, the controller's safe quality when it must be safer than the controller's own. */
  safeQualities?: Partial<Record<TaskKind, number>>;
  codecLimits: CodecLimits;
  /** Runs a reference exchange through the request path's rebuild -> sign -> forward -> read-answer steps. */
  runReference: (reference: Exchange) => Promise<void>;
  /**
   * Shrinks one image as its plan says (the request path's inspect -> decide -> encode, under its work limits): a
   * calibration probe's upload. Absent: no probes are sent (calibration then learns from the current point only).
   */
  shrinkProbe?: (provider: ProviderName, slot: SlotWork) => Promise<SlotOutcome>;
  logger: FastifyBaseLogger;
  /** One proxy-made upload or its saving: a reference sent, reused (what was sent was the reference), failed; a probe. */
  onReference?: (provider: string, result: 'sent' | 'reused' | 'failed' | 'probe') => void;
  /**
   * Online calibration of each provider/operation's operating point; absent = off (the policies' own defaults).
   * `levels`: what it walks below the safe quality for a model that predicts agreement: the model's thresholds
   * (default), or the model-free quality ladder from the start (`#modelFreeLadder`).
   */
  calibration?: { config: CalibrationConfig; store?: CalibrationStore; levels?: 'model' | 'ladder' };
}

/** The model-free ladder's first candidate below its lowest rung: two rungs down (q55 under q75). */
const LADDER_FIRST_STEP = 2;

/**
 * The lowest model-free rung: the paper's q75, or the safe quality if that is lower. With a safe quality above it
 * (95 against the client's original) the rungs between are the levels a key starts on and descends through, because
 * against the original q75 itself can lose answers (docs/BENCHMARKS.md, photos run U). Where no reference can be
 * sent it is where a key starts, and stays (`#startsSafe`).
 */
const LOWEST_RUNG_QUALITY = 75;

/**
 * The model-free rungs for a safe quality, safest first: the safe quality, the grid's qualities between, and
 * LOWEST_RUNG_QUALITY (just the safe quality when it is not above that).
 */
function rungQualitiesFor(safe: number): readonly number[] {
  const lowest = Math.min(safe, LOWEST_RUNG_QUALITY);
  const between = QUALITIES.filter((q) => q < safe && q > lowest).sort((a, b) => b - a);
  return Object.freeze([safe, ...between, ...(lowest < safe ? [lowest] : [])]);
}

interface Tracked {
  controller: Controller;
  context: DecisionContext;
  kind: SlotWork['operation']['kind'];
  /** Absent when calibration is off. */
  calibrator?: Calibrator;
  /**
   * The calibrator's first levels are model-free rungs (`rungQualitiesFor`: the controller's safe quality down to
   * LOWEST_RUNG_QUALITY, at the point's side) above the policy's ladder, so that a model's predictions are trusted
   * only once references show they hold on this backend.
   */
  safeRung?: boolean;
  /**
   * Set when the model's strictest level failed its test on this backend at the current side, or from the start with
   * `levels: 'ladder'`: the levels are then a model-free quality ladder from the safe quality down (`modelFreeLadder`);
   * after a failure, until another model goes live.
   */
  ladder?: QualityLadderPolicy;
  /** What the calibrated state was learnt for (the store's modelId): the live model's id, or the ladder's. */
  calibrationId?: string;
  /** The operation has a documented working side: calibration may go above it (side 0) when it fails. */
  capped: boolean;
}

/**
 * The online half of AdaCompress around the proxy: plan each request (reference or not; per image the policy or the
 * safe action), log every decision, send reference uploads off the client's path, and feed their agreement to one
 * controller per provider/operation (the inference-estimate-retrain loop of PAPER.md, with a budget). Agreement is
 * measured with the live model's own reward weights (rewardSpec), so online and offline judge alike.
 */
export class LearningLoop implements LearningHooks {
  readonly #options: LearningLoopOptions;
  readonly #controllers = new Map<string, Tracked>();
  readonly #pending = new Set<Promise<void>>();
  /**
   * Which calibrator planned each grid point handed out: a sample that comes back after its key's calibrator was
   * replaced (a new model, the model-free ladder) is of another grid, and must not be recorded on the new one.
   */
  readonly #planners = new WeakMap<GridPoint, Calibrator>();

  /** The model-free rungs, safest first (`rungQualitiesFor`): fixed by the safe quality, so built once. */
  readonly #rungs: readonly number[];

  constructor(options: LearningLoopOptions) {
    this.#options = options;
    this.#rungs = rungQualitiesFor(options.controller.safeQuality ?? LOWEST_RUNG_QUALITY);
  }

  plan(exchange: Exchange): void {
    const tracked = exchange.slots.map((slot) => this.#track(exchange, slot));
    const sampler = this.#options.sampler;
    exchange.reference = sampler.tryAcquire(
      strongest(
        sampler.probability,
        tracked.flatMap((t) => [
          t.controller.referenceRequest(),
          ...(t.calibrator ? [t.calibrator.referenceRequest(sampler.probability)] : []),
        ]),
      ),
    );
    const granted = exchange.reference.granted;
    exchange.slots.forEach((slot, i) => {
      const { controller, calibrator } = tracked[i]!;
      const route = controller.route(granted);
      if (route.mode === 'safe') {
        const safe = Math.max(route.safeQuality ?? 75, this.#options.safeQualities?.[slot.operation.kind] ?? 0);
        slot.plan = { route, policy: safePolicy(safe) };
        return;
      }
      // The routed policy (a router holds each model while it decides, so a hot swap cannot release it mid-use).
      const policy = this.#options.policy;
      if (!calibrator) {
        slot.plan = { route, policy };
        return;
      }
      const choice = calibrator.route(granted);
      for (const grid of [choice.grid, ...choice.probes.map((probe) => probe.grid)])
        this.#planners.set(grid, calibrator);
      const probes = choice.probes.map((probe) => ({ ...this.#atGrid(tracked[i]!, probe), grid: probe.grid }));
      slot.plan = {
        route,
        ...this.#atGrid(tracked[i]!, choice),
        grid: choice.grid,
        ...(probes.length ? { probes } : {}),
      };
    });
  }

  /** Who decides at a calibration grid point, and at which of its own levels: a model-free rung, or the live policy. */
  #atGrid(tracked: Tracked, at: { point: OperatingPoint; grid: GridPoint }): Omit<ShadowPlan, 'grid'> {
    if (tracked.ladder) return { policy: tracked.ladder, point: at.point };
    if (!tracked.safeRung) return { policy: this.#options.policy, point: at.point };
    const rungs = this.#rungs;
    const rung = rungs[at.grid.level];
    if (rung !== undefined) return { policy: this.#rungPolicy(rung), point: { ...at.point, level: 0 } };
    // Never more than the lowest rung at this point: the model chooses the quality at the point's side, up to the
    // lowest rung's quality (without the ceiling its stricter levels sent the stored size at q85 for unsure images,
    // more bytes than the rung below them, and the grid's "cheaper" was not).
    const point = { ...at.point, level: at.grid.level - rungs.length, maxQuality: rungs.at(-1)! };
    return { policy: this.#options.policy, point };
  }

  #rungPolicy(quality: number): Policy {
    return safePolicy(quality, `calibration-safe-q${quality}`);
  }

  /** Log the decisions and, when the plan asked for one, schedule the reference upload. Never throws. */
  record(exchange: Exchange): void {
    const decided = decidedSlots(exchange);
    if (decided.length === 0) return;
    for (const slot of decided)
      this.#options.log?.logDecision(decisionLine(exchange, slot, decisionIdOf(exchange, slot)));
    if (!exchange.reference?.granted || !decided.some((slot) => slot.answer)) return;
    const job = this.#reference(exchange, decided)
      .catch((error) => this.#options.logger.warn({ err: error, id: exchange.id }, 'reference upload failed'))
      .finally(() => this.#pending.delete(job));
    this.#pending.add(job);
  }

  /** A model went live: controllers whose policy changed trust the new model again; calibration starts afresh for it. */
  onModelLoaded(policyIdFor: (context: DecisionContext) => string): void {
    for (const [key, tracked] of this.#controllers) {
      const id = policyIdFor(tracked.context);
      if (id === tracked.controller.snapshot().modelId) continue;
      tracked.controller.onModelLoaded(id);
      if (tracked.calibrator) {
        // What the backend told us about resolution stays true; where the new model's levels hold is not known yet.
        const side = tracked.calibrator.snapshot().current.side;
        const policy = this.#policyFor(tracked.context);
        this.#newCalibrator(tracked, key, policy, side, this.#ladderFirst(policy) ? this.#ladderStart(policy) : {});
      }
    }
  }

  controllers(): Record<string, ControllerSnapshot> {
    return Object.fromEntries([...this.#controllers].map(([key, { controller }]) => [key, controller.snapshot()]));
  }

  /**
   * Each calibrated provider/operation's operating point and evidence (status page, metrics, readiness), and what
   * its levels are: the live policy's (`levels` its id), or the model-free ladder's after the model failed here.
   */
  calibration(): Record<string, CalibrationSnapshot & { levels: string }> {
    return Object.fromEntries(
      [...this.#controllers].flatMap(([key, tracked]) => {
        if (!tracked.calibrator) return [];
        const levels = tracked.ladder?.id ?? this.#policyFor(tracked.context).id;
        return [[key, { ...tracked.calibrator.snapshot(), levels }]];
      }),
    );
  }

  /** Persist the calibration now (shutdown). */
  async flushCalibration(): Promise<void> {
    await this.#options.calibration?.store?.flush();
  }

  /**
   * Wait for reference uploads in flight (shutdown), at most `timeoutMs`: every one, including those started while
   * waiting (an exchange finishing its last steps starts its upload then). Returns how many were still running.
   */
  async drain(timeoutMs: number): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    while (this.#pending.size > 0) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, left);
      });
      await Promise.race([Promise.allSettled([...this.#pending]), timeout]);
      clearTimeout(timer);
    }
    return this.#pending.size;
  }

  #track(exchange: Exchange, slot: SlotWork): Tracked {
    let tracked = this.#controllers.get(slot.key);
    if (!tracked) {
      const context = { provider: exchange.provider!.name, operation: slot.operation.name };
      // A drop the controller detects is first calibration's to absorb (back off to a safer point); only at its
      // safest point, or with calibration off, does the controller fall back to the safe action.
      const absorb = () => {
        const calibrator = this.#controllers.get(slot.key)?.calibrator;
        if (!calibrator || calibrator.atSafest) return false;
        calibrator.onDrift();
        return true;
      };
      const controller = createController(
        { ...this.#options.controller, modelId: this.#policyFor(context).id },
        { absorb },
      );
      const key = slot.key;
      controller.on('transition', (t) => this.#options.logger.warn({ key, ...t }, 'controller state changed'));
      controller.on('retraining-needed', (s) =>
        this.#options.logger.warn({ key, modelId: s.modelId, windowMean: s.windowMean }, 'policy needs retraining'),
      );
      tracked = {
        controller,
        context,
        kind: slot.operation.kind,
        capped: slot.operation.limits.workingSide !== undefined,
      };
      if (this.#options.calibration) {
        const policy = this.#policyFor(context);
        const stored = this.#options.calibration.store?.get(key);
        const start = tracked.capped ? 1 : 0;
        this.#newCalibrator(tracked, key, policy, start, this.#restored(policy, stored));
      }
      this.#controllers.set(key, tracked);
    }
    return tracked;
  }

  /**
   * A calibrator for a key and its live policy. The grid is sides x levels. Sides: SIDES, and for an operation with a
   * documented working side, the stored size above it before them (the start is at the documented ceiling; when that
   * fails its test, the backend works at a higher resolution than documented, and calibration backs off above it).
   * Levels: for a model that predicts agreement, the model-free rungs and then its ladder of thresholds; for a
   * rule, its ladder of qualities. The start is cautious: the stored size within the API's working side, on the
   * safest rung (`#startsSafe`; the lowest, LOWEST_RUNG_QUALITY, when no reference can be sent), because nothing yet
   * says that this backend, or these photos, are what the model was trained on (on 1-12 MP photos the label models'
   * predictions extrapolate: even the DetectLabels model's safest threshold agreed only 0.93, docs/BENCHMARKS.md).
   * The first level candidate is the model's own trained level. A stored state for this very model, when there is
   * one, says where it already is.
   */
  #newCalibrator(
    tracked: Tracked,
    key: string,
    policy: Policy,
    side: number,
    options: {
      state?: CalibrationState;
      ladder?: QualityLadderPolicy;
      firstSteps?: { side?: number; level?: number };
    } = {},
  ): void {
    const calibration = this.#options.calibration!;
    const { state, ladder } = options;
    const safeRung = !ladder && policy.ladderKind === 'agreement';
    // Model-free rungs above the levels (the model's own, or the ladder's first ones), safest first.
    const rungs = safeRung || ladder ? this.#rungs.length : 0;
    const levels = ladder ? ladder.ladder.length : rungs + (policy.ladder?.length ?? 1);
    const lowestRung = Math.max(0, rungs - 1);
    const start = { side, level: this.#startsSafe() ? 0 : lowestRung };
    // The first level candidate, counted from the lowest rung: the model's own trained level (a rule: the
    // calibrator's default). A start above that rung keeps the same candidate.
    const trained = policy.trainedLevel ?? (safeRung ? 3 : 0);
    const step = trained + (safeRung ? 1 : 0);
    const fromLowest = options.firstSteps ?? (step > 0 ? { level: step } : {});
    const firstSteps =
      fromLowest.level === undefined
        ? fromLowest
        : { ...fromLowest, level: fromLowest.level + lowestRung - start.level };
    const calibrationId = ladder?.id ?? policy.id;
    const calibrator = new Calibrator(
      calibration.config,
      {
        sides: tracked.capped ? [null, ...SIDES] : SIDES,
        aboveWorkingSide: tracked.capped,
        levels,
        start,
        firstSteps,
      },
      {
        ...(state ? { state } : {}),
        onEvent: (event) => this.#options.logger.info({ key, ...event, modelId: calibrationId }, 'calibration moved'),
      },
    );
    calibration.store?.set(key, { modelId: calibrationId, state: calibrator.state() });
    tracked.calibrator = calibrator;
    tracked.safeRung = safeRung;
    tracked.calibrationId = calibrationId;
    if (ladder) tracked.ladder = ladder;
    else delete tracked.ladder;
  }

  /**
   * Whether a fresh key starts on the safest rung (the safe quality: q95 against the client's original) rather than
   * the lowest (q75). Cautious when it knows nothing, and cheaper as the references allow: that needs references, so
   * with a reference budget of 0, where nothing will ever move the point, the start stays the paper's q75. Against
   * the original a q75 start that fails its test by a photo or two makes every point cheaper than it bad (the region
   * rule), and the search is then left one dimension: on the phone photos in 2400 requests the q95 start reached
   * 384 px at q75 on DetectLabels, the q75 start 1024 px at q85 (docs/BENCHMARKS.md, runs AA and Z).
   */
  #startsSafe(): boolean {
    return this.#options.sampler.maxPerMinute > 0;
  }

  /**
   * Whether this policy's key walks the model-free ladder from the start (`levels: 'ladder'`): only a model that
   * predicts agreement has thresholds to replace; a rule's own qualities are its ladder already.
   */
  #ladderFirst(policy: Policy): boolean {
    return this.#options.calibration?.levels === 'ladder' && policy.ladderKind === 'agreement';
  }

  /** A fresh start on the model-free ladder: its first level candidate LADDER_FIRST_STEP rungs below the safe one. */
  #ladderStart(policy: Policy) {
    return { ladder: this.#modelFreeLadder(policy), firstSteps: { level: LADDER_FIRST_STEP } };
  }

  /**
   * What a key's first calibrator starts from. A stored state is kept for the levels it was learnt on: this model's,
   * or its model-free ladder's. With levels "ladder", a state of this model's own levels gives the ladder what holds
   * for both: the rungs' evidence at every side and the current side (as when the model's levels fail).
   */
  #restored(policy: Policy, stored: StoredCalibration | undefined) {
    const ladder = this.#modelFreeLadder(policy);
    if (stored?.modelId === ladder.id) return { state: stored.state, ladder };
    const ownLevels = stored?.modelId === policy.id ? stored.state : undefined;
    if (!this.#ladderFirst(policy)) return ownLevels ? { state: ownLevels } : {};
    if (!ownLevels) return this.#ladderStart(policy);
    return { ladder, state: this.#carryRungs(ownLevels, ladder) };
  }

  /**
   * The levels a key falls back to when its model's predictions do not hold on this backend: the safe quality, then
   * the grid's qualities below it, at the calibrated side (a rule: propensity 1). Model-free, so monotone by
   * construction, and calibration walks it down as the references allow.
   */
  #modelFreeLadder(policy: Policy): QualityLadderPolicy {
    const below = QUALITIES.filter((q) => q < this.#rungs.at(-1)! && q >= 15).sort((a, b) => b - a);
    const qualities = [...this.#rungs, ...below];
    return new QualityLadderPolicy(qualities, `${policy.id}:model-free-q${qualities.join('-')}`);
  }

  /** A state of the model's levels carried to the ladder: the rungs are the same actions on both grids. */
  #carryRungs(state: CalibrationState, ladder: QualityLadderPolicy): CalibrationState {
    return carryRungs(state, this.#rungs.length, ladder.ladder.length, LADDER_FIRST_STEP);
  }

  /**
   * The model's strictest level (the first below the rungs, the threshold closest to certainty) failed its test at
   * the side clients get now: then every level of this model does there and at every smaller side (the region
   * rule), and the levels left are the rungs. Instead of stopping at q75, switch this key's levels to the model-free
   * ladder, from the current side; the side search carries on (the rungs' evidence at every side, and the side step).
   * A new model gets its own chance.
   */
  #leaveModelLevelsIfFailed(tracked: Tracked, key: string): void {
    const calibrator = tracked.calibrator;
    if (!calibrator || !tracked.safeRung || tracked.ladder) return;
    const current = calibrator.current;
    const strictest = this.#rungs.length;
    if (current.level >= strictest || calibrator.verdictAt({ side: current.side, level: strictest }) !== 'bad') return;
    const policy = this.#policyFor(tracked.context);
    const ladder = this.#modelFreeLadder(policy);
    this.#options.logger.warn(
      { key, modelId: policy.id, side: current.side, levels: ladder.id },
      "calibration: the model's strictest level loses answers on this backend; its levels give way to a model-free ladder",
    );
    // The ladder's first rungs are the same rungs: what was learnt about them at every side still holds.
    this.#newCalibrator(tracked, key, policy, current.side, {
      ladder,
      state: this.#carryRungs(calibrator.state(), ladder),
    });
  }

  #policyFor(context: DecisionContext): Policy {
    const policy = this.#options.policy;
    return policy.policyFor ? policy.policyFor(context) : policy;
  }

  /** How agreement is measured for a slot: its task kind, weighted as the live model for it was trained. */
  #specFor(slot: SlotWork): RewardSpec {
    const tracked = this.#controllers.get(slot.key);
    const weights = tracked ? this.#policyFor(tracked.context).rewardWeights : undefined;
    return rewardSpec(slot.operation.kind, weights);
  }

  async #reference(exchange: Exchange, decided: readonly SlotWork[]): Promise<void> {
    const references = await this.#referenceImages(decided);
    const provider = exchange.provider!.name;
    const same = decided.every((slot) => sentBytesOf(slot).equals(references.get(slot.field) ?? slot.bytes));
    let answers: (Answer | undefined)[];
    let sent: readonly SlotWork[];
    let status = exchange.response?.status ?? 0;
    let ms = 0;
    if (same) {
      // What was sent is byte for byte the reference: its answer is the reference answer, no second paid call.
      answers = decided.map((slot) => slot.answer);
      sent = decided;
      this.#options.onReference?.(provider, 'reused');
    } else {
      const reference = referenceExchange(exchange, references);
      try {
        await this.#send(reference);
      } catch (error) {
        this.#options.onReference?.(provider, 'failed');
        throw error;
      }
      this.#options.onReference?.(provider, 'sent');
      status = reference.response?.status ?? 0;
      ms = reference.response?.ms ?? 0;
      sent = decided.map((slot) => reference.slots.find((r) => r.field === slot.field) ?? slot);
      answers = sent.map((slot) => slot.answer);
    }
    const judged = decided.map((slot, i) => {
      const id = decisionIdOf(exchange, slot);
      const referenceBytes = same ? sentBytesOf(slot) : sentBytesOf(sent[i]!);
      const reference: ReferenceSent = {
        kind: referenceBytes === slot.bytes ? 'original' : 'q75',
        bytes: referenceBytes,
        status,
        ms,
      };
      this.#logReference(id, reference, answers[i]);
      const referenceAnswer = answers[i];
      const spec = this.#specFor(slot);
      // A reference that can judge nothing (for labels an empty answer, the paper's rule, as the trainer and the
      // bench apply it) is logged but is no sample: an unsure classifier's "nothing" flips with any change at all.
      const judge = spec.usableReference(referenceAnswer) ? referenceAnswer : undefined;
      if (judge && slot.answer) this.#learn(slot, slot.plan?.grid, spec.agreement(judge, slot.answer));
      return { slot, id, reference, referenceAnswer, judge, spec };
    });
    await this.#probe(exchange, judged);
  }

  #logReference(decisionId: string, reference: ReferenceSent, answer: Answer | undefined): void {
    this.#options.log?.logReference({
      id: `${decisionId}.ref`,
      decisionId,
      kind: reference.kind,
      bytes: reference.bytes.length,
      upstreamStatus: reference.status,
      upstreamMs: Math.round(reference.ms * 100) / 100,
      answer: answer ?? null,
    });
  }

  /**
   * Calibration's probes of a referenced request, one round per candidate rank: each image with a probe of that rank
   * is shrunk at its candidate and sent in a copy of the request (the client already has its answer), and that answer
   * is judged against the same reference. A probe whose bytes were already answered at this reference (what the
   * client got, the reference itself, an earlier probe) costs no call. A probe that was sent is logged as a decision
   * of its own (`<id>.probe`, `<id>.probe2`, ...; point.probe true) with its reference. A probe that must be paid for
   * takes a slot of the reference budget; without one, it and the later rounds are not sent.
   */
  async #probe(exchange: Exchange, judged: readonly Judged[]): Promise<void> {
    const shrink = this.#options.shrinkProbe;
    const probing = judged.filter((j) => j.slot.plan?.probes?.length && j.judge);
    if (!shrink || probing.length === 0) return;
    // What this reference has already answered, per image, by the bytes sent.
    const answered: Answered = new Map(
      probing.map((j) => [
        j.slot.field,
        [
          { bytes: sentBytesOf(j.slot), answer: j.slot.answer },
          { bytes: j.reference.bytes, answer: j.referenceAnswer },
        ],
      ]),
    );
    const rounds = Math.max(...probing.map((j) => j.slot.plan!.probes!.length));
    for (let rank = 0; rank < rounds; rank++) {
      if (!(await this.#probeRound(exchange, probing, rank, answered, shrink))) return;
    }
  }

  async #probeRound(
    exchange: Exchange,
    probing: readonly Judged[],
    rank: number,
    answered: Answered,
    shrink: NonNullable<LearningLoopOptions['shrinkProbe']>,
  ): Promise<boolean> {
    const provider = exchange.provider!.name;
    const planOf = (slot: SlotWork): SlotPlan => {
      const { route, probes } = slot.plan!;
      const probe = probes![rank]!;
      return { route, policy: probe.policy, point: probe.point, grid: probe.grid, isProbe: true };
    };
    // Each probed image shrunk at its candidate of this rank, with the outcome it would be sent as.
    const probes = new Map<string, SlotWork>();
    for (const { slot } of probing.filter((j) => j.slot.plan!.probes!.length > rank)) {
      const probe = shadowSlot(slot, undefined, planOf(slot));
      const outcome = await shrink(provider, probe).catch(() => undefined);
      // No decision (the image could not be worked on): nothing to learn about the candidate.
      if (outcome?.decision) probes.set(slot.field, { ...probe, outcome });
    }
    const withProbe = probing.filter((j) => probes.has(j.slot.field));
    // Each probe's answer if this reference already had it (compared once: the bytes can be megabytes).
    const known = new Map(
      withProbe.map((j) => {
        const bytes = sentBytesOf(probes.get(j.slot.field)!);
        return [j, answered.get(j.slot.field)!.find((a) => a.bytes.equals(bytes))] as const;
      }),
    );
    let shadow: Exchange | undefined;
    if (withProbe.some((j) => known.get(j) === undefined)) {
      // A probe is a paid call like a reference: it takes a slot of the same per-minute budget, or is not sent (nor
      // are the later rounds: the budget will not have refilled by then).
      if (!this.#options.sampler.tryAcquire({ force: true }).granted) return false;
      // Images without a probe in this round go as the client's request sent them.
      shadow = shadowExchange(
        exchange,
        'probe',
        (slot) => probes.get(slot.field)?.outcome ?? slot.outcome,
        (slot) => probes.get(slot.field)?.plan,
      );
      await this.#send(shadow);
      this.#options.onReference?.(provider, 'probe');
    }
    for (const j of withProbe) {
      const sent = shadow?.slots.find((s) => s.field === j.slot.field);
      const probe = sent ?? probes.get(j.slot.field)!;
      if (sent) {
        // A probe that was sent is a sample of its own for the trainer; one with a known answer would repeat one.
        const id = `${j.id}.probe${rank === 0 ? '' : rank + 1}`;
        this.#options.log?.logDecision(decisionLine(shadow!, sent, id));
        this.#logReference(id, j.reference, j.referenceAnswer);
        answered.get(j.slot.field)!.push({ bytes: sentBytesOf(sent), answer: sent.answer });
      }
      const answer = sent ? sent.answer : known.get(j)?.answer;
      if (!answer) continue;
      this.#learn(probe, probe.plan!.grid, j.spec.agreement(j.judge!, answer));
    }
    return true;
  }

  /**
   * Send a proxy-made exchange (a reference, a probe) through the reference path and read its answer. An answer
   * left unread (over the response cap) is drained so the connection is released; a failed upload throws.
   */
  async #send(shadow: Exchange): Promise<void> {
    try {
      await this.#options.runReference(shadow);
    } finally {
      if (shadow.response && shadow.response.raw === undefined) shadow.response.body.resume();
    }
    if (shadow.error) throw shadow.error;
  }

  /**
   * One agreement sample at a calibration grid point (none: calibration off or the controller's safe action). The
   * calibrator learns from every one (probes included: they are how it finds cheaper points). The controller's window
   * shows them all; its drop detector watches only the point clients get (probes are expected to miss now and then),
   * and a drop it detects is absorbed by calibration backing off while it can.
   */
  #learn(slot: SlotWork, grid: GridPoint | undefined, agreement: number): void {
    const tracked = this.#controllers.get(slot.key);
    if (!tracked) return;
    const { calibrator, controller } = tracked;
    if (calibrator && grid && this.#planners.get(grid) === calibrator) {
      calibrator.record(grid, agreement);
      this.#options.calibration?.store?.set(slot.key, {
        modelId: tracked.calibrationId ?? controller.snapshot().modelId,
        state: calibrator.state(),
      });
      this.#leaveModelLevelsIfFailed(tracked, slot.key);
    }
    controller.record({
      agreement,
      mode: slot.plan?.isProbe ? 'probe' : (slot.plan?.route.mode ?? 'policy'),
      modelId: slot.outcome?.decision?.modelId ?? '',
    });
  }

  /** The reference image per slot: quality 75 (the paper), or the original when asked or when q75 would be larger. */
  async #referenceImages(decided: readonly SlotWork[]): Promise<Map<string, Buffer>> {
    const references = new Map<string, Buffer>();
    for (const slot of decided) {
      const original = slot.outcome!.original!;
      let reference = original.bytes;
      const kind = this.#options.referenceKinds?.[slot.operation.kind] ?? this.#options.referenceKind;
      if (kind === 'q75') {
        const encoded = await encodeJpeg(original, { quality: 75 }, this.#options.codecLimits).catch(() => undefined);
        // A q75 larger than what the client sent would only cost more: the original is the better reference then.
        if (encoded && encoded.bytes.length < original.bytes.length) reference = encoded.bytes;
      }
      references.set(slot.field, reference);
    }
    return references;
  }
}

/** The reference upload of a slot as sent (or reused): what its probes are judged against too. */
interface ReferenceSent {
  kind: 'original' | 'q75';
  bytes: Buffer;
  status: number;
  ms: number;
}

/** A slot whose reference answer is known, with its decision id. */
interface Judged {
  slot: SlotWork;
  id: string;
  reference: ReferenceSent;
  referenceAnswer: Answer | undefined;
  /** The reference answer when it can judge (the spec's usableReference), else undefined: no sample then. */
  judge: Answer | undefined;
  /** What judges the slot's answers, and its probes'. */
  spec: RewardSpec;
}

/** Per image of a referenced request, the answers already had at that reference, by the bytes that were sent. */
type Answered = Map<string, { bytes: Buffer; answer: Answer | undefined }[]>;

const decidedSlots = (exchange: Exchange) => exchange.slots.filter((s) => s.outcome?.original && s.outcome.decision);

/** The decision id of a slot: the exchange's id, with the slot's index when the request carries several images. */
function decisionIdOf(exchange: Exchange, slot: SlotWork): string {
  return exchange.slots.length > 1 ? `${exchange.id}.${exchange.slots.indexOf(slot)}` : exchange.id;
}

/** One sampler request for a request's images: the most any of their controllers (or calibrators) asks for. */
function strongest(base: number, requests: readonly AcquireOptions[]): AcquireOptions {
  // References turned off by the operator stay off: nothing here may spend what was not allowed.
  if (base === 0) return { probability: 0 };
  const probabilities = requests.flatMap((r) => (r.probability === undefined ? [] : [r.probability]));
  const merged: AcquireOptions = {};
  if (probabilities.length > 0) merged.probability = Math.max(...probabilities);
  if (requests.some((r) => r.force)) merged.force = true;
  return merged;
}

const safePolicies = new Map<string, Policy>();
/**
 * A safe action outside any model: a fixed quality at the point's side, else the stored size (within the API's
 * limits). The controller's (`controller-safe-q75`) and calibration's safe rung (`calibration-safe-q75`).
 */
function safePolicy(quality: number, id = `controller-safe-q${quality}`): Policy {
  let policy = safePolicies.get(id);
  if (!policy) {
    policy = new FixedQualityPolicy(quality, id);
    safePolicies.set(id, policy);
  }
  return policy;
}
