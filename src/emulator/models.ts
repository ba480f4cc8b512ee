import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import sharp from 'sharp';

/**
 * The three pretrained models behind the emulated APIs, run with onnxruntime-node on the CPU. Preprocessing follows
 * ../shared/data/README.md exactly; everything here is a pure function of the image bytes, so answers are deterministic.
 */

export const MODEL_FILES = {
  classifier: 'mobilenetv2-12-int8.onnx',
  classifierLabels: 'TF.ImageNetLabels.txt',
  detector: 'FastestDet.onnx',
  detectorLabels: 'coco-labels.txt',
  faces: 'ultraface-RFB-320.onnx',
} as const;

/** A box as ratios of the image size (Rekognition's convention): resolution-independent. */
export interface RatioBox {
  left: number;
  top: number;
  width: number;
  height: number;
}

export interface ClassScore {
  /** Index in the 1000 ImageNet classes. */
  index: number;
  name: string;
  /** Softmax probability 0..1. */
  score: number;
}

export interface Detection {
  name: string;
  score: number;
  box: RatioBox;
}

/** Everything one image gives, per model; `size` is the decoded image in pixels. */
export interface ImageSize {
  width: number;
  height: number;
}

export interface Models {
  classifier: ort.InferenceSession;
  detector: ort.InferenceSession;
  faces: ort.InferenceSession;
  imagenetLabels: string[];
  cocoLabels: string[];
}

export class ModelFilesMissingError extends Error {
  readonly code = 'EMULATOR_MODELS_MISSING';
  constructor(dir: string, cause: unknown) {
    super(`model files not found in ${dir} (expected ${Object.values(MODEL_FILES).join(', ')}); set --model-dir`, {
      cause,
    });
    this.name = 'ModelFilesMissingError';
  }
}

export async function loadModels(dir: string, intraOpNumThreads = 1): Promise<Models> {
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: ['cpu'],
    intraOpNumThreads,
    interOpNumThreads: 1,
    // UltraFace's export lists its weights as graph inputs: onnxruntime warns once per weight at load. Not our concern.
    logSeverityLevel: 3,
  };
  try {
    const [classifier, detector, faces, imagenetText, cocoText] = await Promise.all([
      ort.InferenceSession.create(join(dir, MODEL_FILES.classifier), options),
      ort.InferenceSession.create(join(dir, MODEL_FILES.detector), options),
      ort.InferenceSession.create(join(dir, MODEL_FILES.faces), options),
      readFile(join(dir, MODEL_FILES.classifierLabels), 'utf8'),
      readFile(join(dir, MODEL_FILES.detectorLabels), 'utf8'),
    ]);
    const lines = (text: string) =>
      text
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l.length > 0);
    // The first line of TF.ImageNetLabels.txt is "background", which this 1000-way classifier does not have.
    return { classifier, detector, faces, imagenetLabels: lines(imagenetText).slice(1), cocoLabels: lines(cocoText) };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || /load model|No such file/i.test(String(error))) {
      throw new ModelFilesMissingError(dir, error);
    }
    throw error;
  }
}

/** Decoded RGB pixels resized as asked; `fit: 'fill'` is the plain (aspect-breaking) resize the detectors expect. */
async function rgb(
  image: Buffer,
  width: number,
  height: number,
  fit: 'fill' | 'outside',
): Promise<{ data: Buffer; width: number; height: number; channels: number }> {
  const { data, info } = await sharp(image)
    .removeAlpha()
    .toColourspace('srgb')
    .resize({ width, height, fit })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { ...info, data };
}

/** HWC uint8 (channels 3) -> CHW float32 with a per-channel affine map, reading the window [x0, x0+w) x [y0, y0+h). */
function toChw(
  pixels: { data: Buffer; width: number; channels: number },
  x0: number,
  y0: number,
  w: number,
  h: number,
  map: (value: number, channel: number) => number,
): Float32Array {
  const out = new Float32Array(3 * w * h);
  const { data, width, channels } = pixels;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const src = ((y0 + y) * width + (x0 + x)) * channels;
      const dst = y * w + x;
      for (let c = 0; c < 3; c++) out[c * w * h + dst] = map(data[src + c]!, c);
    }
  }
  return out;
}

