/**
 * The action-conditioned network (src/policy/grid-net.ts) on the trainer's side: samples, fitting, predictions that
 * equal the exported graph's, and the export. One sample per image and DISTINCT upload (the candidates: on a 500-px
 * photo the sides from 512 up are one upload), input = the image's features + the action's own (quality, and the
 * side relative to the image's longest side, in ln), targets = agreement and ln size ratio.
 */
import type { EncodeAction } from '../codec/types.ts';
import type { GridNetSpec } from '../policy/grid-net.ts';
import { clipInput, type DenseLayer, type InputClip } from '../policy/onnx-writer.ts';
import type { ImageRow } from './dataset.ts';
import { Mlp, type Sample, type TrainOptions } from './mlp.ts';

/** ln of the longest side from features v2: 0.5 (log_megapixels + log_aspect + ln 1e6). */
export const GEOMETRY = { log_megapixels: 3, log_aspect: 4, bias: 0.5 * Math.log(1e6) } as const;

export const logLongSide = (x: ArrayLike<number>): number =>
  0.5 * (x[GEOMETRY.log_megapixels]! + x[GEOMETRY.log_aspect]!) + GEOMETRY.bias;

/** min(0, ln side - ln longest side): 0 at the stored size or a side at or above it. */
export function sideFeature(action: EncodeAction, x: ArrayLike<number>): number {
  if (action.maxSide === undefined) return 0;
  return Math.min(0, Math.fround(Math.log(action.maxSide)) - Math.fround(logLongSide(x)));
}

export const qualityFeature = (quality: number): number => (quality - 45) / 25;

/** The size head is fitted in ln; its loss counts this much of the agreement's (ln sizes vary ~10x more). */
export const SIZE_LOSS_WEIGHT = 0.1;

export interface ActionNetOptions extends TrainOptions {
  hidden: number[];
  inputs: number[];
  meanInit: boolean;
}

function netInput(
  row: { features: readonly number[] },
  action: EncodeAction,
  inputs: readonly number[],
  clip?: InputClip,
) {
  const image = clip ? clipInput(row.features, clip) : row.features;
  return [...inputs.map((i) => image[i]!), qualityFeature(action.quality), sideFeature(action, row.features)];
}

export function actionSamples(rows: readonly ImageRow[], inputs: readonly number[]): Sample[] {
  const samples: Sample[] = [];
  for (const row of rows) {
    for (const { index } of row.candidates) {
      samples.push({
        x: netInput(row, row.actions[index]!, inputs),
        y: [row.accuracy[index]!, Math.log(Math.max(1e-6, row.ratio[index]!))],
        weight: [1, SIZE_LOSS_WEIGHT],
      });
    }
  }
  return samples;
}

export function fitActionNet(rows: readonly ImageRow[], options: ActionNetOptions): Mlp {
  if (options.hidden.length !== 1) throw new Error('the action-conditioned network has one hidden layer (--hidden N)');
  const net = new Mlp({ inputs: options.inputs.length + 2, hidden: options.hidden, outputs: 2 }, options.seed);
  const samples = actionSamples(rows, options.inputs);
  net.fitStandardisation(samples.map((s) => s.x));
  if (options.meanInit) net.initOutputBias(samples);
  net.train(samples, options);
  return net;
}

/** Predicted agreement and size ratio of every action of the grid (the ensemble's mean agreement and mean ln size). */
export function actionNetHeads(
  nets: readonly Mlp[],
  row: { features: readonly number[] },
  actions: readonly EncodeAction[],
  inputs: readonly number[],
  clip?: InputClip,
): { accuracy: number[]; ratio: number[] } {
  const accuracy: number[] = [];
  const ratio: number[] = [];
  for (const action of actions) {
    const x = netInput(row, action, inputs, clip);
    let a = 0;
    let z = 0;
    for (const net of nets) {
      const [pa, pz] = net.predict(x);
      a += pa! / nets.length;
      z += pz! / nets.length;
    }
    accuracy.push(a);
    ratio.push(Math.exp(z));
  }
  return { accuracy, ratio };
}

/**
 * The ensemble as one grid network: hidden units of all members side by side (their image rows, action and side
 * weights stacked), the output layer divided by K: the mean of the members' agreement and ln size, exactly.
 */
export function exportActionNet(
  nets: readonly Mlp[],
  inputs: readonly number[],
  featureCount: number,
  actions: readonly EncodeAction[],
): Pick<GridNetSpec, 'image' | 'actionBias' | 'sideWeight' | 'logSides' | 'geometry' | 'out'> {
  const members = nets.map((n) => n.exportLayers().layers);
  const hidden = members.reduce((s, m) => s + m[0]!.rows, 0);
  const imageWeights = new Float32Array(hidden * featureCount);
  const imageBias = new Float32Array(hidden);
  const actionBias = new Float32Array(actions.length * hidden);
  const sideWeight = new Float32Array(hidden);
  const outWeights = new Float32Array(2 * hidden);
  const outBias = new Float32Array(2);
  let offset = 0;
  for (const [first, last] of members as [DenseLayer, DenseLayer][]) {
    const cols = first.cols; // inputs + quality + side
    for (let h = 0; h < first.rows; h++) {
      const row = offset + h;
      inputs.forEach((feature, c) => {
        imageWeights[row * featureCount + feature] = first.weights[h * cols + c]!;
      });
      imageBias[row] = first.bias[h]!;
      const wq = first.weights[h * cols + inputs.length]!;
      sideWeight[row] = first.weights[h * cols + inputs.length + 1]!;
      actions.forEach((action, k) => {
        actionBias[k * hidden + row] = wq * qualityFeature(action.quality);
      });
      outWeights[row] = last.weights[h]! / nets.length;
      outWeights[hidden + row] = last.weights[first.rows + h]! / nets.length;
    }
    outBias[0]! += last.bias[0]! / nets.length;
    outBias[1]! += last.bias[1]! / nets.length;
    offset += first.rows;
  }
  const geometry = new Float32Array(featureCount);
  geometry[GEOMETRY.log_megapixels] = 0.5;
  geometry[GEOMETRY.log_aspect] = 0.5;
  return {
    image: { weights: imageWeights, bias: imageBias, rows: hidden, cols: featureCount },
    actionBias,
    sideWeight,
    logSides: actions.map((a) => (a.maxSide === undefined ? null : Math.log(a.maxSide))),
    geometry: { weights: geometry, bias: GEOMETRY.bias },
    out: { weights: outWeights, bias: outBias },
  };
}
