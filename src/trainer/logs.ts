/**
 * Learning from the proxy's decision logs: bandit feedback (one action per image, logged with its propensity), joined
 * with reference answers. Each decision with a usable reference becomes (features, image size, what was sent, its
 * propensity, agreement, size ratio). Actions are matched by what they SEND (quality and longest side), not by the
 * logging model's index, so logs of any model (the paper's quality list, the grid, a fixed rule's safe action) train
 * and evaluate a model of any action list: a logged upload teaches every grid action that sends the same for that
 * image.
 */

import type { EncodeAction } from '../codec/types.ts';
import { listDecisionLogFiles, readDecisionLog } from '../feedback/read-log.ts';
import type { RewardSpec } from '../feedback/reward-spec.ts';
import { AGREEMENT_LADDER, actionKey, candidatesFor, effectiveAction, gridActions } from '../policy/actions.ts';
import { FEATURE_VERSION, featureNames } from '../policy/features.ts';
import type { OnnxPolicy } from '../policy/onnx-policy.ts';
import { forwardHeads } from '../policy/onnx-writer.ts';
import type { OperatingPoint } from '../policy/types.ts';
import type { ImageLimits } from '../providers/types.ts';
import { splitKey } from './api-client.ts';
import { limitsOf, rewardSpecOf } from './dataset.ts';
import { allowedActions, defaultFitOptions, exportPolicy, inputRange, saferSets, thresholdChoice } from './fit.ts';
import { Mlp, type Sample } from './mlp.ts';
import { type LoggedSample, offPolicyEstimates } from './ope.ts';
import { encodePolicy } from './policy-model.ts';
import type { TrainConfig, TrainResult } from './train-config.ts';

export interface LoggedDecision {
  features: number[];
  /** The client's image (stored size): what actions are fitted to. */
  width: number;
  height: number;
  /** What was sent (quality, and maxSide when resized). */
  action: EncodeAction;
  /** The calibrated operating point it was decided at, when the proxy calibrates. */
  point?: OperatingPoint;
  propensity: number;
  accuracy: number;
  ratio: number;
}

/** Importance weights above this are clipped: a rare exploratory action must not dominate the fit. */
export const MAX_IMPORTANCE_WEIGHT = 50;

export async function readLoggedSamples(path: string, key: string): Promise<LoggedDecision[]> {
  const { provider, operation } = splitKey(key);
  const spec = rewardSpecOf(key);
  const files = await listDecisionLogFiles(path);
  const out: LoggedDecision[] = [];
  for await (const { decision, reference } of readDecisionLog(files.length > 0 ? files : [path])) {
    if (decision.provider !== provider || decision.operation !== operation) continue;
    if (!reference || !spec.usableReference(reference.answer) || reference.bytes <= 0) continue;
    if (decision.features?.version !== FEATURE_VERSION) continue;
    const { quality, maxSide } = decision.action;
    const answer = decision.answer ?? undefined;
    out.push({
      features: decision.features.values,
      width: decision.original.width,
      height: decision.original.height,
      action: typeof maxSide === 'number' ? { quality, maxSide } : { quality },
      ...(decision.point
        ? {
            point: {
              floor: decision.point.floor,
              level: decision.point.level,
              ...(decision.point.aboveWorkingSide ? { aboveWorkingSide: true } : {}),
              ...(decision.point.maxQuality !== undefined ? { maxQuality: decision.point.maxQuality } : {}),
            },
          }
        : {}),
      propensity: decision.propensity,
      accuracy: spec.agreement(reference.answer, answer),
      ratio: decision.bytesSent / reference.bytes,
    });
  }
  return out;
}

/** What a target policy does on a logged sample: the upload it sends, and its predicted reward of an upload. */
export interface TargetPolicy {
  sends(sample: LoggedDecision, index: number): EncodeAction;
  predicted?(sample: LoggedDecision, index: number, action: EncodeAction): number;
}

/**
 * OPE of a deterministic target on logged decisions, reward by the key's reward spec. The target matches a log line
 * when it sends the same upload; each sample is a two-arm vector (the logged upload, the target's) so DR's direct
 * term is the reward model at the target's upload and its correction at the logged one.
 */
