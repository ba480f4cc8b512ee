import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/**
 * Write a small MLP as a real ONNX file (Gemm + activation per layer), with metadata_props. Used by the placeholder
 * script and by the trainer to export trained networks; any tool that writes the same contract works too.
 */
export interface DenseLayer {
  /** Row-major [rows = outputs, cols = inputs]: y = W x + b (exported as Gemm with transB = 1). */
  weights: Float32Array;
  bias: Float32Array;
  rows: number;
  cols: number;
}

export type Activation = 'relu' | 'tanh' | 'linear';

/** An output computed from the last layer's activations (a model with several outputs shares its hidden layers). */
export interface OutputHead {
  name: string;
  layer: DenseLayer;
  activation?: Activation;
  /**
   * Output k is the minimum of the layer's outputs listed in minOver[k] (k itself among them), after the activation:
   * e.g. a predicted agreement no higher than that of any safer action (ReduceMin over a penalised broadcast).
   */
  minOver?: readonly (readonly number[])[];
}

/** Added to the outputs a row of a `minOver` head does not take the minimum of: far above any reachable value. */
const MIN_OVER_PENALTY = 1e4;

/**
 * Per-feature bounds the input is clipped to before the first layer (Max then Min nodes in the graph): the range
 * the network was trained on, so an input far outside it (a 12-MP photo for a net trained on 500-px ones) cannot
 * drive a ReLU net into unbounded linear extrapolation.
 */
export interface InputClip {
  min: Float32Array;
  max: Float32Array;
}

export interface MlpSpec {
  layers: DenseLayer[];
  /** One per layer, applied after it; the last is usually 'linear' (scores are expected rewards, unbounded). */
  activations: Activation[];
  inputName: string;
  /** The graph's output: the last layer's result. Ignored when `heads` are given. */
  outputName: string;
  /** Several outputs: `layers` are then the shared trunk, and each head one Gemm (+ activation) on its result. */
  heads?: OutputHead[];
  /** Clip the input to these per-feature bounds first. */
  inputClip?: InputClip;
  /** metadata_props, key -> string value (JSON for structured values). */
  metadata: Record<string, string>;
  producerName?: string;
}

const OPSET = 13;
const IR_VERSION = 8;

