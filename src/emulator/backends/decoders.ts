import type { ClassScore, Detection, RatioBox } from '../models.ts';
import type { ClassifierOutput, DetectorOutput } from './spec.ts';

/**
 * Model outputs -> classes or detections. One decoder per classifier output kind and detector family, each following the
 * model's published post-processing (../shared/data/README.md); all pure, so the same tensors give the same answer.
 */

export type Outputs = Record<string, { data: Float32Array; dims: readonly number[] }>;

/** Where the image lies in the model input: boxes in input pixels divide by these to become ratios of the image. */
export interface Extent {
  inputWidth: number;
  inputHeight: number;
  contentWidth: number;
  contentHeight: number;
}

/** A candidate in input pixels, before NMS. */
interface Candidate {
  classIndex: number;
  score: number;
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  /** Landmarks in input pixels, x0, y0, x1, y1, ... */
  points?: number[];
}

/**
 * Classifier: softmax of logits (or the probabilities as given), labels in output order. `offset` skips a leading
 * background output (a 1001-way model with a 1000-name label list). All classes, best first, ties by index.
 */
export function decodeClassifier(
  output: ClassifierOutput,
  outputs: Outputs,
  labels: readonly string[],
  offset: number,
): ClassScore[] {
  const raw = outputs[output.name]!.data.subarray(offset, offset + labels.length);
  let scores: number[];
  if (output.values === 'logits') {
    let max = -Infinity;
    for (const v of raw) max = Math.max(max, v);
    const exps = Array.from(raw, (l) => Math.exp(l - max));
    const sum = exps.reduce((a, b) => a + b, 0);
    scores = exps.map((e) => e / sum);
  } else {
    scores = Array.from(raw);
  }
  return scores
    .map((score, index) => ({ index, name: labels[index]!, score }))
    .sort((a, b) => b.score - a.score || a.index - b.index);
}

function bestClass(data: Float32Array, from: number, count: number): { index: number; score: number } {
  let index = 0;
  let score = -1;
  for (let c = 0; c < count; c++) {
    const s = data[from + c]!;
    if (s > score) {
      score = s;
      index = c;
    }
  }
  return { index, score };
}

/** FastestDet: rows cx, cy, w, h (input pixels), objectness, classes; score = objectness x best class. */
function fastestdet(output: Extract<DetectorOutput, { family: 'fastestdet' }>, outputs: Outputs): Candidate[] {
  const { data, dims } = outputs[output.name]!;
  const stride = dims[dims.length - 1]!;
  const classes = stride - 5;
  const found: Candidate[] = [];
  for (let i = 0; i + stride <= data.length; i += stride) {
    const best = bestClass(data, i + 5, classes);
    const score = data[i + 4]! * best.score;
    if (score < output.minScore) continue;
    const [cx, cy, w, h] = [data[i]!, data[i + 1]!, data[i + 2]!, data[i + 3]!];
    found.push({ classIndex: best.index, score, x1: cx - w / 2, y1: cy - h / 2, x2: cx + w / 2, y2: cy + h / 2 });
  }
  return found;
}

/** YOLOX: rows over the stride grids (row-major, smallest stride first), dx, dy, log w, log h, obj, classes. */
function yolox(output: Extract<DetectorOutput, { family: 'yolox' }>, outputs: Outputs, extent: Extent): Candidate[] {
  const { data, dims } = outputs[output.name]!;
  const stride = dims[dims.length - 1]!;
  const classes = stride - 5;
  const found: Candidate[] = [];
  let row = 0;
  for (const s of output.strides) {
    const gw = Math.floor(extent.inputWidth / s);
    const gh = Math.floor(extent.inputHeight / s);
    for (let gy = 0; gy < gh; gy++) {
      for (let gx = 0; gx < gw; gx++, row++) {
        const i = row * stride;
        const best = bestClass(data, i + 5, classes);
        const score = data[i + 4]! * best.score;
        if (score < output.minScore) continue;
        const cx = (data[i]! + gx) * s;
        const cy = (data[i + 1]! + gy) * s;
        const w = Math.exp(data[i + 2]!) * s;
        const h = Math.exp(data[i + 3]!) * s;
        found.push({ classIndex: best.index, score, x1: cx - w / 2, y1: cy - h / 2, x2: cx + w / 2, y2: cy + h / 2 });
      }
    }
  }
  if (row * stride !== data.length) throw new Error(`yolox: ${data.length / stride} rows, the strides give ${row}`);
  return found;
}

