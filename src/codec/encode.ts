import sharp from 'sharp';
import { codecErrorFromSharp } from './errors.ts';
import type { CodecLimits, EncodeAction, EncodeResult, InspectedImage } from './types.ts';

/**
 * Re-encode as baseline JPEG at the action's quality, decoding the source once.
 *
 * Orientation: pixels are NOT rotated. The output keeps the stored pixel grid and carries the source's EXIF orientation
 * tag (and only that tag: the rest of EXIF, e.g. GPS, is dropped). The upstream therefore sees exactly what the client
 * sent — same pixel grid, same orientation instruction — and any coordinates in its answer refer to the same pixels the
 * client's own image has. Rotating the pixels instead would change width/height and force us to map boxes back.
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
): Promise<EncodeResult> {
  let pipeline = sharp(image.bytes, { limitInputPixels: limits.maxInputPixels, failOn: 'warning' }).toColourspace(
    'srgb',
  );
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
): Promise<RecompressOutcome> {
  if (image.format !== 'jpeg' && image.format !== 'png') return { kind: 'original', reason: 'format' };
  if (image.hasAlpha) return { kind: 'original', reason: 'alpha' };
  const encoded = await encodeJpeg(image, action, limits);
  if (encoded.bytes.length >= image.bytes.length) {
    return { kind: 'original', reason: 'not-smaller', encodedBytes: encoded.bytes.length };
  }
  return { kind: 'encoded', quality: clampQuality(action.quality), originalBytes: image.bytes.length, ...encoded };
}