export function encodeMlpOnnx(spec: MlpSpec): Uint8Array {
  validate(spec);
  const nodes: onnxProto.onnx.INodeProto[] = [];
  const initializers: onnxProto.onnx.ITensorProto[] = [];
  /** One Gemm (+ activation) from `input`; its result is named `output` when given. */
  const dense = (prefix: string, input: string, layer: DenseLayer, activation: Activation, output?: string): string => {
    const w = `${prefix}.weight`;
    const b = `${prefix}.bias`;
    initializers.push(floatTensor(w, [layer.rows, layer.cols], layer.weights));
    initializers.push(floatTensor(b, [layer.rows], layer.bias));
    const gemmOut = output && activation === 'linear' ? output : `${prefix}.linear`;
    nodes.push({
      opType: 'Gemm',
      name: `${prefix}.gemm`,
      input: [input, w, b],
      output: [gemmOut],
      attribute: [{ name: 'transB', type: onnx.AttributeProto.AttributeType.INT, i: 1 }],
    });
    if (activation === 'linear') return gemmOut;
    const out = output ?? `${prefix}.${activation}`;
    nodes.push({
      opType: activation === 'relu' ? 'Relu' : 'Tanh',
      name: `${prefix}.${activation}`,
      input: [gemmOut],
      output: [out],
    });
    return out;
  };
  let current = spec.inputName;
  if (spec.inputClip) {
    const n = spec.inputClip.min.length;
    initializers.push(floatTensor('input.clip.min', [n], spec.inputClip.min));
    initializers.push(floatTensor('input.clip.max', [n], spec.inputClip.max));
    nodes.push({ opType: 'Max', name: 'input.clip.low', input: [current, 'input.clip.min'], output: ['input.low'] });
    nodes.push({
      opType: 'Min',
      name: 'input.clip.high',
      input: ['input.low', 'input.clip.max'],
      output: ['input.clipped'],
    });
    current = 'input.clipped';
  }
  spec.layers.forEach((layer, i) => {
    const last = i === spec.layers.length - 1 && !spec.heads;
    current = dense(`layer${i}`, current, layer, spec.activations[i] ?? 'linear', last ? spec.outputName : undefined);
  });
  const outputs = spec.heads
    ? spec.heads.map((head) => {
        const prefix = `head.${head.name}`;
        if (!head.minOver) {
          dense(prefix, current, head.layer, head.activation ?? 'linear', head.name);
          return valueInfo(head.name, head.layer.rows);
        }
        // raw [batch, n] -> [batch, 1, n] + penalty [n, n] -> [batch, n, n] -> min over the last axis -> [batch, n]
        const raw = dense(prefix, current, head.layer, head.activation ?? 'linear');
        const n = head.layer.rows;
        initializers.push(floatTensor(`${prefix}.min.penalty`, [n, n], minOverPenalty(head.minOver, n)));
        initializers.push({
          name: `${prefix}.min.axes`,
          dims: [1],
          dataType: onnx.TensorProto.DataType.INT64,
          int64Data: [1],
        });
        nodes.push({
          opType: 'Unsqueeze',
          name: `${prefix}.min.unsqueeze`,
          input: [raw, `${prefix}.min.axes`],
          output: [`${prefix}.min.rows`],
        });
        nodes.push({
          opType: 'Add',
          name: `${prefix}.min.penalise`,
          input: [`${prefix}.min.rows`, `${prefix}.min.penalty`],
          output: [`${prefix}.min.penalised`],
        });
        nodes.push({
          opType: 'ReduceMin',
          name: `${prefix}.min.reduce`,
          input: [`${prefix}.min.penalised`],
          output: [head.name],
          attribute: [
            { name: 'axes', type: onnx.AttributeProto.AttributeType.INTS, ints: [2] },
            { name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 0 },
          ],
        });
        return valueInfo(head.name, n);
      })
    : [valueInfo(spec.outputName, spec.layers.at(-1)!.rows)];
  const inputs = spec.layers[0]?.cols ?? spec.heads![0]!.layer.cols;
  return encodeModel(
    {
      name: 'policy',
      node: nodes,
      initializer: initializers,
      input: [valueInfo(spec.inputName, inputs)],
      output: outputs,
    },
    spec.metadata,
    spec.producerName,
  );
}

/** A graph as ONNX bytes: the one opset and IR version every policy file of this project is written with. */
export function encodeModel(
  graph: onnxProto.onnx.IGraphProto,
  metadata: Record<string, string>,
  producerName = 'adacompress-proxy',
): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    producerName,
    opsetImport: [{ domain: '', version: OPSET }],
    graph,
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
  });
  return onnx.ModelProto.encode(model).finish();
}

/**
 * The [n, n] penalty that turns "min over row k's listed columns" into a ReduceMin: 0 where column j is in
 * `minOver[k]`, a large value elsewhere (added, it can never be the minimum).
 */
export function minOverPenalty(minOver: readonly (readonly number[])[], n: number): Float32Array {
  const penalty = new Float32Array(n * n).fill(MIN_OVER_PENALTY);
  minOver.forEach((over, k) => {
    for (const j of over) penalty[k * n + j] = 0;
  });
  return penalty;
}

/** The same network in plain TypeScript: for tests (ONNX == TS) and for the trainer's own evaluation. */
export function forwardMlp(
  layers: readonly DenseLayer[],
  activations: readonly Activation[],
  input: ArrayLike<number>,
  clip?: InputClip,
): Float32Array {
  let x = clip ? clipInput(input, clip) : Float32Array.from(input);
  layers.forEach((layer, i) => {
    const y = new Float32Array(layer.rows);
    for (let r = 0; r < layer.rows; r++) {
      let sum = layer.bias[r]!;
      for (let c = 0; c < layer.cols; c++) sum += layer.weights[r * layer.cols + c]! * x[c]!;
      const activation = activations[i] ?? 'linear';
      y[r] = activation === 'relu' ? Math.max(0, sum) : activation === 'tanh' ? Math.tanh(sum) : sum;
    }
    x = y;
  });
  return x;
}