/** UltraFace: scores [1, N, 2] (face = 1), boxes [1, N, 4] as ratios of the input. */
function ultraface(output: Extract<DetectorOutput, { family: 'ultraface' }>, outputs: Outputs, extent: Extent) {
  const scores = outputs[output.scores]!.data;
  const boxes = outputs[output.boxes]!.data;
  const found: Candidate[] = [];
  const { inputWidth: W, inputHeight: H } = extent;
  for (let i = 0; i < scores.length / 2; i++) {
    const score = scores[i * 2 + 1]!;
    if (score < output.minScore) continue;
    const b = i * 4;
    found.push({
      classIndex: 0,
      score,
      x1: boxes[b]! * W,
      y1: boxes[b + 1]! * H,
      x2: boxes[b + 2]! * W,
      y2: boxes[b + 3]! * H,
    });
  }
  return found;
}

/** YuNet: per stride, cls/obj [1, N, 1], bbox [1, N, 4], kps [1, N, 10] over the (H/s) x (W/s) grid, row-major. */
function yunet(output: Extract<DetectorOutput, { family: 'yunet' }>, outputs: Outputs, extent: Extent) {
  const found: Candidate[] = [];
  for (const s of output.strides) {
    const cls = outputs[`cls_${s}`]!.data;
    const obj = outputs[`obj_${s}`]!.data;
    const bbox = outputs[`bbox_${s}`]!.data;
    const kps = outputs[`kps_${s}`]!.data;
    const cols = Math.floor(extent.inputWidth / s);
    for (let i = 0; i < cls.length; i++) {
      const clamp = (v: number) => Math.min(1, Math.max(0, v));
      const score = Math.sqrt(clamp(cls[i]!) * clamp(obj[i]!));
      if (score < output.minScore) continue;
      const col = i % cols;
      const row = Math.floor(i / cols);
      const cx = (col + bbox[i * 4]!) * s;
      const cy = (row + bbox[i * 4 + 1]!) * s;
      const w = Math.exp(bbox[i * 4 + 2]!) * s;
      const h = Math.exp(bbox[i * 4 + 3]!) * s;
      const points: number[] = [];
      for (let k = 0; k < 5; k++) points.push((col + kps[i * 10 + 2 * k]!) * s, (row + kps[i * 10 + 2 * k + 1]!) * s);
      found.push({ classIndex: 0, score, x1: cx - w / 2, y1: cy - h / 2, x2: cx + w / 2, y2: cy + h / 2, points });
    }
  }
  return found;
}

const decoders = { fastestdet, yolox, ultraface, yunet } as const;

/** The output tensors a detector family reads, by name: the backend checks they exist in the ONNX session. */
export function detectorOutputNames(output: DetectorOutput): string[] {
  if (output.family === 'ultraface') return [output.scores, output.boxes];
  if (output.family === 'yunet')
    return output.strides.flatMap((s) => ['cls', 'obj', 'bbox', 'kps'].map((k) => `${k}_${s}`));
  return [output.name];
}

const clamp01 = (v: number) => Math.min(1, Math.max(0, v));

function iou(a: RatioBox, b: RatioBox): number {
  const x1 = Math.max(a.left, b.left);
  const y1 = Math.max(a.top, b.top);
  const x2 = Math.min(a.left + a.width, b.left + b.width);
  const y2 = Math.min(a.top + a.height, b.top + b.height);
  const inter = Math.max(0, x2 - x1) * Math.max(0, y2 - y1);
  const union = a.width * a.height + b.width * b.height - inter;
  return union > 0 ? inter / union : 0;
}

/** Greedy NMS, per class name; ties broken by position so the order never depends on the sort's stability. */
export function nms(detections: Detection[], threshold: number): Detection[] {
  const sorted = [...detections].sort((a, b) => b.score - a.score || a.box.left - b.box.left || a.box.top - b.box.top);
  const kept: Detection[] = [];
  for (const d of sorted) {
    if (kept.every((k) => k.name !== d.name || iou(k.box, d.box) <= threshold)) kept.push(d);
  }
  return kept;
}

/** Detector outputs -> detections as ratios of the image, clamped to it, before NMS (pyramid levels merge first). */
export function decodeDetector(
  output: DetectorOutput,
  outputs: Outputs,
  extent: Extent,
  labels: readonly string[],
): Detection[] {
  const candidates = decoders[output.family](output as never, outputs, extent);
  const rx = (x: number) => clamp01(x / extent.contentWidth);
  const ry = (y: number) => clamp01(y / extent.contentHeight);
  return candidates.map((c): Detection => {
    const left = rx(c.x1);
    const top = ry(c.y1);
    const detection: Detection = {
      name: labels[c.classIndex] ?? `class ${c.classIndex}`,
      score: c.score,
      box: { left, top, width: rx(c.x2) - left, height: ry(c.y2) - top },
    };
    if (c.points) {
      detection.landmarks = [];
      for (let k = 0; k + 1 < c.points.length; k += 2)
        detection.landmarks.push({ x: rx(c.points[k]!), y: ry(c.points[k + 1]!) });
    }
    return detection;
  });
}
