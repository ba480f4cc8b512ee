import sharp, { type Sharp } from 'sharp';
import { CodecError, codecErrorFromSharp } from './errors.ts';
import type { CodecLimits, EncodeAction, EncodeResult, InspectedImage } from './types.ts';

/**
 * Re-encode as baseline JPEG at the action's quality, resized to the action's longest side when it asks for one, in one
 * sharp pipeline from one decode (libjpeg's shrink-on-load does most of a large reduction while decoding).
 *
 * Orientation: pixels are NOT rotated. The output keeps the stored pixel grid (scaled as a whole when resized) and
 * carries the source's EXIF orientation tag (and only that tag: the rest of EXIF, e.g. GPS, is dropped). The upstream
 * therefore sees what the client sent, the same way up; coordinates in its answer are mapped back to the client's
 * pixels by the width/height ratio when the proxy resized (the providers' answer mapping).
 *
 * Colour: output is always sRGB (CMYK and images with other ICC profiles are converted; sharp's default), 8-bit.
 * Encoder: the standard Annex K tables scaled by quality (quantisationTable 0), 4:2:0 chroma, no mozjpeg trellis, not
 * progressive; Huffman tables optimised (lossless, a few % smaller; sharp's default).
 *
 * failOn 'warning': an image libjpeg/libpng complain about is not re-encoded (the caller forwards the original), rather
 * than sending a grey-padded partial decode upstream. Throws CodecError (TOO_MANY_PIXELS, ENCODE_FAILED, CORRUPT).
 */
export async function encodeJpeg(
  image: InspectedImage,
  action: EncodeAction,
  limits: CodecLimits,
  stop?: WorkStop,
): Promise<EncodeResult> {
  let pipeline = sharp(image.bytes, { limitInputPixels: limits.maxInputPixels, failOn: 'warning' }).toColourspace(
    'srgb',
  );
  if (stop) pipeline = withDeadline(pipeline, stop);
  const size = targetSize(image, action.maxSide);
  if (size.width !== image.width || size.height !== image.height) {
    pipeline = pipeline.resize({ width: size.width, height: size.height, fit: 'fill' });
  }
  if (image.orientation !== 1) pipeline = pipeline.withExif({ IFD0: { Orientation: String(image.orientation) } });
  try {
    const { data, info } = await pipeline
      .jpeg({
        quality: clampQuality(action.quality),
        chromaSubsampling: '4:2:0',
        mozjpeg: false,
        trellisQuantisation: false,
        overshootDeringing: false,
        optimiseScans: false,
        progressive: false,
        optimiseCoding: true,
        quantisationTable: 0,
      })
      .toBuffer({ resolveWithObject: true });
    return { bytes: data, width: info.width, height: info.height };
  } catch (error) {
    throw codecErrorFromSharp(error, 'encode');
  }
}

/** When the work must end: performance.now() of its deadline. */
export interface WorkStop {
  deadline: number;
}

/**
 * The deadline as sharp's timeout (whole seconds, rounded up, at least 1), so libvips itself stops the pipeline
 * rather than the caller only ceasing to wait. Past the deadline already: TIMED_OUT before any work.
 */
function withDeadline(pipeline: Sharp, stop: WorkStop): Sharp {
  const left = stop.deadline - performance.now();
  if (left <= 0) throw new CodecError('TIMED_OUT', 'encode: the deadline passed before it started');
  return pipeline.timeout({ seconds: Math.min(3600, Math.ceil(left / 1000)) });
}

/**
 * The stored size an action sends: the longest side brought to `maxSide`, aspect kept, never enlarged, each side at
 * least 1 px. Callers keep the API's minimum side (actions.ts fits actions to the limits first).
 */
export function targetSize(image: { width: number; height: number }, maxSide: number | undefined) {
  const long = Math.max(image.width, image.height);
  if (maxSide === undefined || !(maxSide < long)) return { width: image.width, height: image.height };
  const scale = maxSide / long;
  return {
    width: Math.max(1, Math.round(image.width * scale)),
    height: Math.max(1, Math.round(image.height * scale)),
  };
}

function clampQuality(quality: number): number {
  return Math.min(100, Math.max(1, Math.round(quality)));
}

export type PassReason =
  | 'not-smaller' // the re-encoded image would not have saved a byte
  | 'alpha' // has an alpha channel: JPEG would lose transparency
  | 'format'; // not JPEG or PNG (webp, gif, tiff, ...): left as the client chose

export type RecompressOutcome =
  | ({ kind: 'encoded'; quality: number; originalBytes: number } & EncodeResult)
  | { kind: 'original'; reason: PassReason; encodedBytes?: number };

/**
 * The NEVER LARGER rule around encodeJpeg: 'encoded' only when strictly smaller than the original, otherwise
 * 'original' with the reason. Errors (CodecError) propagate: the caller fails open and forwards the original.
 * PNGs with an alpha channel are never converted, even when every pixel is opaque (checking would cost a full decode).
 */
export async function recompress(
  image: InspectedImage,
  action: EncodeAction,
  limits: CodecLimits,
  stop?: WorkStop,
): Promise<RecompressOutcome> {
  if (image.format !== 'jpeg' && image.format !== 'png') return { kind: 'original', reason: 'format' };
  if (image.hasAlpha) return { kind: 'original', reason: 'alpha' };
  const encoded = await encodeJpeg(image, action, limits, stop);
  if (encoded.bytes.length >= image.bytes.length) {
    return { kind: 'original', reason: 'not-smaller', encodedBytes: encoded.bytes.length };
  }
  return { kind: 'encoded', quality: clampQuality(action.quality), originalBytes: image.bytes.length, ...encoded };
}
