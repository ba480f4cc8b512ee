import onnxProto from 'onnx-proto';
import { clipInput, encodeModel, floatTensor, type InputClip, minOverPenalty, valueInfo } from './onnx-writer.ts';

const { onnx } = onnxProto;

/**
 * An action-conditioned policy network over the (longest side x quality) grid, as ONNX and as its TypeScript mirror.
 * One hidden layer sees the image's features AND the action's own features, so what it learns about q35 at 384 px
 * also informs q35 at 512 px: a few hundred photos are enough for 72 actions, which one output per action is not.
 *
 * Per image (features x, float32 [batch, F]) and action k (quality q_k, longest side s_k or the stored size):
 *   xc        = clip(x)                                          the range seen in training
 *   lnL       = geometry . x + geometryBias                      ln of the image's longest side, from the raw features
 *   side_k    = min(0, ln s_k - lnL)                             0 at the stored size (s_k = infinity)
 *   h_k       = relu(W xc + b + actionBias_k + side_k * sideWeight)     [hidden]
 *   [a_k, z_k] = out . h_k + outBias                            predicted agreement, ln size ratio
 * Outputs (each [batch, actions]): agreement a (masked actions -1; optionally capped by the minimum over safer
 * actions), size exp(z), scores a - w exp(z) (masked actions -1000). The side feature is computed from the raw
 * features (not clipped): a 4032-px photo sent at 1024 px is ln(1024/4032) away from its stored size whatever the
 * training photos' sizes were.
 */
export interface GridNetSpec {
  /** First layer on the image features: [hidden, features] row-major (standardisation folded in), bias [hidden]. */
  image: { weights: Float32Array; bias: Float32Array; rows: number; cols: number };
  /** Per action, its constant share of each hidden unit's pre-activation: [actions, hidden] row-major. */
  actionBias: Float32Array;
  /** Per hidden unit, the weight of the side feature. */
  sideWeight: Float32Array;
  /** ln of each action's longest side; null = the stored size. */
  logSides: readonly (number | null)[];
  /** lnL = geometry . x + geometryBias (x unclipped). */
  geometry: { weights: Float32Array; bias: number };
  /** Output layer: [2, hidden] row-major (agreement, ln size), bias [2]. */
  out: { weights: Float32Array; bias: Float32Array };
  sizeWeight: number;
  /** Per action: masked (never chosen: agreement -1, score -1000). */
  masked?: readonly boolean[];
  /** Agreement of action k = the minimum over these actions' agreements (k among them). */
  minOver?: readonly (readonly number[])[];
  inputClip?: InputClip;
  names: { input: string; scores: string; agreement: string; size: string };
  metadata: Record<string, string>;
  producerName?: string;
}

export const MASKED_AGREEMENT = -1;
export const MASKED_SCORE = -1000;
/** ln side of the stored size in the graph: far above any image, so min(0, .) gives 0. */
const STORED = 1e4;

function check(spec: GridNetSpec): { actions: number; hidden: number; features: number } {
  const hidden = spec.image.rows;
  const features = spec.image.cols;
  const actions = spec.logSides.length;
  const fail = (what: string) => {
    throw new Error(`grid-net: ${what}`);
  };
  if (spec.image.weights.length !== hidden * features || spec.image.bias.length !== hidden) fail('image layer size');
  if (spec.actionBias.length !== actions * hidden) fail('actionBias must be actions x hidden');
  if (spec.sideWeight.length !== hidden) fail('sideWeight must have one weight per hidden unit');
  if (spec.geometry.weights.length !== features) fail('geometry must have one weight per feature');
  if (spec.out.weights.length !== 2 * hidden || spec.out.bias.length !== 2) fail('out must be 2 x hidden');
  if (spec.masked && spec.masked.length !== actions) fail('masked must have one entry per action');
  if (spec.minOver && (spec.minOver.length !== actions || spec.minOver.some((o, k) => !o.includes(k))))
    fail('minOver must list, per action, itself and others');
  if (spec.inputClip && (spec.inputClip.min.length !== features || spec.inputClip.max.length !== features))
    fail('input clip bounds must have one value per feature');
  return { actions, hidden, features };
}

