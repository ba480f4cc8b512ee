import ort from 'onnxruntime-node';
import { BLANK } from './dictionary.ts';
import type { Quad } from './geometry.ts';
import type { RgbImage } from './image.ts';
import { cropSize, sampleStrip } from './strip.ts';

/**
 * Line recognition with PP-OCRv4's SVTR-LCNet recogniser (ch_PP-OCRv4_rec_infer.onnx: input `x` [1,3,48,W], output
 * `softmax_11.tmp_0` [1,T,6625], per-time-step character probabilities, T = W/8). As PaddleOCR's resize_norm_img for
 * rec_image_shape 3,48,320 with one line per batch: the crop is resized to 48 px high keeping its aspect ratio and padded
 * to at least 320 wide. Greedy CTC decoding: the best class at each step, repeats merged, blanks dropped; the line's
 * confidence is the mean probability of the characters kept (PaddleOCR's score). One addition: spaces the model read
 * but did not let win are recovered (SPACE_RECOVERY_PROB).
 */

export const REC_SHAPE = { height: 48, minWidth: 320 } as const;

export interface DecodedChar {
  char: string;
  prob: number;
  /** The time steps [firstStep, lastStep] the character's run of identical best classes covers. */
  firstStep: number;
  lastStep: number;
  /** A space the model left implicit, read from the space class's peak in a gap; not counted in the confidence. */
  recovered?: boolean;
}

export interface RecognisedLine {
  text: string;
  confidence: number;
  chars: DecodedChar[];
  /** Strip pixels the box's content covers (x = 0 is the quad's left edge, x = contentWidth its right edge). */
  contentWidth: number;
  /** Strip pixels one time step stands for. */
  stepWidth: number;
}

export function recLayout(quad: Quad): { height: number; contentWidth: number; paddedWidth: number } {
  const { width, height } = cropSize(quad);
  const exact = (REC_SHAPE.height * width) / Math.max(height, 1e-6);
  const paddedWidth = Math.max(REC_SHAPE.minWidth, Math.floor(exact));
  return { height: REC_SHAPE.height, contentWidth: Math.max(1, Math.min(paddedWidth, Math.ceil(exact))), paddedWidth };
}

export async function recogniseLine(
  session: ort.InferenceSession,
  image: RgbImage,
  quad: Quad,
  charset: readonly string[],
  spaceProb = SPACE_RECOVERY_PROB,
): Promise<RecognisedLine> {
  const layout = recLayout(quad);
  const input = sampleStrip(image, quad, layout);
  const output = await session.run({
    x: new ort.Tensor('float32', input, [1, 3, layout.height, layout.paddedWidth]),
  });
  const probs = Object.values(output)[0]!;
  const [, steps, classes] = probs.dims as number[];
  const chars = ctcGreedy(probs.data as Float32Array, steps!, classes!, charset, spaceProb);
  const read = chars.filter((c) => !c.recovered);
  const confidence = read.length > 0 ? read.reduce((s, c) => s + c.prob, 0) / read.length : 0;
  return {
    text: chars.map((c) => c.char).join(''),
    confidence,
    chars,
    contentWidth: layout.contentWidth,
    stepWidth: layout.paddedWidth / steps!,
  };
}

/**
 * Space recovery. PP-OCRv4's Chinese/English recogniser is known to drop the spaces between English words
 * (PaddleOCR issues #11386, #13201; PaddleX #3519: "a defect of this general model"), which would make every line one
 * word. It still raises the space class at the gaps, just not above the blank, so a space is read between two
 * characters when the space class reaches this probability at some step between them.
 *
 * Measured (scripts/ocr-photos.ts and rendered cards: 16 lines x 4 DejaVu faces x 6 sizes, 14-60 px, 5557 character
 * boundaries): on cards the peak inside a word never exceeded 0.0015 and at a real gap was at least 0.008; at 0.01, no
 * false split and 2 of 1141 gaps missed. On photos of handwriting and engraved, letter-spaced capitals, peaks inside
 * words reach 0.004-0.05 (0.004 split "comp le te", "S H E LL"); 0.01 keeps most of those whole and leaves a few
 * ("inc lude", "CHARLOT TE"), which a higher value would trade for gaps lost on clean print.
 */
export const SPACE_RECOVERY_PROB = 0.01;

/**
 * Greedy CTC over [steps, classes] probabilities, keeping where in time each character was read, with the spaces the
 * model left implicit recovered (see SPACE_RECOVERY_PROB; `space` is the space class's index, the last one).
 */
export function ctcGreedy(
  probs: Float32Array,
  steps: number,
  classes: number,
  charset: readonly string[],
  spaceProb = SPACE_RECOVERY_PROB,
): DecodedChar[] {
  const space = classes - 1;
  const chars: DecodedChar[] = [];
  let previous = -1;
  // The highest space probability since the last character, and where it was.
  let gapPeak = 0;
  let gapPeakStep = -1;
  for (let t = 0; t < steps; t++) {
    let best = 0;
    let bestProb = -1;
    const row = t * classes;
    for (let k = 0; k < classes; k++) {
      const p = probs[row + k]!;
      if (p > bestProb) {
        bestProb = p;
        best = k;
      }
    }
    if (best !== BLANK && best === previous) {
      // The same class held over several steps is one character, its run extended; its probability stays the first
      // step's, as in PaddleOCR's decoder.
      chars[chars.length - 1]!.lastStep = t;
    } else if (best !== BLANK) {
      const last = chars.at(-1);
      if (best !== space && last && last.char !== ' ' && gapPeak >= spaceProb) {
        chars.push({ char: ' ', prob: gapPeak, firstStep: gapPeakStep, lastStep: gapPeakStep, recovered: true });
      }
      chars.push({ char: charset[best] ?? '', prob: bestProb, firstStep: t, lastStep: t });
      gapPeak = 0;
    } else if (probs[row + space]! > gapPeak) {
      gapPeak = probs[row + space]!;
      gapPeakStep = t;
    }
    previous = best;
  }
  return chars;
}
