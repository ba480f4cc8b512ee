import sharp, { type Sharp } from 'sharp';
import type { ImageSize } from '../models.ts';
import type { InputSpec } from './spec.ts';

/**
 * From uploaded bytes to a model's input tensor, in the two steps a real service takes: first the image as the API sees
 * it (EXIF orientation applied or not) brought to the operation's working resolution, then the model's own resize rule.
 */

/**
 * How far an operation shrinks an upload before its models see it: 'native' = not at all (each model's own resize is
 * the only one), or a box the image must fit in, oriented like the image (1920x1080 holds a portrait as 1080x1920).
 * Never enlarges.
 */
export type WorkingResolution = 'native' | { long: number; short: number };

/**
 * The upload's header was readable but its pixels are not (a truncated or damaged file): the client's fault, which each
 * API answers with its own bad-image error. Thrown where pixels are decoded; crosses the worker boundary by `code`.
 */
export class ImageUnreadableError extends Error {
  readonly code = 'EMULATOR_IMAGE_UNREADABLE';
  constructor(cause: unknown) {
    super(`image data unreadable: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'ImageUnreadableError';
  }
}

/** True for an ImageUnreadableError, also after it crossed from a worker thread as a plain error with its code. */
export const isImageUnreadable = (error: unknown): boolean =>
  (error as { code?: unknown } | null)?.code === 'EMULATOR_IMAGE_UNREADABLE';

/** A sharp pipeline's output, its failures as ImageUnreadableError (only decoding can fail in these pipelines). */
export async function decoded<T>(pipeline: Promise<T>): Promise<T> {
  try {
    return await pipeline;
  } catch (error) {
    throw new ImageUnreadableError(error);
  }
}

/** 'exif': JPEG EXIF orientation applied (PNG as stored), as Rekognition documents; 'stored': pixels as stored. */
export type Orientation = 'exif' | 'stored';

export function parseResolution(text: string): WorkingResolution | undefined {
  if (text === 'native') return 'native';
  const m = /^(\d+)(?:x(\d+))?$/.exec(text);
  if (!m) return undefined;
  const a = Number(m[1]);
  const b = m[2] === undefined ? a : Number(m[2]);
  if (a < 1 || b < 1) return undefined;
  return { long: Math.max(a, b), short: Math.min(a, b) };
}

export const formatResolution = (r: WorkingResolution): string =>
  r === 'native' ? 'native' : r.long === r.short ? `${r.long}` : `${r.long}x${r.short}`;

/** The image at the working resolution: a fresh sharp pipeline per model, and its size. */
export interface PixelSource {
  /** The image as the API sees it (its frame), before the working resolution. */
  frame: ImageSize;
  /** The size models start from: the frame, or smaller when the working resolution shrank it. */
  width: number;
  height: number;
  open(): Sharp;
}

/** Where the working resolution puts an image of `frame`: the frame itself when it already fits. */
export function workingSize(frame: ImageSize, resolution: WorkingResolution): ImageSize {
  if (resolution === 'native') return frame;
  const landscape = frame.width >= frame.height;
  const boxW = landscape ? resolution.long : resolution.short;
  const boxH = landscape ? resolution.short : resolution.long;
  const scale = Math.min(1, boxW / frame.width, boxH / frame.height);
  if (scale >= 1) return frame;
  return {
    width: Math.max(1, Math.round(frame.width * scale)),
    height: Math.max(1, Math.round(frame.height * scale)),
  };
}

export async function openImage(
  bytes: Buffer,
  orientation: Orientation,
  resolution: WorkingResolution,
): Promise<PixelSource> {
  const meta = await decoded(sharp(bytes).metadata());
  const orient = orientation === 'exif' && meta.format === 'jpeg';
  const frame = orient ? meta.autoOrient : { width: meta.width, height: meta.height };
  const start = () => (orient ? sharp(bytes).autoOrient() : sharp(bytes));
  const size = workingSize(frame, resolution);
  if (size.width === frame.width && size.height === frame.height) {
    return { frame, ...size, open: start };
  }
  // The service's own downscale, once; every model then resizes from these pixels.
  // Transparent areas become white (as paper, and as OCR engines read them), not whatever colour they store.
  const data = await decoded(
    start()
      .flatten({ background: '#ffffff' })
      .removeAlpha()
      .toColourspace('srgb')
      .resize({ width: size.width, height: size.height, fit: 'fill' })
      .raw()
      .toBuffer(),
  );
  return {
    frame,
    ...size,
    open: () => sharp(data, { raw: { width: size.width, height: size.height, channels: 3 } }),
  };
}

/** A model input and where the image's content sits in it (top-left, `width` x `height` input pixels). */
export interface ModelInput {
  data: Float32Array;
  dims: number[];
  inputWidth: number;
  inputHeight: number;
  /** The image's extent in input pixels: boxes divide by these to become ratios of the image. */
  contentWidth: number;
  contentHeight: number;
}

const roundUp = (v: number, m: number) => Math.max(m, Math.ceil(v / m) * m);

interface Plan {
  inputWidth: number;
  inputHeight: number;
  /** Resize target before crop or pad. */
  resizeWidth: number;
  resizeHeight: number;
  fit: 'fill' | 'outside';
  /** Cut the input out of the centre of the resized image. */
  crop?: boolean;
  pad?: number;
}

function plan(spec: InputSpec, width: number, height: number, longSide?: number): Plan {
  const { size, resize } = spec;
  if ('dynamic' in size) {
    const { multiple, maxSide } = size.dynamic;
    const scale = Math.min(1, Math.min(maxSide, longSide ?? maxSide) / Math.max(width, height));
    const w = Math.max(1, Math.round(width * scale));
    const h = Math.max(1, Math.round(height * scale));
    if (resize.rule === 'fill') {
      const iw = roundUp(w, multiple);
      const ih = roundUp(h, multiple);
      return { inputWidth: iw, inputHeight: ih, resizeWidth: iw, resizeHeight: ih, fit: 'fill' };
    }
    const pad = resize.rule === 'fit-within' ? resize.pad : 0;
    return {
      inputWidth: roundUp(w, multiple),
      inputHeight: roundUp(h, multiple),
      resizeWidth: w,
      resizeHeight: h,
      fit: 'fill',
      pad,
    };
  }
  const { width: W, height: H } = size;
  if (resize.rule === 'fill') return { inputWidth: W, inputHeight: H, resizeWidth: W, resizeHeight: H, fit: 'fill' };
  if (resize.rule === 'shorter-side-crop') {
    // sharp's fit 'outside' on an s x s box: the shorter side becomes s.
    const s = resize.shorterSide;
    return { inputWidth: W, inputHeight: H, resizeWidth: s, resizeHeight: s, fit: 'outside', crop: true };
  }
  const scale = resize.rule === 'letterbox' ? Math.min(W / width, H / height) : Math.min(1, W / width, H / height);
  return {
    inputWidth: W,
    inputHeight: H,
    resizeWidth: Math.max(1, Math.min(W, Math.round(width * scale))),
    resizeHeight: Math.max(1, Math.min(H, Math.round(height * scale))),
    fit: 'fill',
    pad: resize.pad,
  };
}

/**
 * Pixels -> the model's input tensor, following the spec's resize rule, channel order, layout and normalisation.
 * `longSide` caps a dynamic input further (a pyramid level).
 */
export async function modelInput(source: PixelSource, spec: InputSpec, longSide?: number): Promise<ModelInput> {
  const p = plan(spec, source.width, source.height, longSide);
  const { data, info } = await decoded(
    source
      .open()
      .flatten({ background: '#ffffff' })
      .removeAlpha()
      .toColourspace('srgb')
      .resize({ width: p.resizeWidth, height: p.resizeHeight, fit: p.fit })
      .raw()
      .toBuffer({ resolveWithObject: true }),
  );
  const W = p.inputWidth;
  const H = p.inputHeight;
  const x0 = p.crop ? Math.floor((info.width - W) / 2) : 0;
  const y0 = p.crop ? Math.floor((info.height - H) / 2) : 0;
  // Content extent inside the input: the whole input when cropped or stretched, the resized image when padded.
  const contentWidth = p.pad === undefined ? W : info.width;
  const contentHeight = p.pad === undefined ? H : info.height;
  const out = new Float32Array(3 * W * H);
  const bgr = spec.channels === 'BGR';
  const nchw = spec.layout === 'NCHW';
  const { scale, mean, std } = spec;
  const padValue = p.pad ?? 0;
  const plane = W * H;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const inside = x < contentWidth && y < contentHeight;
      const src = ((y0 + y) * info.width + (x0 + x)) * info.channels;
      const pixel = y * W + x;
      for (let c = 0; c < 3; c++) {
        // c is the model's channel; the decoded pixels are RGB.
        const v = inside ? data[src + (bgr ? 2 - c : c)]! : padValue;
        out[nchw ? c * plane + pixel : pixel * 3 + c] = (v * scale - mean[c]!) / std[c]!;
      }
    }
  }
  return {
    data: out,
    dims: nchw ? [1, 3, H, W] : [1, H, W, 3],
    inputWidth: W,
    inputHeight: H,
    contentWidth,
    contentHeight,
  };
}