export function encodeGridNetOnnx(spec: GridNetSpec): Uint8Array {
  const { actions, hidden, features } = check(spec);
  const nodes: onnxProto.onnx.INodeProto[] = [];
  const init: onnxProto.onnx.ITensorProto[] = [];
  const node = (opType: string, input: string[], output: string, attribute: onnxProto.onnx.IAttributeProto[] = []) =>
    nodes.push({ opType, name: output, input, output: [output], attribute });
  const floats = (name: string, dims: number[], values: ArrayLike<number>) => {
    init.push(floatTensor(name, dims, Float32Array.from(values)));
    return name;
  };
  const int64 = (name: string, dims: number[], values: number[]) => {
    init.push({ name, dims, dataType: onnx.TensorProto.DataType.INT64, int64Data: values });
    return name;
  };
  const transB = [{ name: 'transB', type: onnx.AttributeProto.AttributeType.INT, i: 1 }];
  const x = spec.names.input;
  let xc = x;
  if (spec.inputClip) {
    node('Max', [x, floats('clip.min', [features], spec.inputClip.min)], 'x.low');
    node('Min', ['x.low', floats('clip.max', [features], spec.inputClip.max)], 'x.clipped');
    xc = 'x.clipped';
  }
  node(
    'Gemm',
    [
      xc,
      floats('image.weight', [hidden, features], spec.image.weights),
      floats('image.bias', [hidden], spec.image.bias),
    ],
    'image',
    transB,
  );
  node('Unsqueeze', ['image', int64('axis1', [1], [1])], 'image.rows'); // [B, 1, H]
  node(
    'Gemm',
    [
      x,
      floats('geometry.weight', [1, features], spec.geometry.weights),
      floats('geometry.bias', [1], [spec.geometry.bias]),
    ],
    'lnL',
    transB,
  ); // [B, 1]
  floats(
    'log.sides',
    [actions],
    spec.logSides.map((s) => s ?? STORED),
  );
  node('Sub', ['log.sides', 'lnL'], 'side.diff'); // [B, A]
  node('Min', ['side.diff', floats('zero', [1], [0])], 'side'); // [B, A]
  node('Unsqueeze', ['side', int64('axis2', [1], [2])], 'side.cols'); // [B, A, 1]
  node('Mul', ['side.cols', floats('side.weight', [hidden], spec.sideWeight)], 'side.term'); // [B, A, H]
  node('Add', ['image.rows', floats('action.bias', [actions, hidden], spec.actionBias)], 'pre.action'); // [B, A, H]
  node('Add', ['pre.action', 'side.term'], 'pre');
  node('Relu', ['pre'], 'hidden');
  // out^T: [H, 2]
  const outT = new Float32Array(hidden * 2);
  for (let h = 0; h < hidden; h++) {
    outT[h * 2] = spec.out.weights[h]!;
    outT[h * 2 + 1] = spec.out.weights[hidden + h]!;
  }
  node('MatMul', ['hidden', floats('out.weight', [hidden, 2], outT)], 'out.linear'); // [B, A, 2]
  node('Add', ['out.linear', floats('out.bias', [2], spec.out.bias)], 'out');
  const axis2 = [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 2 }];
  node('Gather', ['out', int64('index0', [], [0])], 'agreement.raw', axis2); // [B, A]
  node('Gather', ['out', int64('index1', [], [1])], 'size.log', axis2);
  node('Exp', ['size.log'], spec.names.size);
  // Masks: value * keep + offset (keep 0 and offset the masked constant for masked actions).
  const keep = Array.from({ length: actions }, (_, k) => (spec.masked?.[k] ? 0 : 1));
  node('Mul', [spec.names.size, floats('size.weight', [1], [spec.sizeWeight])], 'size.cost');
  node('Sub', ['agreement.raw', 'size.cost'], 'scores.raw');
  node('Mul', ['scores.raw', floats('keep', [actions], keep)], 'scores.kept');
  node(
    'Add',
    [
      'scores.kept',
      floats(
        'scores.offset',
        [actions],
        keep.map((k) => (k ? 0 : MASKED_SCORE)),
      ),
    ],
    spec.names.scores,
  );
  const agreementMasked = spec.minOver ? 'agreement.masked' : spec.names.agreement;
  node('Mul', ['agreement.raw', 'keep'], 'agreement.kept');
  node(
    'Add',
    [
      'agreement.kept',
      floats(
        'agreement.offset',
        [actions],
        keep.map((k) => (k ? 0 : MASKED_AGREEMENT)),
      ),
    ],
    agreementMasked,
  );
  if (spec.minOver) {
    node('Unsqueeze', [agreementMasked, 'axis1'], 'agreement.rows'); // [B, 1, A]
    node(
      'Add',
      ['agreement.rows', floats('min.penalty', [actions, actions], minOverPenalty(spec.minOver, actions))],
      'agreement.penalised',
    ); // [B, A, A]
    node('ReduceMin', ['agreement.penalised'], spec.names.agreement, [
      { name: 'axes', type: onnx.AttributeProto.AttributeType.INTS, ints: [2] },
      { name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 0 },
    ]);
  }
  return encodeModel(
    {
      name: 'grid-policy',
      node: nodes,
      initializer: init,
      input: [valueInfo(x, features)],
      output: [spec.names.scores, spec.names.agreement, spec.names.size].map((n) => valueInfo(n, actions)),
    },
    spec.metadata,
    spec.producerName,
  );
}

/** The graph in plain TypeScript (float32 where the graph is): each output by name. */
export function forwardGridNet(spec: GridNetSpec, input: ArrayLike<number>): Record<string, Float32Array> {
  const { actions, hidden, features } = check(spec);
  const x = Float32Array.from(input);
  const xc = spec.inputClip ? clipInput(x, spec.inputClip) : x;
  const image = new Float32Array(hidden);
  for (let h = 0; h < hidden; h++) {
    let sum = spec.image.bias[h]!;
    for (let f = 0; f < features; f++) sum += spec.image.weights[h * features + f]! * xc[f]!;
    image[h] = sum;
  }
  let lnL = spec.geometry.bias;
  for (let f = 0; f < features; f++) lnL += spec.geometry.weights[f]! * x[f]!;
  const agreement = new Float32Array(actions);
  const size = new Float32Array(actions);
  const scores = new Float32Array(actions);
  for (let k = 0; k < actions; k++) {
    const side = Math.min(0, (spec.logSides[k] ?? STORED) - lnL);
    let a = spec.out.bias[0]!;
    let z = spec.out.bias[1]!;
    for (let h = 0; h < hidden; h++) {
      const v = Math.max(0, image[h]! + spec.actionBias[k * hidden + h]! + side * spec.sideWeight[h]!);
      a += spec.out.weights[h]! * v;
      z += spec.out.weights[hidden + h]! * v;
    }
    size[k] = Math.exp(z);
    const masked = spec.masked?.[k] ?? false;
    agreement[k] = masked ? MASKED_AGREEMENT : a;
    scores[k] = masked ? MASKED_SCORE : a - spec.sizeWeight * size[k]!;
  }
  const capped = spec.minOver
    ? Float32Array.from(spec.minOver, (over) => Math.min(...over.map((j) => agreement[j]!)))
    : agreement;
  return { [spec.names.scores]: scores, [spec.names.agreement]: capped, [spec.names.size]: size };
}