export function evaluateOnLogs(
  samples: readonly LoggedDecision[],
  target: TargetPolicy,
  spec: RewardSpec,
  seed = 1,
  reward: (s: LoggedDecision) => number = (s) => spec.reward(s.accuracy, s.ratio),
) {
  const logged: LoggedSample[] = samples.map((s, i) => {
    const sent = target.sends(s, i);
    const match = actionKey(sent) === actionKey(s.action);
    const sample: LoggedSample = {
      action: 0,
      propensity: s.propensity,
      reward: reward(s),
      target: match ? [1, 0] : [0, 1],
    };
    if (target.predicted) {
      const atLogged = target.predicted(s, i, s.action);
      sample.predicted = [atLogged, match ? atLogged : target.predicted(s, i, sent)];
    }
    return sample;
  });
  return offPolicyEstimates(logged, { seed, maxWeight: MAX_IMPORTANCE_WEIGHT });
}

/**
 * A model file as a target policy on logs, decided by the proxy's code (OnnxPolicy.decideFromFeatures): under the
 * operation's limits, at the logged side floor (what that request allowed) and the model's own trained level. The
 * reward model for DR is the model's `scores` at the candidate sending the upload (0 where none does).
 */
export async function policyOnLogs(
  policy: OnnxPolicy,
  samples: readonly LoggedDecision[],
  limits: ImageLimits | undefined,
): Promise<TargetPolicy> {
  const sent: EncodeAction[] = [];
  const scores: Float32Array[] = [];
  for (const s of samples) {
    const features = Float32Array.from(s.features);
    const level = policy.trainedLevel ?? s.point?.level ?? 0;
    const at = limitsAt(limits, s);
    const context = {
      ...(at ? { limits: at } : {}),
      ...(s.point ? { point: { ...s.point, level } } : {}),
    };
    sent.push((await policy.decideFromFeatures(features, s, context)).action);
    scores.push((await policy.outputs(features)).reward);
  }
  return {
    sends: (_, i) => sent[i]!,
    predicted: (s, i, action) => {
      const key = actionKey(action);
      const candidate = candidatesFor(policy.actions, s, limitsAt(limits, s), undefined).find(
        (c) => actionKey(c.action) === key,
      );
      return candidate ? scores[i]![candidate.index]! : 0;
    },
  };
}

/**
 * The limits a logged decision was made under: the operation's, without its working side when the decision's point
 * was calibrated above it (the proxy's shrink step does the same).
 */
function limitsAt<L extends ImageLimits | undefined>(limits: L, sample: LoggedDecision): L {
  return sample.point?.aboveWorkingSide && limits ? { ...limits, workingSide: undefined } : limits;
}

/** The grid columns that send the logged upload for that image (under the limits). */
function columnsSending(sample: LoggedDecision, limits: ImageLimits): number[] {
  const key = actionKey(sample.action);
  const columns: number[] = [];
  const at = limitsAt(limits, sample);
  gridActions.forEach((action, k) => {
    const sent = effectiveAction(action, sample, at);
    if (sent && actionKey(sent) === key) columns.push(k);
  });
  return columns;
}

/** Effective samples a threshold needs among the logs (matches weighted by 1/propensity) before it can be chosen. */
export const MIN_MATCHED_SAMPLES = 20;

/**
 * Fit a grid model from logs alone: importance-weighted regression on the outputs of every grid action that sends the
 * logged upload (weight 1/propensity, clipped at 50). The operating point: the cheapest threshold whose
 * self-normalised IPS estimate of agreement meets --accuracy-target with at least MIN_MATCHED_SAMPLES effective
 * matches; else the safest threshold.
 */
