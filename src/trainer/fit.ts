/**
 * Fitting a policy from full-information data over the joint grid (longest side x quality). The network predicts, per
 * grid action, the agreement with the reference and the size ratio (2 x actions outputs, MSE, Adam). The exported
 * model has three heads on one trunk: `agreement`, `size` and `scores` = agreement - w * size (expected reward under
 * weights {accuracy: 1, size: w}: linear in the outputs, so w is tuned on out-of-fold predictions without refitting).
 *
 * Two operating rules, both judged by cross-validation on the training split with the proxy's own choice code
 * (candidatesFor + cheapestAgreeing, as OnnxPolicy decides):
 *  - the threshold rule (what the proxy runs when a model has heads): the cheapest candidate whose predicted agreement
 *    clears a threshold of AGREEMENT_LADDER; the threshold CV picks is the model's `operating_point`, where the
 *    proxy's online calibration starts;
 *  - argmax of `scores` (the contract's MUST output, used by proxies without heads support and by OPE): w is the
 *    largest size weight meeting the target.
 * Either is chosen where accuracy on held-out folds stays at or above the target on the hardest folds (a low quantile
 * of per-fold accuracy over repeated k-fold CV), not on their mean: a held-out set the size of the validation split
 * lands anywhere in that spread, so the margin a target needs is measured per API instead of guessed (docs/TRAINING.md).
 *
 * Variance: one small net on ~800 noisy 0/1 targets lands somewhere different with every seed, so a policy is an
 * ensemble of K nets (different seeds) whose outputs are averaged. The average of K one-hidden-layer MLPs is itself
 * one MLP (hidden units side by side, last layer divided by K), so the exported file stays plain Gemm/Relu/Gemm.
 *
 * Inputs are clipped to the range seen in training (inside the exported graph): a 12-MP phone photo is far outside
 * the features of ~500-px training photos, and a ReLU net extrapolates linearly without bound.
 */
import type { EncodeAction } from '../codec/types.ts';
import { type RewardSpec, rewardSpec } from '../feedback/reward-spec.ts';
import { AGREEMENT_LADDER, type Candidate } from '../policy/actions.ts';
import { featureNames } from '../policy/features.ts';
import { forwardGridNet, type GridNetSpec } from '../policy/grid-net.ts';
import { cheapestAgreeing } from '../policy/onnx-policy.ts';
import {
  type Activation,
  clipInput,
  type DenseLayer,
  forwardHeads,
  type InputClip,
  type OutputHead,
} from '../policy/onnx-writer.ts';
import { seededRng } from '../policy/rng.ts';
import type { TaskKind } from '../providers/types.ts';
import { actionNetHeads, exportActionNet, fitActionNet } from './action-net.ts';
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
  /** Agreement thresholds tried for the threshold rule (AGREEMENT_LADDER); the cheapest meeting the target wins. */
  thresholds: readonly number[];
  /**
   * Highest quality the policy may choose at the stored size. There, above the reference quality (75), an action can
   * only cost more bytes for no more agreement (the reference agrees with itself), so those actions are masked out;
   * at a smaller side a higher quality may be the cheapest upload that keeps the answer.
   */
  maxQuality: number;
  /**
   * Read predicted agreement monotonely: an action's agreement is at most that of every safer action ('quality': the
   * same side at a higher quality; 'side-quality': a higher or equal quality at the same or a larger side). The
   * threshold rule takes the cheapest action that clears the threshold, which favours over-estimates among ~30
   * candidates; capping each by its safer ones removes them (and adds under-estimates: the minimum of noisy values).
   */
  monotone: Monotone;
  /** Start each output at its training mean (Mlp.initOutputBias) rather than at 0. */
  meanInit: boolean;
  /**
   * 'action-input': one net over image features + the action's own features (quality, side vs the image), two outputs
   * (src/policy/grid-net.ts); 'per-action': image features in, agreement and size of every action out;
   * 'column-means': no learning from features at all, every action's mean agreement and size over the training
   * photos (the threshold rule then sends each photo the cheapest of its candidates whose mean clears it: the
   * baseline a learnt policy has to beat in cross-validation).
   */
  architecture: Architecture;
  /** Called after each network is fitted (progress: train fits folds x repeats x ensemble + ensemble of them). */
  onFitted?: () => void;
}

