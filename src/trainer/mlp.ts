/**
 * A small multi-layer perceptron with Adam, in plain TypeScript: the policy network is a few thousand parameters,
 * trained on at most a few thousand samples, so a hand-written float64 loop takes seconds and keeps the trainer free of
 * a native ML dependency. (No maintained JS training library exports ONNX; see docs/TRAINING.md.) Export goes through
 * src/policy/onnx-writer.ts with the input standardisation folded into the first layer, so the ONNX graph is plain
 * Gemm/Relu and its scores equal `predict` here (tested).
 */
import type { Activation, DenseLayer } from '../policy/onnx-writer.ts';
import { type Rng, seededRng } from '../policy/rng.ts';

export interface MlpShape {
  inputs: number;
  hidden: number[];
  outputs: number;
}

interface Layer {
  rows: number;
  cols: number;
  w: Float64Array;
  b: Float64Array;
}

/** One training sample: input, a target per output, and a weight per output (0 = no target for that output). */
export interface Sample {
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  weight: ArrayLike<number>;
}

export interface TrainOptions {
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** L2 penalty on weights (not biases). */
  weightDecay: number;
  seed: number;
}

export const defaultTrainOptions: TrainOptions = {
  epochs: 300,
  batchSize: 64,
  learningRate: 0.003,
  weightDecay: 1e-4,
  seed: 1,
};

