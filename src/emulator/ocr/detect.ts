import ort from 'onnxruntime-node';
import { boxesFromProbabilityMap, DB_DEFAULTS, type DbOptions, type ScoredQuad } from './db-postprocess.ts';
import { distance, orderBoxCorners, type Quad } from './geometry.ts';
import { type RgbImage, resizeRgb } from './image.ts';

/**
 * Text detection with PP-OCRv4's DB detector (ch_PP-OCRv4_det_infer.onnx: input `x` [1,3,H,W], output
 * `sigmoid_0.tmp_0` [1,1,H,W], the text probability at every input pixel). Pre-processing as PaddleOCR's
 * DetResizeForTest + NormalizeImage: sides rounded to multiples of 32 (at least 32), the image in OpenCV's BGR channel
 * order scaled to 0..1 and normalised with the ImageNet mean/std, which PaddleOCR applies to the BGR channels as they
 * come (so blue gets the 0.485/0.229 pair). The caller has already fitted the image to its working resolution.
 */

const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

/** Boxes closer than this (working pixels) in y count as one row when ordering, as PaddleOCR's sorted_boxes. */
export const SAME_ROW_PIXELS = 10;

/** Boxes whose sides are this short or shorter (working pixels) are dropped, as PaddleOCR's filter_tag_det_res. */
const MIN_BOX_SIDE = 3;

export async function detectText(
  session: ort.InferenceSession,
  image: RgbImage,
  options: DbOptions = DB_DEFAULTS,
): Promise<ScoredQuad[]> {
  const width = Math.max(32, Math.round(image.width / 32) * 32);
  const height = Math.max(32, Math.round(image.height / 32) * 32);
  const resized = await resizeRgb(image, width, height);
  const plane = width * height;
  const input = new Float32Array(3 * plane);
  const { data } = resized;
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      // BGR: network channel c reads image channel 2 - c.
      input[c * plane + i] = (data[i * 3 + (2 - c)]! / 255 - MEAN[c]!) / STD[c]!;
    }
  }
  const output = await session.run({ x: new ort.Tensor('float32', input, [1, 3, height, width]) });
  const probability = firstOutput(output);
  const [, , mapHeight, mapWidth] = probability.dims as number[];
  const boxes = boxesFromProbabilityMap(
    { data: probability.data as Float32Array, width: mapWidth!, height: mapHeight! },
    options,
  );
  const sx = image.width / mapWidth!;
  const sy = image.height / mapHeight!;
  const kept: ScoredQuad[] = [];
  for (const { quad, score } of boxes) {
    const mapped = orderBoxCorners(
      quad.map((p) => ({
        x: Math.min(Math.max(p.x * sx, 0), image.width - 1),
        y: Math.min(Math.max(p.y * sy, 0), image.height - 1),
      })),
    );
    if (distance(mapped[0], mapped[1]) <= MIN_BOX_SIDE || distance(mapped[0], mapped[3]) <= MIN_BOX_SIDE) continue;
    kept.push({ quad: mapped, score });
  }
  return sortReadingOrder(kept);
}

function firstOutput(output: ort.InferenceSession.OnnxValueMapType): ort.Tensor {
  const value = Object.values(output)[0];
  if (!value) throw new Error('text detector returned no output');
  return value as ort.Tensor;
}

/**
 * Top to bottom, then left to right within a row, as PaddleOCR's sorted_boxes: order by the top-left corner's y (then
 * x), then let a box move left past its predecessors while their top-left corners are within SAME_ROW_PIXELS in y.
 */
export function sortReadingOrder<T extends { quad: Quad }>(boxes: readonly T[]): T[] {
  const sorted = [...boxes].sort((a, b) => a.quad[0].y - b.quad[0].y || a.quad[0].x - b.quad[0].x);
  for (let i = 0; i < sorted.length - 1; i++) {
    for (let j = i; j >= 0; j--) {
      const a = sorted[j]!;
      const b = sorted[j + 1]!;
      if (Math.abs(b.quad[0].y - a.quad[0].y) < SAME_ROW_PIXELS && b.quad[0].x < a.quad[0].x) {
        sorted[j] = b;
        sorted[j + 1] = a;
      } else break;
    }
  }
  return sorted;
}