/** How many networks train fits with these options (cross-validation, when it runs, then the ensemble itself). */
export const networksToFit = (options: FitOptions, crossValidates: boolean): number =>
  (options.architecture === 'column-means' ? 1 : Math.max(1, options.ensemble)) *
  (1 + (crossValidates ? Math.max(1, options.cvRepeats) * options.folds : 0));

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
  thresholds: AGREEMENT_LADDER,
  maxQuality: 75,
  monotone: 'none',
  meanInit: true,
  architecture: 'action-input',
};

export type Architecture = 'per-action' | 'action-input' | 'column-means';

/** The families `--architecture auto` cross-validates, simplest first (on a tie the simpler one is kept). */
export const ARCHITECTURES: readonly Architecture[] = ['column-means', 'per-action', 'action-input'];

/**
 * Which of two cross-validations is better for the threshold rule: one that meets the target beats one that does not;
 * both meeting it, the cheaper; neither, the more accurate on the hardest folds (then the cheaper). Negative: a first.
 */
export function architectureOrder(a: CrossValidation, b: CrossValidation): number {
  if (a.thresholdMet !== b.thresholdMet) return a.thresholdMet ? -1 : 1;
  const [x, y] = [a.chosenThreshold, b.chosenThreshold];
  if (!a.thresholdMet && x.hardFoldAccuracy !== y.hardFoldAccuracy) return y.hardFoldAccuracy - x.hardFoldAccuracy;
  return x.sizeRatio - y.sizeRatio;
}

export type Monotone = 'none' | 'quality' | 'side-quality';

/** Per action: may the policy choose it (a resized action, or quality <= maxQuality at the stored size)? */
export function allowedActions(actions: readonly EncodeAction[], maxQuality: number): boolean[] {
  return actions.map((a) => a.maxSide !== undefined || a.quality <= maxQuality);
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
  const members = options.architecture === 'column-means' ? 1 : Math.max(1, options.ensemble);
  return Array.from({ length: members }, (_, k) => fitNetwork(rows, { ...options, seed: memberSeed(options.seed, k) }));
}

export function fitNetwork(rows: readonly ImageRow[], options: FitOptions): Mlp {
  if (options.architecture === 'action-input') {
    const net = fitActionNet(rows, options);
    options.onFitted?.();
    return net;
  }
  const actions = rows[0]?.accuracy.length ?? 10;
  if (options.architecture === 'column-means') {
    // One dead hidden unit and every weight 0: the outputs are the biases, each output's training mean.
    const net = new Mlp({ inputs: options.inputs.length, hidden: [1], outputs: 2 * actions }, options.seed);
    for (const layer of net.layers) layer.w.fill(0);
    net.initOutputBias(samplesOf(rows, options.inputs));
    options.onFitted?.();
    return net;
  }
  const net = new Mlp({ inputs: options.inputs.length, hidden: options.hidden, outputs: 2 * actions }, options.seed);
  const samples = samplesOf(rows, options.inputs);
  net.fitStandardisation(samples.map((s) => s.x));
  if (options.meanInit) net.initOutputBias(samples);
  net.train(samples, options);
  options.onFitted?.();
  return net;
}

/** Predicted agreement and size ratio of every action for a row, by the options' architecture (inputs clipped first). */
export function headsOf(
  nets: readonly Mlp[],
  row: ImageRow,
  options: Pick<FitOptions, 'architecture' | 'inputs'>,
  clip?: InputClip,
): Heads {
  if (options.architecture === 'action-input') return actionNetHeads(nets, row, row.actions, options.inputs, clip);
  return predictHeads(nets, clip ? { features: Array.from(clipInput(row.features, clip)) } : row, options.inputs);
}