/** The input clipped to per-feature bounds, as the graph's Max/Min nodes do (float32). */
export function clipInput(input: ArrayLike<number>, clip: InputClip): Float32Array {
  const x = Float32Array.from(input);
  for (let j = 0; j < x.length; j++) x[j] = Math.min(clip.max[j]!, Math.max(clip.min[j]!, x[j]!));
  return x;
}

/** A network with heads in plain TypeScript: each head's output by name. */
export function forwardHeads(
  trunk: readonly DenseLayer[],
  activations: readonly Activation[],
  heads: readonly OutputHead[],
  input: ArrayLike<number>,
  clip?: InputClip,
): Record<string, Float32Array> {
  const hidden = forwardMlp(trunk, activations, input, clip);
  return Object.fromEntries(
    heads.map((head) => {
      const raw = forwardMlp([head.layer], [head.activation ?? 'linear'], hidden);
      if (!head.minOver) return [head.name, raw];
      return [head.name, Float32Array.from(head.minOver, (over) => Math.min(...over.map((j) => raw[j]!)))];
    }),
  );
}

/** Read metadata_props of an ONNX file without loading it into a runtime (onnxruntime's JS API does not expose them). */
export function readOnnxMetadata(bytes: Uint8Array): Record<string, string> {
  const model = onnx.ModelProto.decode(bytes);
  const out: Record<string, string> = {};
  for (const prop of model.metadataProps ?? []) if (prop.key) out[prop.key] = prop.value ?? '';
  return out;
}

function validate(spec: MlpSpec): void {
  if (spec.layers.length === 0 && !spec.heads?.length) throw new Error('onnx-writer: at least one layer or head');
  spec.layers.forEach((layer, i) => {
    if (layer.weights.length !== layer.rows * layer.cols) throw new Error(`onnx-writer: layer ${i} weights size`);
    if (layer.bias.length !== layer.rows) throw new Error(`onnx-writer: layer ${i} bias size`);
    const previous = spec.layers[i - 1];
    if (previous && previous.rows !== layer.cols)
      throw new Error(`onnx-writer: layer ${i} takes ${layer.cols}, gets ${previous.rows}`);
  });
  const inputs = spec.layers[0]?.cols ?? spec.heads![0]!.layer.cols;
  const clip = spec.inputClip;
  if (clip && (clip.min.length !== inputs || clip.max.length !== inputs))
    throw new Error(`onnx-writer: input clip bounds must have ${inputs} values`);
  const trunkOut = spec.layers.at(-1)?.rows ?? spec.heads![0]!.layer.cols;
  for (const head of spec.heads ?? []) {
    if (head.layer.cols !== trunkOut)
      throw new Error(`onnx-writer: head ${head.name} takes ${head.layer.cols}, gets ${trunkOut}`);
    if (head.layer.weights.length !== head.layer.rows * head.layer.cols)
      throw new Error(`onnx-writer: head ${head.name} weights size`);
    const over = head.minOver;
    if (
      over &&
      (over.length !== head.layer.rows ||
        over.some((list, k) => !list.includes(k) || list.some((j) => !(j >= 0 && j < head.layer.rows))))
    )
      throw new Error(`onnx-writer: head ${head.name}: minOver must list, per output, itself and other outputs`);
  }
}

export function floatTensor(name: string, dims: number[], values: Float32Array): onnxProto.onnx.ITensorProto {
  // raw_data is little-endian float32; copy so an unaligned or shared buffer cannot leak extra bytes.
  const raw = new Uint8Array(values.length * 4);
  const view = new DataView(raw.buffer);
  values.forEach((v, i) => {
    view.setFloat32(i * 4, v, true);
  });
  return { name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: raw };
}

export function valueInfo(name: string, size: number): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: [{ dimParam: 'batch' }, { dimValue: size }] },
      },
    },
  };
}
