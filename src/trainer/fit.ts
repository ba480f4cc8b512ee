/**
 * Fitting a policy from full-information data. The network predicts, per action, the agreement with the reference
 * and the size ratio (20 outputs, MSE, Adam). Expected reward under weights {accuracy: 1, size: w} is then
 * acc_hat - w * ratio_hat: linear in the outputs, so w is tuned on out-of-fold predictions without refitting, and the
 * exported network folds it into its last layer (10 outputs = expected reward per action, argmax = the choice).
 */
import { featureNames } from '../policy/features.ts';
import type { DenseLayer } from '../policy/onnx-writer.ts';
import type { ImageRow } from './dataset.ts';
import { Mlp, type Sample, type TrainOptions } from './mlp.ts';

export interface FitOptions extends TrainOptions {
  hidden: number[];
  /** Indices of the features the network uses (the rest get zero weights in the export). */
  inputs: number[];
  folds: number;
  /** Accuracy the greedy policy must reach on out-of-fold predictions (target plus a safety margin). */
  accuracyTarget: number;
  /** Size weights tried; the largest meeting the target wins. */
  sizeWeights: number[];
  /**
   * Highest quality the policy may choose. Above the reference quality (75) an action can only cost more bytes for no
   * more agreement (the reference agrees with itself), so by default those actions are masked out.
   */
  maxQuality: number;
}

export const defaultSizeWeights: number[] = Array.from(
  { length: 41 },
  (_, i) => Math.round(0.02 * 1.15 ** i * 1e4) / 1e4,
);

export const defaultFitOptions: FitOptions = {
  // Few epochs and one small hidden layer: agreement is a noisy 0/1 signal on 640-800 images; longer training
  // overfits it and lands below the fixed-quality frontier in cross-validation (docs/TRAINING.md).
  epochs: 30,
  batchSize: 32,
  learningRate: 0.003,
  weightDecay: 1e-3,
  seed: 1,
  hidden: [16],
  inputs: Array.from({ length: featureNames.length }, (_, i) => i),
  folds: 5,
  accuracyTarget: 0.96,
  sizeWeights: defaultSizeWeights,
  maxQuality: 75,
};

/** Per action: may the policy choose it (quality <= maxQuality)? */
export function allowedActions(qualities: readonly number[], maxQuality: number): boolean[] {
  return qualities.map((q) => q <= maxQuality);
}

function samplesOf(rows: readonly ImageRow[], inputs: readonly number[]): Sample[] {
  return rows.map((row) => ({
    x: inputs.map((i) => row.features[i]!),
    y: [...row.accuracy, ...row.ratio],
    weight: new Array(row.accuracy.length * 2).fill(1),
  }));
}

export function fitNetwork(rows: readonly ImageRow[], options: FitOptions): Mlp {
  const actions = rows[0]?.accuracy.length ?? 10;
  const net = new Mlp({ inputs: options.inputs.length, hidden: options.hidden, outputs: 2 * actions }, options.seed);
  const samples = samplesOf(rows, options.inputs);
  net.fitStandardisation(samples.map((s) => s.x));
  net.train(samples, options);
  return net;
}

/** Predicted [accuracy per action, ratio per action] for a row. */
export function predictHeads(
  net: Mlp,
  row: ImageRow,
  inputs: readonly number[],
): { accuracy: number[]; ratio: number[] } {
  const out = Array.from(net.predict(inputs.map((i) => row.features[i]!)));
  const n = out.length / 2;
  return { accuracy: out.slice(0, n), ratio: out.slice(n) };
}

export function greedy(
  heads: { accuracy: number[]; ratio: number[] },
  sizeWeight: number,
  allowed?: readonly boolean[],
): number {
  let best = 0;
  let bestScore = Number.NEGATIVE_INFINITY;
  heads.accuracy.forEach((a, k) => {
    if (allowed && !allowed[k]) return;
    const score = a - sizeWeight * heads.ratio[k]!;
    if (score > bestScore) {
      bestScore = score;
      best = k;
    }
  });
  return best;
}

export interface WeightTrial {
  sizeWeight: number;
  accuracy: number;
  sizeRatio: number;
}

export interface CrossValidation {
  trials: WeightTrial[];
  chosen: WeightTrial;
}

/** k-fold out-of-fold predictions on the training rows, then the largest size weight that keeps the accuracy target. */
export function crossValidate(rows: readonly ImageRow[], options: FitOptions): CrossValidation {
  const heads: { accuracy: number[]; ratio: number[] }[] = new Array(rows.length);
  for (let fold = 0; fold < options.folds; fold++) {
    const train = rows.filter((_, i) => i % options.folds !== fold);
    const net = fitNetwork(train, { ...options, seed: options.seed + fold + 1 });
    rows.forEach((row, i) => {
      if (i % options.folds === fold) heads[i] = predictHeads(net, row, options.inputs);
    });
  }
  const allowed = allowedActions(rows[0]?.qualities ?? [], options.maxQuality);
  const trials = options.sizeWeights.map((sizeWeight) => {
    let accuracy = 0;
    let sizeRatio = 0;
    rows.forEach((row, i) => {
      const k = greedy(heads[i]!, sizeWeight, allowed);
      accuracy += row.accuracy[k]!;
      sizeRatio += row.ratio[k]!;
    });
    return { sizeWeight, accuracy: accuracy / rows.length, sizeRatio: sizeRatio / rows.length };
  });
  const meeting = trials.filter((t) => t.accuracy >= options.accuracyTarget);
  const chosen =
    meeting.length > 0
      ? meeting.reduce((a, b) => (b.sizeRatio < a.sizeRatio ? b : a))
      : trials.reduce((a, b) => (b.accuracy > a.accuracy ? b : a));
  return { trials, chosen };
}

/**
 * The exported network: hidden layers as trained (standardisation folded into the first), inputs the network does not
 * use get zero columns, and the last layer becomes acc_hat - w * ratio_hat per action.
 */
/** Score of a masked action in exported models: expected rewards are within a few units of 0. */
export const MASKED_SCORE = -1000;

export function exportPolicyLayers(
  net: Mlp,
  inputs: readonly number[],
  featureCount: number,
  sizeWeight: number,
  allowed?: readonly boolean[],
) {
  const { layers, activations } = net.exportLayers();
  const first = layers[0]!;
  const widened = new Float32Array(first.rows * featureCount);
  for (let r = 0; r < first.rows; r++) {
    inputs.forEach((feature, c) => {
      widened[r * featureCount + feature] = first.weights[r * first.cols + c]!;
    });
  }
  layers[0] = { ...first, weights: widened, cols: featureCount };
  const last = layers.at(-1)!;
  const actions = last.rows / 2;
  const weights = new Float32Array(actions * last.cols);
  const bias = new Float32Array(actions);
  for (let k = 0; k < actions; k++) {
    for (let c = 0; c < last.cols; c++) {
      weights[k * last.cols + c] =
        last.weights[k * last.cols + c]! - sizeWeight * last.weights[(k + actions) * last.cols + c]!;
    }
    bias[k] = last.bias[k]! - sizeWeight * last.bias[k + actions]!;
    if (allowed && !allowed[k]) {
      // Masked action: a constant score far below any reachable expected reward (never the argmax).
      weights.fill(0, k * last.cols, (k + 1) * last.cols);
      bias[k] = MASKED_SCORE;
    }
  }
  const folded: DenseLayer = { weights, bias, rows: actions, cols: last.cols };
  layers[layers.length - 1] = folded;
  return { layers, activations };
}
