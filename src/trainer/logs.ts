/**
 * Learning from the proxy's decision logs: bandit feedback (one action per image, logged with its propensity), joined
 * with reference answers. Each decision with a usable reference becomes (features, action, propensity, agreement,
 * size ratio); the network is fitted by importance-weighted regression on the logged action's outputs only.
 */

import { listDecisionLogFiles, readDecisionLog } from '../feedback/read-log.ts';
import type { RewardSpec } from '../feedback/reward-spec.ts';
import { paperActions } from '../policy/actions.ts';
import { FEATURE_VERSION, featureNames } from '../policy/features.ts';
import { forwardMlp } from '../policy/onnx-writer.ts';
import { splitKey } from './api-client.ts';
import { rewardSpecOf } from './dataset.ts';
import { allowedActions, defaultFitOptions, exportPolicyLayers } from './fit.ts';
import { Mlp, type Sample } from './mlp.ts';
import { greedyDistribution, type LoggedSample, offPolicyEstimates } from './ope.ts';
import { encodePolicy } from './policy-model.ts';
import type { TrainConfig, TrainResult } from './train-config.ts';

export interface LoggedDecision {
  features: number[];
  action: number;
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
    if (decision.actionIndex < 0 || decision.features?.version !== FEATURE_VERSION) continue;
    const answer = decision.answer ?? undefined;
    out.push({
      features: decision.features.values,
      action: decision.actionIndex,
      propensity: decision.propensity,
      accuracy: spec.agreement(reference.answer, answer),
      ratio: decision.bytesSent / reference.bytes,
    });
  }
  return out;
}

export function fitFromLogs(samples: readonly LoggedDecision[], config: TrainConfig): TrainResult {
  if (samples.length < 20) throw new Error(`only ${samples.length} logged decisions with a reference`);
  const actions = paperActions.length;
  const inputs = featureNames.map((_, i) => i);
  const net = new Mlp({ inputs: inputs.length, hidden: config.hidden, outputs: 2 * actions }, config.seed);
  const training: Sample[] = samples.map((s) => {
    const y = new Array(2 * actions).fill(0);
    const weight = new Array(2 * actions).fill(0);
    const w = Math.min(MAX_IMPORTANCE_WEIGHT, 1 / s.propensity);
    y[s.action] = s.accuracy;
    y[s.action + actions] = s.ratio;
    weight[s.action] = w;
    weight[s.action + actions] = w;
    return { x: s.features, y, weight };
  });
  net.fitStandardisation(training.map((s) => s.x));
  net.train(training, { ...defaultFitOptions, epochs: config.epochs, seed: config.seed });
  const sizeWeight = config.sizeWeight > 0 ? config.sizeWeight : 1;
  const allowed = allowedActions(
    paperActions.map((a) => a.quality),
    config.maxQuality,
  );
  const { layers, activations } = exportPolicyLayers(net, inputs, featureNames.length, sizeWeight, allowed);
  const { provider, operation } = splitKey(config.key);
  const spec = rewardSpecOf(config.key, { size: sizeWeight });
  const ope = evaluateOnLogs(samples, (f) => forwardMlp(layers, activations, f), spec);
  const modelId =
    config.modelId || `${config.key.replace(/[^A-Za-z0-9]+/g, '-')}-logs-f${FEATURE_VERSION}-s${config.seed}`;
  const bytes = encodePolicy(layers, activations, {
    modelId,
    provider,
    operation,
    rewardWeights: { ...spec.weights },
    dataSummary: {
      source: 'decision logs (bandit feedback, IPS-weighted regression)',
      decisions: samples.length,
      maxImportanceWeight: MAX_IMPORTANCE_WEIGHT,
      seed: config.seed,
      offPolicyOnTrainingLogs: ope,
    },
  });
  return { bytes, modelId, sizeWeight, trainImages: samples.length };
}

/** OPE of a scoring function (greedy on its scores) on logged decisions, reward by the key's reward spec. */
export function evaluateOnLogs(
  samples: readonly LoggedDecision[],
  scores: (features: number[]) => ArrayLike<number>,
  spec: RewardSpec,
  rewardModel?: (features: number[]) => ArrayLike<number>,
  seed = 1,
) {
  const logged: LoggedSample[] = samples.map((s) => {
    const sample: LoggedSample = {
      action: s.action,
      propensity: s.propensity,
      reward: spec.reward(s.accuracy, s.ratio),
      target: greedyDistribution(scores(s.features)),
    };
    if (rewardModel) sample.predicted = rewardModel(s.features);
    return sample;
  });
  return offPolicyEstimates(logged, { seed, maxWeight: MAX_IMPORTANCE_WEIGHT });
}
