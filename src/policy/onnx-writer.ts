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

export interface MlpSpec {
  layers: DenseLayer[];
  /** One per layer, applied after it; the last is usually 'linear' (scores are expected rewards, unbounded). */
  activations: Activation[];
  inputName: string;
  outputName: string;
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
  let current = spec.inputName;
  spec.layers.forEach((layer, i) => {
    const w = `layer${i}.weight`;
    const b = `layer${i}.bias`;
    initializers.push(floatTensor(w, [layer.rows, layer.cols], layer.weights));
    initializers.push(floatTensor(b, [layer.rows], layer.bias));
    const last = i === spec.layers.length - 1;
    const activation = spec.activations[i] ?? 'linear';
    const gemmOut = last && activation === 'linear' ? spec.outputName : `layer${i}.linear`;
    nodes.push({
      opType: 'Gemm',
      name: `layer${i}.gemm`,
      input: [current, w, b],
      output: [gemmOut],
      attribute: [{ name: 'transB', type: onnx.AttributeProto.AttributeType.INT, i: 1 }],
    });
    current = gemmOut;
    if (activation !== 'linear') {
      const out = last ? spec.outputName : `layer${i}.${activation}`;
      nodes.push({
        opType: activation === 'relu' ? 'Relu' : 'Tanh',
        name: `layer${i}.${activation}`,
        input: [current],
        output: [out],
      });
      current = out;
    }
  });
  const inputs = spec.layers[0]!.cols;
  const outputs = spec.layers.at(-1)!.rows;
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    producerName: spec.producerName ?? 'adacompress-proxy',
    opsetImport: [{ domain: '', version: OPSET }],
    graph: {
      name: 'policy',
      node: nodes,
      initializer: initializers,
      input: [valueInfo(spec.inputName, inputs)],
      output: [valueInfo(spec.outputName, outputs)],
    },
    metadataProps: Object.entries(spec.metadata).map(([key, value]) => ({ key, value })),
  });
  return onnx.ModelProto.encode(model).finish();
}

/** The same network in plain TypeScript: for tests (ONNX == TS) and for the trainer's own evaluation. */
export function forwardMlp(
  layers: readonly DenseLayer[],
  activations: readonly Activation[],
  input: ArrayLike<number>,
): Float32Array {
  let x = Float32Array.from(input);
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

/** Read metadata_props of an ONNX file without loading it into a runtime (onnxruntime's JS API does not expose them). */
export function readOnnxMetadata(bytes: Uint8Array): Record<string, string> {
  const model = onnx.ModelProto.decode(bytes);
  const out: Record<string, string> = {};
  for (const prop of model.metadataProps ?? []) if (prop.key) out[prop.key] = prop.value ?? '';
  return out;
}

function validate(spec: MlpSpec): void {
  if (spec.layers.length === 0) throw new Error('onnx-writer: at least one layer');
  spec.layers.forEach((layer, i) => {
    if (layer.weights.length !== layer.rows * layer.cols) throw new Error(`onnx-writer: layer ${i} weights size`);
    if (layer.bias.length !== layer.rows) throw new Error(`onnx-writer: layer ${i} bias size`);
    const previous = spec.layers[i - 1];
    if (previous && previous.rows !== layer.cols)
      throw new Error(`onnx-writer: layer ${i} takes ${layer.cols}, gets ${previous.rows}`);
  });
}

function floatTensor(name: string, dims: number[], values: Float32Array): onnxProto.onnx.ITensorProto {
  // raw_data is little-endian float32; copy so an unaligned or shared buffer cannot leak extra bytes.
  const raw = new Uint8Array(values.length * 4);
  const view = new DataView(raw.buffer);
  values.forEach((v, i) => {
    view.setFloat32(i * 4, v, true);
  });
  return { name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: raw };
}

function valueInfo(name: string, size: number): onnxProto.onnx.IValueInfoProto {
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