/** Predicted [accuracy per action, ratio per action] for a row: one net's outputs, or the mean of an ensemble's. */
export function predictHeads(
  net: Mlp | readonly Mlp[],
  row: { features: readonly number[] },
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

export interface Heads {
  accuracy: number[];
  ratio: number[];
}

/** Predicted agreement of a masked action in exported models: below any threshold, so never chosen. */
export const MASKED_AGREEMENT = -1;

const sideOf = (a: EncodeAction) => a.maxSide ?? Number.POSITIVE_INFINITY;

/**
 * Per action, the allowed actions at least as safe (quality >= its own, at the same side or, for 'side-quality', at a
 * side >= its own; the stored size is the largest), itself included; a masked action only itself. The exported
 * agreement head takes the minimum over these. Undefined for 'none'.
 */
export function saferSets(
  actions: readonly EncodeAction[],
  allowed: readonly boolean[] | undefined,
  mode: Monotone,
): number[][] | undefined {
  if (mode === 'none') return undefined;
  const sideOk = (a: EncodeAction, b: EncodeAction) =>
    mode === 'quality' ? sideOf(b) === sideOf(a) : sideOf(b) >= sideOf(a);
  return actions.map((a, k) => {
    if (allowed && !allowed[k]) return [k];
    const safer: number[] = [];
    actions.forEach((b, j) => {
      if (j === k || ((!allowed || allowed[j]) && b.quality >= a.quality && sideOk(a, b))) safer.push(j);
    });
    return safer;
  });
}

/** The agreement head as exported: masked actions at MASKED_AGREEMENT, each capped by its safer set when given. */
export function maskedAgreement(heads: Heads, allowed?: readonly boolean[], safer?: readonly number[][]): number[] {
  const masked = heads.accuracy.map((a, k) => (allowed && !allowed[k] ? MASKED_AGREEMENT : a));
  return safer ? safer.map((over) => Math.min(...over.map((j) => masked[j]!))) : masked;
}

/** The column with the best predicted reward (the spec's agreement - size x ratio) among the row's allowed candidates. */
export function greedy(
  heads: Heads,
  spec: RewardSpec,
  allowed?: readonly boolean[],
  candidates?: readonly Candidate[],
): number {
  let best = -1;
  let bestScore = Number.NEGATIVE_INFINITY;
  const columns = candidates ? candidates.map((c) => c.index) : heads.accuracy.map((_, k) => k);
  for (const k of columns) {
    if (allowed && !allowed[k]) continue;
    const score = spec.reward(heads.accuracy[k]!, heads.ratio[k]!);
    if (score > bestScore) {
      bestScore = score;
      best = k;
    }
  }
  return best >= 0 ? best : (columns[0] ?? 0);
}

/** The column the threshold rule sends: OnnxPolicy's choice (cheapest candidate clearing the threshold) on these heads. */
export function thresholdChoice(
  row: { candidates: readonly Candidate[] },
  heads: Heads,
  threshold: number,
  allowed?: readonly boolean[],
  safer?: readonly number[][],
): number {
  const picked = cheapestAgreeing(row.candidates, maskedAgreement(heads, allowed, safer), heads.ratio, threshold);
  return row.candidates[picked]?.index ?? 0;
}

export interface WeightTrial {
  sizeWeight: number;
  /** Pooled out-of-fold accuracy and size ratio (mean over repeats). */
  accuracy: number;
  sizeRatio: number;
  /** The `foldQuantile` quantile of the per-fold accuracies (the hardest folds). */
  hardFoldAccuracy: number;
}

export interface ThresholdTrial {
  threshold: number;
  accuracy: number;
  sizeRatio: number;
  hardFoldAccuracy: number;
}

export interface CrossValidation {
  trials: WeightTrial[];
  chosen: WeightTrial;
  /** Whether some size weight met the target (otherwise the most accurate on the hardest folds was kept). */
  met: boolean;
  /** The threshold rule at every threshold tried, the one chosen (the model's operating point), and if it met the target. */
  thresholdTrials: ThresholdTrial[];
  chosenThreshold: ThresholdTrial;
  thresholdMet: boolean;
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
 * The cheapest trial whose judged accuracy meets the target; if none does, the most accurate (ties: the cheaper).
 */
function pick<T extends { accuracy: number; sizeRatio: number; hardFoldAccuracy: number }>(
  trials: readonly T[],
  options: FitOptions,
): { chosen: T; met: boolean } {
  const judged = (t: T) => (options.foldQuantile > 0 ? t.hardFoldAccuracy : t.accuracy);
  const meeting = trials.filter((t) => judged(t) >= options.accuracyTarget);
  const chosen =
    meeting.length > 0
      ? meeting.reduce((a, b) => (b.sizeRatio < a.sizeRatio ? b : a))
      : trials.reduce((a, b) =>
          judged(b) > judged(a) || (judged(b) === judged(a) && b.sizeRatio < a.sizeRatio) ? b : a,
        );
  return { chosen, met: meeting.length > 0 };
}

/** Accumulates one rule's out-of-fold accuracy and size per setting: pooled means and per-fold accuracies. */
function tally(settings: number, rows: number, repeats: number) {
  const accuracy = new Array<number>(settings).fill(0);
  const sizeRatio = new Array<number>(settings).fill(0);
  const folds: number[][] = Array.from({ length: settings }, () => []);
  return {
    add(setting: number, held: readonly ImageRow[], choices: readonly number[]) {
      let agreed = 0;
      held.forEach((row, i) => {
        agreed += row.accuracy[choices[i]!]!;
        sizeRatio[setting]! += row.ratio[choices[i]!]! / (rows * repeats);
      });
      accuracy[setting]! += agreed / (rows * repeats);
      folds[setting]!.push(agreed / held.length);
    },
    result: (setting: number, quantile: number) => ({
      accuracy: accuracy[setting]!,
      sizeRatio: sizeRatio[setting]!,
      hardFoldAccuracy: lowerQuantile(folds[setting]!, quantile),
    }),
  };
}

/**
 * Repeated k-fold out-of-fold predictions of the ensemble on the training rows; for every size weight (argmax of the
 * expected reward) and every threshold (the threshold rule), the pooled accuracy / size ratio and the per-fold
 * accuracies. Chosen for each: the smallest size ratio whose hardest-fold accuracy (or pooled accuracy when
 * foldQuantile is 0) meets the target; if none does, the best hardest-fold accuracy.
 */
export function crossValidate(rows: readonly ImageRow[], options: FitOptions): CrossValidation {
  const allowed = allowedActions(rows[0]?.actions ?? [], options.maxQuality);
  const safer = saferSets(rows[0]?.actions ?? [], allowed, options.monotone);
  const weights = options.sizeWeights;
  const thresholds = options.thresholds;
  const repeats = Math.max(1, options.cvRepeats);
  const byWeight = tally(weights.length, rows.length, repeats);
  const byThreshold = tally(thresholds.length, rows.length, repeats);
  for (let repeat = 0; repeat < repeats; repeat++) {
    const foldOf = foldAssignment(rows.length, options.folds, options.seed * 7919 + repeat);
    for (let fold = 0; fold < options.folds; fold++) {
      const train = rows.filter((_, i) => foldOf[i] !== fold);
      const held = rows.filter((_, i) => foldOf[i] === fold);
      if (held.length === 0) continue;
      const nets = fitEnsemble(train, { ...options, seed: options.seed + 100 * repeat + fold + 1 });
      // Held-out photos are clipped to the range of this fold's training photos, as the export clips to its own.
      const clip = inputRange(train, train[0]?.features.length ?? 0);
      const heads = held.map((row) => headsOf(nets, row, options, clip));
      weights.forEach((sizeWeight, t) => {
        const spec = rewardSpec(options.kind, { size: sizeWeight });
        byWeight.add(
          t,
          held,
          held.map((row, i) => greedy(heads[i]!, spec, allowed, row.candidates)),
        );
      });
      thresholds.forEach((threshold, t) => {
        byThreshold.add(
          t,
          held,
          held.map((row, i) => thresholdChoice(row, heads[i]!, threshold, allowed, safer)),
        );
      });
    }
  }
  const trials = weights.map((sizeWeight, t) => ({ sizeWeight, ...byWeight.result(t, options.foldQuantile) }));
  const thresholdTrials = thresholds.map((threshold, t) => ({
    threshold,
    ...byThreshold.result(t, options.foldQuantile),
  }));
  const weight = pick(trials, options);
  const level = pick(thresholdTrials, options);
  return {
    trials,
    chosen: weight.chosen,
    met: weight.met,
    thresholdTrials,
    chosenThreshold: level.chosen,
    thresholdMet: level.met,
  };
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

/** Per-feature range of the training rows: the exported graph clips its input to it. */
export function inputRange(rows: readonly { features: readonly number[] }[], featureCount: number): InputClip {
  const min = new Float32Array(featureCount).fill(Number.POSITIVE_INFINITY);
  const max = new Float32Array(featureCount).fill(Number.NEGATIVE_INFINITY);
  for (const row of rows) {
    for (let j = 0; j < featureCount; j++) {
      const v = row.features[j]!;
      if (v < min[j]!) min[j] = v;
      if (v > max[j]!) max[j] = v;
    }
  }
  // A feature never seen (no rows) is left unclipped in effect.
  for (let j = 0; j < featureCount; j++) {
    if (!(min[j]! <= max[j]!)) {
      min[j] = -3.4e38;
      max[j] = 3.4e38;
    }
  }
  return { min, max };
}

/** Names of the exported outputs (POLICY.md). */
export const OUTPUTS = { scores: 'scores', agreement: 'agreement', size: 'size' } as const;

/** One output per action, three heads on a shared trunk (onnx-writer.ts). */
export interface ExportedMlp {
  kind: 'mlp';
  trunk: DenseLayer[];
  activations: Activation[];
  /** scores (expected reward, masked actions at MASKED_SCORE), agreement (masked at MASKED_AGREEMENT), size. */
  heads: OutputHead[];
  clip?: InputClip;
}

/** The action-conditioned network (grid-net.ts), without its tensor names and metadata. */
export interface ExportedGrid {
  kind: 'grid';
  spec: Omit<GridNetSpec, 'names' | 'metadata' | 'producerName'>;
}

export type ExportedPolicy = ExportedMlp | ExportedGrid;

/** The exported model's three outputs for one feature vector, by the TS mirror of its graph. */
export function forwardExported(
  exported: ExportedPolicy,
  features: ArrayLike<number>,
): { scores: Float32Array; agreement: Float32Array; size: Float32Array } {
  const out =
    exported.kind === 'mlp'
      ? forwardHeads(exported.trunk, exported.activations, exported.heads, features, exported.clip)
      : forwardGridNet({ ...exported.spec, names: { input: 'features', ...OUTPUTS }, metadata: {} }, features);
  return { scores: out[OUTPUTS.scores]!, agreement: out[OUTPUTS.agreement]!, size: out[OUTPUTS.size]! };
}

/** The action-conditioned ensemble as the exported grid network: masks, optional monotone cap, input clip. */
export function exportGridPolicy(
  nets: readonly Mlp[],
  inputs: readonly number[],
  featureCount: number,
  actions: readonly EncodeAction[],
  sizeWeight: number,
  allowed?: readonly boolean[],
  clip?: InputClip,
  safer?: readonly number[][],
): ExportedGrid {
  return {
    kind: 'grid',
    spec: {
      ...exportActionNet(nets, inputs, featureCount, actions),
      sizeWeight,
      ...(allowed ? { masked: allowed.map((a) => !a) } : {}),
      ...(safer ? { minOver: safer } : {}),
      ...(clip ? { inputClip: clip } : {}),
    },
  };
}

/**
 * The exported network: the hidden layers as trained (standardisation folded into the first; the ensemble as one
 * MLP), inputs the network does not use as zero columns, and the last layer split into three heads: agreement and size
 * as predicted, scores = agreement - w * size per action.
 */
export function exportPolicy(
  net: Mlp | readonly Mlp[],
  inputs: readonly number[],
  featureCount: number,
  sizeWeight: number,
  allowed?: readonly boolean[],
  clip?: InputClip,
  safer?: readonly number[][],
): ExportedMlp {
  const nets: readonly Mlp[] = net instanceof Mlp ? [net] : net;
  const { layers, activations } = averageNetworks(nets.map((n) => widenedLayers(n, inputs, featureCount)));
  const last = layers.at(-1)!;
  const actions = last.rows / 2;
  const cols = last.cols;
  const rowsOf = (from: number) => ({
    weights: last.weights.slice(from * cols, (from + actions) * cols),
    bias: last.bias.slice(from, from + actions),
    rows: actions,
    cols,
  });
  const agreement = rowsOf(0);
  const size = rowsOf(actions);
  const scores: DenseLayer = {
    weights: new Float32Array(actions * cols),
    bias: new Float32Array(actions),
    rows: actions,
    cols,
  };
  for (let k = 0; k < actions; k++) {
    for (let c = 0; c < cols; c++) {
      scores.weights[k * cols + c] = agreement.weights[k * cols + c]! - sizeWeight * size.weights[k * cols + c]!;
    }
    scores.bias[k] = agreement.bias[k]! - sizeWeight * size.bias[k]!;
    if (allowed && !allowed[k]) {
      // Masked action: a constant far below any reachable value (never the argmax, never clearing a threshold).
      scores.weights.fill(0, k * cols, (k + 1) * cols);
      scores.bias[k] = MASKED_SCORE;
      agreement.weights.fill(0, k * cols, (k + 1) * cols);
      agreement.bias[k] = MASKED_AGREEMENT;
    }
  }
  return {
    kind: 'mlp',
    trunk: layers.slice(0, -1),
    activations: activations.slice(0, -1),
    heads: [
      { name: OUTPUTS.scores, layer: scores },
      { name: OUTPUTS.agreement, layer: agreement, ...(safer ? { minOver: safer } : {}) },
      { name: OUTPUTS.size, layer: size },
    ],
    ...(clip ? { clip } : {}),
  };
}
