/**
 * Fitting a policy from full-information data. The network predicts, per action, the agreement with the reference
 * and the size ratio (20 outputs, MSE, Adam). Expected reward under weights {accuracy: 1, size: w} is then
 * acc_hat - w * ratio_hat: linear in the outputs, so w is tuned on out-of-fold predictions without refitting, and the
 * exported network folds it into its last layer (10 outputs = expected reward per action, argmax = the choice).
 *
 * Variance: one small net on ~800 noisy 0/1 targets lands somewhere different with every seed, so a policy is an
 * ensemble of K nets (different seeds) whose outputs are averaged. The average of K one-hidden-layer MLPs is itself
 * one MLP (hidden units side by side, last layer divided by K), so the exported file stays plain Gemm/Relu/Gemm.
 *
 * Operating point: w is the largest size weight whose accuracy on held-out folds of the training split stays at or
 * above the target on the hardest folds (a low quantile of per-fold accuracy over repeated k-fold CV), not on their
 * mean: a held-out set the size of the validation split lands anywhere in that spread, so the margin a target needs
 * is measured per API instead of guessed (docs/TRAINING.md).
 */
import { type RewardSpec, rewardSpec } from '../feedback/reward-spec.ts';
import { featureNames } from '../policy/features.ts';
import type { Activation, DenseLayer } from '../policy/onnx-writer.ts';
import { seededRng } from '../policy/rng.ts';
import type { TaskKind } from '../providers/types.ts';
import type { ImageRow } from './dataset.ts';
import { Mlp, type Sample, type TrainOptions } from './mlp.ts';

export interface FitOptions extends TrainOptions {
  /** The task kind of the data: its reward spec combines predicted agreement and size. */
  kind: TaskKind;
  hidden: number[];
  /** Indices of the features the network uses (the rest get zero weights in the export). */
  inputs: number[];
  folds: number;
  /** Repetitions of k-fold cross-validation, each with its own seeded fold assignment. */
  cvRepeats: number;
  /** Nets (seeds) averaged into one policy. */
  ensemble: number;
  /**
   * Accuracy the greedy policy must keep on held-out folds: at the `foldQuantile` quantile of the per-fold
   * accuracies (0.2 = on 4 folds out of 5), or on the pooled out-of-fold mean when `foldQuantile` is 0.
   */
  accuracyTarget: number;
  foldQuantile: number;
  /** Size weights tried; the largest meeting the target wins. */
  sizeWeights: number[];
  /**
   * Highest quality the policy may choose. Above the reference quality (75) an action can only cost more bytes for no
   * more agreement (the reference agrees with itself), so by default those actions are masked out.
   */
  maxQuality: number;
  /** Called after each network is fitted (progress: train fits folds x repeats x ensemble + ensemble of them). */
  onFitted?: () => void;
}

/** How many networks train fits with these options (cross-validation, when it runs, then the ensemble itself). */
export const networksToFit = (options: FitOptions, crossValidates: boolean): number =>
  Math.max(1, options.ensemble) * (1 + (crossValidates ? Math.max(1, options.cvRepeats) * options.folds : 0));

export const defaultSizeWeights: number[] = Array.from(
  { length: 41 },
  (_, i) => Math.round(0.02 * 1.15 ** i * 1e4) / 1e4,
);

