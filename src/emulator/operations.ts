import type { CatalogEntry } from './backends/engines.ts';
import { formatResolution, type Orientation, parseResolution, type WorkingResolution } from './backends/pixels.ts';
import { PPOCR_BACKEND } from './backends/ppocr.ts';
import type { InferenceJob } from './backends/runner.ts';
import type { Task } from './backends/tasks.ts';
import type { ApiName } from './runtime.ts';

/**
 * Every emulated operation with its backend and working resolution, like a real service: which models answer it, how far
 * the upload is shrunk before they see it, and the documented rules on top (Rekognition's minimum face size). The keys
 * are option names (config.ts): `--rekognition-detect-faces yunet@1920x1080`, or POST /__emulator/config at run time.
 *
 * A binding is `backend[+backend...][@resolution]`: one backend per task the operation needs (optional tasks may be
 * left out), and the working resolution `native` (the models' own resize only), `N` (longer side at most N) or `WxH`
 * (fit inside, oriented like the image). Never enlarges.
 */

export interface OperationSpec {
  api: ApiName;
  /** The API's name for it, for docs and errors. */
  title: string;
  required: readonly Task[];
  optional?: readonly Task[];
  /** The default binding. */
  default: string;
  /** Faces narrower than this, in pixels at the working resolution, are not reported. */
  minFacePx?: number;
  /** At most this many faces, the largest. */
  maxFaces?: number;
  /** Why the default is what it is. */
  source: string;
}

/**
 * Where the text operations read: neither AWS nor Baidu documents a working resolution for OCR, so the one documented
 * figure stands in, PaddleOCR's own: its detector's default limit is a longer side of 960 (det_limit_side_len 960,
 * limit_type max). Text too small at that size is lost, as by a service that shrinks uploads to its working size.
 */
export const OCR_WORKING_SIDE = 960;
const OCR_SOURCE =
  'Undocumented for the API; PaddleOCR runs its PP-OCR detector at a longer side of at most 960 (det_limit_side_len), the one documented figure for this model family.';

export const operations = {
  rekognitionDetectLabels: {
    api: 'rekognition',
    title: 'Rekognition DetectLabels',
    required: ['classify'],
    optional: ['objects'],
    default: 'mobilenetv2-12-int8+fastestdet',
    source:
      'Rekognition resizes internally for labels (FIELD-NOTES "Later findings"); the classifier looks at 224 px by its crop, the detector at 352: more pixels change nothing.',
  },
  rekognitionDetectFaces: {
    api: 'rekognition',
    title: 'Rekognition DetectFaces',
    required: ['faces'],
    default: 'yunet@1920x1080',
    minFacePx: 40,
    maxFaces: 100,
    source:
      'AWS "Guidelines and quotas": a face must be at least 40x40 px in a 1920x1080 image, larger images need proportionally larger faces; DetectFaces returns the 100 largest faces.',
  },
  rekognitionCompareFaces: {
    api: 'rekognition',
    title: 'Rekognition CompareFaces',
    required: ['faces'],
    default: 'yunet@1920x1080',
    minFacePx: 40,
    maxFaces: 100,
    source: 'As DetectFaces (the same face-size quota).',
  },
  faceppDetect: {
    api: 'facepp',
    title: 'Face++ detect',
    required: ['faces'],
    default: 'yunet@2048',
    source:
      'Undocumented. Face++ takes up to 4096 px and finds faces from 48 px (and 1/48 of the short side) of the upload (PROVIDERS.md): at 2048 such a face is still 24 px for the model, which YuNet finds.',
  },
  faceppDetectsceneandobject: {
    api: 'facepp',
    title: 'Face++ detectsceneandobject',
    required: ['objects', 'classify'],
    default: 'fastestdet+mobilenetv2-12-int8',
    source: 'Undocumented; the models look at 352 and 224 px by their own resize.',
  },
  baiduAdvancedGeneral: {
    api: 'baidu',
    title: 'Baidu advanced_general',
    required: ['classify'],
    default: 'mobilenetv2-12-int8',
    source: 'Undocumented; the classifier looks at 224 px by its crop.',
  },
  baiduFaceDetect: {
    api: 'baidu',
    title: 'Baidu face v3 detect',
    required: ['faces'],
    default: 'yunet@1920x1080',
    source:
      "Baidu's face detection guide (swan.ai.faceDetect, which calls face v3 detect) recommends images within 1920x1080.",
  },
  rekognitionDetectText: {
    api: 'rekognition',
    title: 'Rekognition DetectText',
    required: ['text'],
    default: `${PPOCR_BACKEND}@${OCR_WORKING_SIDE}`,
    source: OCR_SOURCE,
  },
  baiduGeneralBasic: {
    api: 'baidu',
    title: 'Baidu ocr/v1/general_basic',
    required: ['text'],
    default: `${PPOCR_BACKEND}@${OCR_WORKING_SIDE}`,
    source: OCR_SOURCE,
  },
  baiduAccurateBasic: {
    api: 'baidu',
    title: 'Baidu ocr/v1/accurate_basic',
    required: ['text'],
    default: `${PPOCR_BACKEND}@${OCR_WORKING_SIDE}`,
    source: OCR_SOURCE,
  },
  baiduGeneral: {
    api: 'baidu',
    title: 'Baidu ocr/v1/general',
    required: ['text'],
    default: `${PPOCR_BACKEND}@${OCR_WORKING_SIDE}`,
    source: OCR_SOURCE,
  },
  baiduAccurate: {
    api: 'baidu',
    title: 'Baidu ocr/v1/accurate',
    required: ['text'],
    default: `${PPOCR_BACKEND}@${OCR_WORKING_SIDE}`,
    source: OCR_SOURCE,
  },
} as const satisfies Record<string, OperationSpec>;

