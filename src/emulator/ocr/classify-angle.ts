import ort from 'onnxruntime-node';
import type { Quad } from './geometry.ts';
import type { RgbImage } from './image.ts';
import { cropSize, sampleStrip } from './strip.ts';

/**
 * The text-direction classifier (ch_ppocr_mobile_v2.0_cls_infer.onnx: input `x` [N,3,48,192], output
 * `softmax_0.tmp_0` [N,2] over the labels "0" and "180"). As PaddleOCR's TextClassifier: the crop is resized to 48 px
 * high and at most 192 wide (squeezed when longer), padded to 192; a line is turned over only when "180" wins with a
 * probability above 0.9 (cls_thresh), so an unsure classifier leaves the line as detected.
 */

export const CLS_SHAPE = { height: 48, width: 192 } as const;
export const CLS_THRESH = 0.9;
/** Lines per classifier run: the input is a fixed size, so batching is free accuracy-wise and saves per-run overhead. */
const CLS_BATCH = 16;

/** For each quad (in reading order), whether its text is upside down. */
export async function upsideDown(
  session: ort.InferenceSession,
  image: RgbImage,
  quads: readonly Quad[],
  thresh = CLS_THRESH,
): Promise<boolean[]> {
  const flips: boolean[] = [];
  const per = 3 * CLS_SHAPE.height * CLS_SHAPE.width;
  for (let start = 0; start < quads.length; start += CLS_BATCH) {
    const batch = quads.slice(start, start + CLS_BATCH);
    const input = new Float32Array(batch.length * per);
    batch.forEach((quad, i) => {
      const size = cropSize(quad);
      const contentWidth = Math.min(
        CLS_SHAPE.width,
        Math.max(1, Math.ceil((CLS_SHAPE.height * size.width) / Math.max(size.height, 1e-6))),
      );
      input.set(
        sampleStrip(image, quad, { height: CLS_SHAPE.height, contentWidth, paddedWidth: CLS_SHAPE.width }),
        i * per,
      );
    });
    const output = await session.run({
      x: new ort.Tensor('float32', input, [batch.length, 3, CLS_SHAPE.height, CLS_SHAPE.width]),
    });
    const probs = Object.values(output)[0]!.data as Float32Array;
    for (let i = 0; i < batch.length; i++) {
      const p180 = probs[i * 2 + 1]!;
      flips.push(p180 > probs[i * 2]! && p180 > thresh);
    }
  }
  return flips;
}