const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

/** MobileNetV2: shorter side to 256, centre crop 224, ImageNet normalisation. All 1000 classes, best first. */
export async function classify(models: Models, image: Buffer): Promise<ClassScore[]> {
  const pixels = await rgb(image, 256, 256, 'outside');
  const x0 = Math.floor((pixels.width - 224) / 2);
  const y0 = Math.floor((pixels.height - 224) / 2);
  const input = toChw(pixels, x0, y0, 224, 224, (v, c) => (v / 255 - MEAN[c]!) / STD[c]!);
  const result = await models.classifier.run({ input: new ort.Tensor('float32', input, [1, 3, 224, 224]) });
  const logits = result.output!.data as Float32Array;
  const max = Math.max(...logits);
  const exps = Array.from(logits, (l) => Math.exp(l - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps
    .map((e, index) => ({ index, name: models.imagenetLabels[index] ?? `class ${index}`, score: e / sum }))
    .sort((a, b) => b.score - a.score || a.index - b.index);
}

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

const clamp01 = (v: number) => Math.min(1, Math.max(0, v));

function ratioBox(x1: number, y1: number, x2: number, y2: number): RatioBox {
  const left = clamp01(x1);
  const top = clamp01(y1);
  return { left, top, width: clamp01(x2) - left, height: clamp01(y2) - top };
}

export const DETECTOR_MIN_SCORE = 0.3;

/** FastestDet: plain resize to 352x352, /255; score = objectness x class score; NMS IoU 0.45. */
export async function detectObjects(
  models: Models,
  image: Buffer,
  minScore = DETECTOR_MIN_SCORE,
): Promise<Detection[]> {
  const pixels = await rgb(image, 352, 352, 'fill');
  const input = toChw(pixels, 0, 0, 352, 352, (v) => v / 255);
  const result = await models.detector.run({ input: new ort.Tensor('float32', input, [1, 3, 352, 352]) });
  const out = result.output!.data as Float32Array;
  const classes = models.cocoLabels.length;
  const stride = 5 + classes;
  const found: Detection[] = [];
  for (let i = 0; i + stride <= out.length; i += stride) {
    const objectness = out[i + 4]!;
    let best = 0;
    let bestScore = -1;
    for (let c = 0; c < classes; c++) {
      const s = out[i + 5 + c]!;
      if (s > bestScore) {
        bestScore = s;
        best = c;
      }
    }
    const score = objectness * bestScore;
    if (score < minScore) continue;
    const [cx, cy, w, h] = [out[i]! / 352, out[i + 1]! / 352, out[i + 2]! / 352, out[i + 3]! / 352];
    found.push({
      name: models.cocoLabels[best]!,
      score,
      box: ratioBox(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2),
    });
  }
  return nms(found, 0.45);
}

export const FACE_MIN_SCORE = 0.7;

/** UltraFace RFB-320: plain resize to 320x240, (v-127)/128; face score >= 0.7; NMS IoU 0.3. */
export async function detectFaces(models: Models, image: Buffer): Promise<Detection[]> {
  const pixels = await rgb(image, 320, 240, 'fill');
  const input = toChw(pixels, 0, 0, 320, 240, (v) => (v - 127) / 128);
  const result = await models.faces.run({ input: new ort.Tensor('float32', input, [1, 3, 240, 320]) });
  const scores = result.scores!.data as Float32Array;
  const boxes = result.boxes!.data as Float32Array;
  const found: Detection[] = [];
  for (let i = 0; i < scores.length / 2; i++) {
    const score = scores[i * 2 + 1]!;
    if (score < FACE_MIN_SCORE) continue;
    const b = i * 4;
    found.push({ name: 'face', score, box: ratioBox(boxes[b]!, boxes[b + 1]!, boxes[b + 2]!, boxes[b + 3]!) });
  }
  return nms(found, 0.3);
}

export async function imageSize(image: Buffer): Promise<ImageSize & { format: string | undefined }> {
  const meta = await sharp(image).metadata();
  return { width: meta.width ?? 0, height: meta.height ?? 0, format: meta.format };
}