export type OperationName = keyof typeof operations;
export const operationNames = Object.keys(operations) as OperationName[];

/**
 * EXIF orientation per API: Rekognition documents that it applies a JPEG's EXIF orientation and answers boxes of the
 * corrected image; Face++ and Baidu document nothing. They get 'stored' (pixels as stored, boxes of the stored frame):
 * then a proxy that bakes the rotation into the pixels changes what they see and where their pixel boxes point, the case
 * its mapping must survive. Switchable per API.
 */
export const orientationDefaults: Record<ApiName, Orientation> = {
  rekognition: 'exif',
  facepp: 'stored',
  baidu: 'stored',
};

export interface Binding {
  backends: string[];
  resolution: WorkingResolution;
}

/** The syntax only; `checkBinding` compares it with the loaded specs. */
export function parseBinding(text: string): Binding | undefined {
  const m = /^([a-z0-9][a-z0-9._-]*(?:\+[a-z0-9][a-z0-9._-]*)*)(?:@([0-9x]+|native))?$/.exec(text.trim());
  if (!m) return undefined;
  const resolution = parseResolution(m[2] ?? 'native');
  if (!resolution) return undefined;
  return { backends: m[1]!.split('+'), resolution };
}

export const formatBinding = (b: Binding): string =>
  b.backends.join('+') + (b.resolution === 'native' ? '' : `@${formatResolution(b.resolution)}`);

export const BINDING_SYNTAX = 'backend[+backend...][@native|N|WxH]';

/** Why `text` cannot serve `operation` with these backends, or undefined when it can. */
export function checkBinding(
  operation: OperationName,
  text: string,
  specs: readonly CatalogEntry[],
): string | undefined {
  const op: OperationSpec = operations[operation];
  const binding = parseBinding(text);
  if (!binding) return `"${text}" is not ${BINDING_SYNTAX}`;
  const seen = new Set<Task>();
  for (const name of binding.backends) {
    const spec = specs.find((s) => s.name === name);
    if (!spec) return `unknown backend ${name} (known: ${specs.map((s) => s.name).join(', ')})`;
    if (![...op.required, ...(op.optional ?? [])].includes(spec.task))
      return `${name} answers ${spec.task}; ${op.title} needs ${[...op.required, ...(op.optional ?? [])].join(' + ')}`;
    if (seen.has(spec.task)) return `two ${spec.task} backends for ${op.title}`;
    seen.add(spec.task);
  }
  const missing = op.required.filter((t) => !seen.has(t));
  if (missing.length > 0) return `${op.title} needs a ${missing.join(' and a ')} backend`;
  return undefined;
}

/** The job for one image under a binding, with the API's orientation rule. */
export function jobFor(binding: Binding, orientation: Orientation, image: Buffer): InferenceJob {
  return { image, backends: binding.backends, resolution: binding.resolution, orientation };
}