function gaussian(rng: Rng): number {
  const u = Math.max(rng(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

export class Mlp {
  readonly shape: MlpShape;
  readonly layers: Layer[];
  /** Input standardisation, fitted on the training inputs. */
  mean: Float64Array;
  scale: Float64Array;

  constructor(shape: MlpShape, seed: number) {
    this.shape = shape;
    const rng = seededRng(seed);
    const sizes = [shape.inputs, ...shape.hidden, shape.outputs];
    this.layers = sizes.slice(1).map((rows, i) => {
      const cols = sizes[i]!;
      const std = Math.sqrt(2 / cols); // He initialisation for ReLU
      return {
        rows,
        cols,
        w: Float64Array.from({ length: rows * cols }, () => gaussian(rng) * std),
        b: new Float64Array(rows),
      };
    });
    this.mean = new Float64Array(shape.inputs);
    this.scale = new Float64Array(shape.inputs).fill(1);
  }

  fitStandardisation(inputs: readonly ArrayLike<number>[]): void {
    const n = Math.max(1, inputs.length);
    const d = this.shape.inputs;
    const mean = new Float64Array(d);
    const sq = new Float64Array(d);
    for (const x of inputs) for (let j = 0; j < d; j++) mean[j]! += x[j]! / n;
    for (const x of inputs) for (let j = 0; j < d; j++) sq[j]! += (x[j]! - mean[j]!) ** 2 / n;
    this.mean = mean;
    // Constant features (std 0) stay unscaled rather than blowing up.
    this.scale = sq.map((v) => (v > 1e-12 ? 1 / Math.sqrt(v) : 1));
  }

  /**
   * Start the output layer at the weighted mean target of each output (its bias) with zero weights, so that before
   * (or without) any signal from the inputs the net predicts each output's mean: training then only adds what the
   * inputs explain, and a few Adam steps on a small data set leave calibrated means rather than the random outputs of
   * an untrained layer.
   */
  initOutputBias(samples: readonly Sample[]): void {
    const last = this.layers.at(-1)!;
    last.w.fill(0);
    const sum = new Float64Array(last.rows);
    const weight = new Float64Array(last.rows);
    for (const s of samples) {
      for (let k = 0; k < last.rows; k++) {
        sum[k]! += s.weight[k]! * s.y[k]!;
        weight[k]! += s.weight[k]!;
      }
    }
    for (let k = 0; k < last.rows; k++) if (weight[k]! > 0) last.b[k] = sum[k]! / weight[k]!;
  }

  /** Activations of every layer for one input (index 0 = standardised input). */
  #forward(x: ArrayLike<number>): Float64Array[] {
    const d = this.shape.inputs;
    const input = new Float64Array(d);
    for (let j = 0; j < d; j++) input[j] = (x[j]! - this.mean[j]!) * this.scale[j]!;
    const acts = [input];
    let current = input;
    this.layers.forEach((layer, li) => {
      const out = new Float64Array(layer.rows);
      const last = li === this.layers.length - 1;
      for (let r = 0; r < layer.rows; r++) {
        let sum = layer.b[r]!;
        const offset = r * layer.cols;
        for (let c = 0; c < layer.cols; c++) sum += layer.w[offset + c]! * current[c]!;
        out[r] = last ? sum : Math.max(0, sum);
      }
      acts.push(out);
      current = out;
    });
    return acts;
  }

  predict(x: ArrayLike<number>): Float64Array {
    return this.#forward(x).at(-1)!;
  }

  /** Weighted mean squared error over the samples' weighted outputs. */
  loss(samples: readonly Sample[]): number {
    let total = 0;
    let weights = 0;
    for (const s of samples) {
      const p = this.predict(s.x);
      for (let k = 0; k < p.length; k++) {
        total += s.weight[k]! * (p[k]! - s.y[k]!) ** 2;
        weights += s.weight[k]!;
      }
    }
    return weights > 0 ? total / weights : 0;
  }

  /** Mini-batch Adam on the weighted MSE. Deterministic for a given seed and sample order. */
  train(samples: readonly Sample[], options: TrainOptions): { finalLoss: number } {
    const rng = seededRng(options.seed ^ 0x9e3779b9);
    const params = this.layers.flatMap((l) => [l.w, l.b]);
    const m = params.map((p) => new Float64Array(p.length));
    const v = params.map((p) => new Float64Array(p.length));
    const grads = params.map((p) => new Float64Array(p.length));
    const beta1 = 0.9;
    const beta2 = 0.999;
    const eps = 1e-8;
    let step = 0;
    const order = samples.map((_, i) => i);
    for (let epoch = 0; epoch < options.epochs; epoch++) {
      // Fisher-Yates with the seeded generator.
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(rng() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      for (let start = 0; start < order.length; start += options.batchSize) {
        const batch = order.slice(start, start + options.batchSize);
        for (const g of grads) g.fill(0);
        let batchWeight = 0;
        for (const index of batch) {
          const s = samples[index]!;
          for (let k = 0; k < this.shape.outputs; k++) batchWeight += s.weight[k]!;
        }
        if (batchWeight === 0) continue;
        for (const index of batch) this.#accumulate(samples[index]!, grads, 1 / batchWeight);
        step++;
        const lr = options.learningRate;
        const c1 = 1 - beta1 ** step;
        const c2 = 1 - beta2 ** step;
        params.forEach((p, pi) => {
          const g = grads[pi]!;
          const isWeight = pi % 2 === 0;
          const mp = m[pi]!;
          const vp = v[pi]!;
          for (let i = 0; i < p.length; i++) {
            const gi = g[i]! + (isWeight ? options.weightDecay * p[i]! : 0);
            mp[i] = beta1 * mp[i]! + (1 - beta1) * gi;
            vp[i] = beta2 * vp[i]! + (1 - beta2) * gi * gi;
            p[i]! -= (lr * (mp[i]! / c1)) / (Math.sqrt(vp[i]! / c2) + eps);
          }
        });
      }
    }
    return { finalLoss: this.loss(samples) };
  }

  #accumulate(sample: Sample, grads: Float64Array[], norm: number): void {
    const acts = this.#forward(sample.x);
    const out = acts.at(-1)!;
    let delta = new Float64Array(out.length);
    for (let k = 0; k < out.length; k++) delta[k] = 2 * sample.weight[k]! * (out[k]! - sample.y[k]!) * norm;
    for (let li = this.layers.length - 1; li >= 0; li--) {
      const layer = this.layers[li]!;
      const input = acts[li]!;
      const gw = grads[2 * li]!;
      const gb = grads[2 * li + 1]!;
      const back = new Float64Array(layer.cols);
      for (let r = 0; r < layer.rows; r++) {
        const dr = delta[r]!;
        if (dr === 0) continue;
        gb[r]! += dr;
        const offset = r * layer.cols;
        for (let c = 0; c < layer.cols; c++) {
          gw[offset + c]! += dr * input[c]!;
          back[c]! += dr * layer.w[offset + c]!;
        }
      }
      if (li > 0) for (let c = 0; c < layer.cols; c++) if (input[c]! <= 0) back[c] = 0; // ReLU'
      delta = back;
    }
  }

  /** Dense layers for ONNX export: standardisation folded into the first layer (W' = W·diag(s), b' = b − W'·mean). */
  exportLayers(): { layers: DenseLayer[]; activations: Activation[] } {
    const layers: DenseLayer[] = this.layers.map((layer, li) => {
      const weights = new Float32Array(layer.rows * layer.cols);
      const bias = new Float32Array(layer.rows);
      for (let r = 0; r < layer.rows; r++) {
        let b = layer.b[r]!;
        for (let c = 0; c < layer.cols; c++) {
          let w = layer.w[r * layer.cols + c]!;
          if (li === 0) {
            w *= this.scale[c]!;
            b -= w * this.mean[c]!;
          }
          weights[r * layer.cols + c] = w;
        }
        bias[r] = b;
      }
      return { weights, bias, rows: layer.rows, cols: layer.cols };
    });
    const activations: Activation[] = layers.map((_, i) => (i === layers.length - 1 ? 'linear' : 'relu'));
    return { layers, activations };
  }
}