export function fitFromLogs(samples: readonly LoggedDecision[], config: TrainConfig): TrainResult {
  if (samples.length < 20) throw new Error(`only ${samples.length} logged decisions with a reference`);
  const limits = limitsOf(config.key);
  const actions = gridActions.length;
  const inputs = featureNames.map((_, i) => i);
  const net = new Mlp({ inputs: inputs.length, hidden: config.hidden, outputs: 2 * actions }, config.seed);
  const training: Sample[] = [];
  let unmatched = 0;
  for (const s of samples) {
    const columns = columnsSending(s, limits);
    if (columns.length === 0) {
      unmatched++;
      continue;
    }
    const y = new Array(2 * actions).fill(0);
    const weight = new Array(2 * actions).fill(0);
    const w = Math.min(MAX_IMPORTANCE_WEIGHT, 1 / s.propensity);
    for (const k of columns) {
      y[k] = s.accuracy;
      y[k + actions] = s.ratio;
      weight[k] = w;
      weight[k + actions] = w;
    }
    training.push({ x: s.features, y, weight });
  }
  if (training.length < 20) {
    throw new Error(`only ${training.length} logged uploads are actions of the grid (${unmatched} are not)`);
  }
  net.fitStandardisation(training.map((s) => s.x));
  net.train(training, { ...defaultFitOptions, epochs: config.epochs, seed: config.seed });
  const sizeWeight = config.sizeWeight > 0 ? config.sizeWeight : 1;
  const allowed = allowedActions(gridActions, config.maxQuality);
  const clip = inputRange(
    training.map((s) => ({ features: Array.from(s.x) })),
    featureNames.length,
  );
  const safer = saferSets(gridActions, allowed, config.monotone);
  const exported = exportPolicy(net, inputs, featureNames.length, sizeWeight, allowed, clip, safer);
  const { provider, operation } = splitKey(config.key);
  const spec = rewardSpecOf(config.key, { size: sizeWeight });
  const heads = samples.map((s) => {
    const out = forwardHeads(exported.trunk, exported.activations, exported.heads, s.features, exported.clip);
    return { accuracy: Array.from(out.agreement!), ratio: Array.from(out.size!), scores: out.scores! };
  });
  const targetAt = (threshold: number): TargetPolicy => ({
    sends: (s, i) => {
      const at = limitsAt(limits, s);
      const candidates = candidatesFor(gridActions, s, at, s.point?.floor, s.point?.maxQuality);
      const k = thresholdChoice({ candidates }, heads[i]!, threshold, allowed);
      return effectiveAction(gridActions[k]!, s, at) ?? s.action;
    },
  });
  const trials = AGREEMENT_LADDER.map((threshold) => {
    const target = targetAt(threshold);
    const agreement = evaluateOnLogs(samples, target, spec, config.seed, (s) => s.accuracy);
    const size = evaluateOnLogs(samples, target, spec, config.seed, (s) => s.ratio);
    return { threshold, agreement: agreement.snips.value, size: size.snips.value, matched: agreement.effectiveSamples };
  });
  const supported = trials.filter((t) => t.matched >= MIN_MATCHED_SAMPLES);
  const meeting = supported.filter((t) => t.agreement >= config.accuracyTarget);
  const threshold =
    config.threshold > 0
      ? config.threshold
      : meeting.length > 0
        ? meeting.reduce((a, b) => (b.size < a.size ? b : a)).threshold
        : AGREEMENT_LADDER[0]!;
  const ope = evaluateOnLogs(samples, targetAt(threshold), spec, config.seed);
  const modelId =
    config.modelId ||
    `${config.key.replace(/[^A-Za-z0-9]+/g, '-')}-logs-grid${actions}-f${FEATURE_VERSION}-s${config.seed}`;
  const bytes = encodePolicy(exported, {
    modelId,
    provider,
    operation,
    actions: gridActions,
    rewardWeights: { ...spec.weights },
    threshold,
    dataSummary: {
      source: 'decision logs (bandit feedback, IPS-weighted regression over the grid)',
      decisions: samples.length,
      notInGrid: unmatched,
      maxImportanceWeight: MAX_IMPORTANCE_WEIGHT,
      seed: config.seed,
      threshold,
      thresholdTrials: trials,
      offPolicyOnTrainingLogs: ope,
    },
  });
  return { bytes, modelId, sizeWeight, threshold, actions, trainImages: samples.length };
}