export const defaultFitOptions: FitOptions = {
  kind: 'labels',
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
  cvRepeats: 4,
  ensemble: 5,
  accuracyTarget: 0.95,
  foldQuantile: 0.2,
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

/** Seed of the k-th member of an ensemble (member 0 uses the seed itself, so an ensemble of 1 is the single net). */
export const memberSeed = (seed: number, member: number) => seed + 1000 * member;

/** K nets with seeds seed, seed + 1000, ...: their averaged outputs are the policy's predictions. */
export function fitEnsemble(rows: readonly ImageRow[], options: FitOptions): Mlp[] {
  return Array.from({ length: Math.max(1, options.ensemble) }, (_, k) =>
    fitNetwork(rows, { ...options, seed: memberSeed(options.seed, k) }),
  );
}

export function fitNetwork(rows: readonly ImageRow[], options: FitOptions): Mlp {
  const actions = rows[0]?.accuracy.length ?? 10;
  const net = new Mlp({ inputs: options.inputs.length, hidden: options.hidden, outputs: 2 * actions }, options.seed);
  const samples = samplesOf(rows, options.inputs);
  net.fitStandardisation(samples.map((s) => s.x));
  net.train(samples, options);
  options.onFitted?.();
  return net;
}

/** Predicted [accuracy per action, ratio per action] for a row: one net's outputs, or the mean of an ensemble's. */
export function predictHeads(
  net: Mlp | readonly Mlp[],
  row: ImageRow,
  inputs: readonly number[],
): { accuracy: number[]; ratio: number[] } {
  const nets: readonly Mlp[] = net instanceof Mlp ? [net] : net;
  const x = inputs.map((i) => row.features[i]!);
  const out: number[] = [];
  for (const member of nets) {
    member.predict(x).forEach((v, k) => {
      out[k] = (out[k] ?? 0) + v / nets.length;
    });
  }
  const n = out.length / 2;
  return { accuracy: out.slice(0, n), ratio: out.slice(n) };
}

/** The action with the best predicted reward (the spec's agreement - size x ratio) among those allowed. */
export function greedy(
  heads: { accuracy: number[]; ratio: number[] },
  spec: RewardSpec,
  allowed?: readonly boolean[],
): number {
  let best = 0;
  let bestScore = Number.NEGATIVE_INFINITY;
  heads.accuracy.forEach((a, k) => {
    if (allowed && !allowed[k]) return;
    const score = spec.reward(a, heads.ratio[k]!);
    if (score > bestScore) {
      bestScore = score;
      best = k;
    }
  });
  return best;
}

export interface WeightTrial {
  sizeWeight: number;
  /** Pooled out-of-fold accuracy and size ratio (mean over repeats). */
  accuracy: number;
  sizeRatio: number;
  /** The `foldQuantile` quantile of the per-fold accuracies (the hardest folds). */
  hardFoldAccuracy: number;
}

export interface CrossValidation {
  trials: WeightTrial[];
  chosen: WeightTrial;
  /** Whether some size weight met the target (otherwise the most accurate on the hardest folds was kept). */
  met: boolean;
}

/** Fold of each row for one repeat: a seeded shuffle dealt round-robin, so folds are equal-sized and differ per repeat. */
export function foldAssignment(count: number, folds: number, seed: number): number[] {
  const rng = seededRng(seed);
  const order = Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const fold = new Array<number>(count);
  order.forEach((row, position) => {
    fold[row] = position % folds;
  });
  return fold;
}

/** Quantile by the lower order statistic: 0.2 of 20 values is the 4th lowest. */
export function lowerQuantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(q * (sorted.length - 1))] ?? Number.NaN;
}

/**
 * Repeated k-fold out-of-fold predictions of the ensemble on the training rows; for every size weight, the pooled
 * accuracy / size ratio and the per-fold accuracies. Chosen: the smallest size ratio whose hardest-fold accuracy
 * (or pooled accuracy when foldQuantile is 0) meets the target; if none does, the best hardest-fold accuracy.
 */
export function crossValidate(rows: readonly ImageRow[], options: FitOptions): CrossValidation {
  const allowed = allowedActions(rows[0]?.qualities ?? [], options.maxQuality);
  const weights = options.sizeWeights;
  const accuracy = new Array<number>(weights.length).fill(0);
  const sizeRatio = new Array<number>(weights.length).fill(0);
  const foldAccuracies: number[][] = weights.map(() => []);
  const repeats = Math.max(1, options.cvRepeats);
  for (let repeat = 0; repeat < repeats; repeat++) {
    const foldOf = foldAssignment(rows.length, options.folds, options.seed * 7919 + repeat);
    for (let fold = 0; fold < options.folds; fold++) {
      const train = rows.filter((_, i) => foldOf[i] !== fold);
      const held = rows.filter((_, i) => foldOf[i] === fold);
      if (held.length === 0) continue;
      const nets = fitEnsemble(train, { ...options, seed: options.seed + 100 * repeat + fold + 1 });
      const heads = held.map((row) => predictHeads(nets, row, options.inputs));
      weights.forEach((sizeWeight, t) => {
        const spec = rewardSpec(options.kind, { size: sizeWeight });
        let agreed = 0;
        held.forEach((row, i) => {
          const k = greedy(heads[i]!, spec, allowed);
          agreed += row.accuracy[k]!;
          sizeRatio[t]! += row.ratio[k]! / (rows.length * repeats);
        });
        accuracy[t]! += agreed / (rows.length * repeats);
        foldAccuracies[t]!.push(agreed / held.length);
      });
    }
  }
  const trials = weights.map((sizeWeight, t) => ({
    sizeWeight,
    accuracy: accuracy[t]!,
    sizeRatio: sizeRatio[t]!,
    hardFoldAccuracy: lowerQuantile(foldAccuracies[t]!, options.foldQuantile),
  }));
  const judged = (t: WeightTrial) => (options.foldQuantile > 0 ? t.hardFoldAccuracy : t.accuracy);
  const meeting = trials.filter((t) => judged(t) >= options.accuracyTarget);
  const chosen =
    meeting.length > 0
      ? meeting.reduce((a, b) => (b.sizeRatio < a.sizeRatio ? b : a))
      : trials.reduce((a, b) =>
          judged(b) > judged(a) || (judged(b) === judged(a) && b.sizeRatio < a.sizeRatio) ? b : a,
        );
  return { trials, chosen, met: meeting.length > 0 };
}

/**
 * The exported network: hidden layers as trained (standardisation folded into the first), inputs the network does not
 * use get zero columns, and the last layer becomes acc_hat - w * ratio_hat per action.
 */
/** Score of a masked action in exported models: expected rewards are within a few units of 0. */
export const MASKED_SCORE = -1000;

/**
 * The mean of several MLPs of one shape family (same input width, same output width, any hidden widths, same depth)
 * as one MLP: hidden units side by side (first layer stacked, deeper layers block-diagonal), last layer the members'
 * last layers side by side divided by K, bias the mean. Exact: ReLU acts per unit, so no unit sees another member's.
 */
export function averageNetworks(members: readonly { layers: DenseLayer[]; activations: Activation[] }[]): {
  layers: DenseLayer[];
  activations: Activation[];
} {
  const first = members[0]!;
  if (members.length === 1) return { layers: [...first.layers], activations: [...first.activations] };
  const depth = first.layers.length;
  const K = members.length;
  const layers: DenseLayer[] = [];
  for (let li = 0; li < depth; li++) {
    const parts = members.map((m) => m.layers[li]!);
    const last = li === depth - 1;
    const rows = last ? parts[0]!.rows : parts.reduce((s, p) => s + p.rows, 0);
    const cols = li === 0 ? parts[0]!.cols : parts.reduce((s, p) => s + p.cols, 0);
    const weights = new Float32Array(rows * cols);
    const bias = new Float32Array(rows);
    let rowOffset = 0;
    let colOffset = 0;
    for (const p of parts) {
      const scale = last ? 1 / K : 1;
      for (let r = 0; r < p.rows; r++) {
        const outRow = last ? r : rowOffset + r;
        const inCol = li === 0 ? 0 : colOffset;
        for (let c = 0; c < p.cols; c++) weights[outRow * cols + inCol + c] = p.weights[r * p.cols + c]! * scale;
        bias[outRow]! += p.bias[r]! * scale;
      }
      rowOffset += p.rows;
      colOffset += p.cols;
    }
    layers.push({ weights, bias, rows, cols });
  }
  return { layers, activations: [...first.activations] };
}

/** One net's export layers with its input standardisation folded in and unused inputs as zero columns. */
function widenedLayers(net: Mlp, inputs: readonly number[], featureCount: number) {
  const { layers, activations } = net.exportLayers();
  const first = layers[0]!;
  const widened = new Float32Array(first.rows * featureCount);
  for (let r = 0; r < first.rows; r++) {
    inputs.forEach((feature, c) => {
      widened[r * featureCount + feature] = first.weights[r * first.cols + c]!;
    });
  }
  layers[0] = { ...first, weights: widened, cols: featureCount };
  return { layers, activations };
}

export function exportPolicyLayers(
  net: Mlp | readonly Mlp[],
  inputs: readonly number[],
  featureCount: number,
  sizeWeight: number,
  allowed?: readonly boolean[],
) {
  const nets: readonly Mlp[] = net instanceof Mlp ? [net] : net;
  const { layers, activations } = averageNetworks(nets.map((n) => widenedLayers(n, inputs, featureCount)));
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
