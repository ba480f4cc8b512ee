import sharp, { type Metadata } from 'sharp';
import { CodecError, codecErrorFromSharp } from '../../codec/errors.ts';

/**
 * Decoding for OCR: one sharp pipeline from the client's bytes to the RGB pixels the models work on, at the working
 * resolution. Errors are the codec's typed CodecError (EMPTY, UNSUPPORTED_FORMAT, CORRUPT, TOO_MANY_PIXELS) so that the
 * emulated APIs map them to their own error shapes the same way as for every other operation.
 */

export interface RgbImage {
  /** Interleaved RGB, 3 bytes a pixel, row-major. */
  data: Buffer;
  width: number;
  height: number;
}

export interface DecodeOptions {
  /** Longest side of the working image; larger images are shrunk to fit (never enlarged). */
  maxSide: number;
  /** Rotate/flip by the EXIF Orientation tag first, so coordinates are in the frame a viewer displays. */
  applyOrientation: boolean;
  /** Images with more pixels are refused before any pixel is decoded (decompression bombs). */
  maxInputPixels: number;
}

export interface DecodedImage {
  /** The pixels the models see: the frame fitted into maxSide. */
  working: RgbImage;
  /** The frame results are given in: the image's own pixels, oriented when applyOrientation is set. */
  frame: { width: number; height: number };
}

export async function decodeForOcr(bytes: Buffer, options: DecodeOptions): Promise<DecodedImage> {
  if (bytes.length === 0) throw new CodecError('EMPTY', 'decode: no bytes');
  let meta: Metadata;
  try {
    meta = await sharp(bytes).metadata();
  } catch (error) {
    throw codecErrorFromSharp(error, 'decode');
  }
  const { width, height } = meta;
  if (!width || !height) throw new CodecError('CORRUPT', 'decode: image has no dimensions');
  // metadata() reads the header only and does not apply limitInputPixels, so the bomb check is made here.
  if (width * height > options.maxInputPixels) {
    throw new CodecError('TOO_MANY_PIXELS', `decode: ${width}x${height} is over ${options.maxInputPixels} pixels`);
  }
  // EXIF orientations 5-8 are quarter turns: the displayed frame is the stored one transposed.
  const turned = options.applyOrientation && (meta.orientation ?? 1) >= 5;
  const frame = turned ? { width: height, height: width } : { width, height };
  const scale = Math.min(1, options.maxSide / Math.max(frame.width, frame.height));
  const target = {
    width: Math.max(1, Math.round(frame.width * scale)),
    height: Math.max(1, Math.round(frame.height * scale)),
  };
  try {
    let pipeline = sharp(bytes, {
      limitInputPixels: options.maxInputPixels,
      // sharp's default for untrusted input: a truncated or damaged image is refused, not read half-grey.
      failOn: 'warning',
      autoOrient: options.applyOrientation,
    })
      // Transparent areas read as white paper rather than as whatever colour the transparent pixels happen to store.
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb');
    if (scale < 1) pipeline = pipeline.resize(target.width, target.height, { fit: 'fill' });
    const { data, info } = await pipeline.removeAlpha().raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new CodecError('CORRUPT', `decode: ${info.channels} channels after conversion`);
    return { working: { data, width: info.width, height: info.height }, frame };
  } catch (error) {
    throw codecErrorFromSharp(error, 'decode');
  }
}

/** Plain resize of decoded pixels (the detector needs sides that are multiples of 32). */
export async function resizeRgb(image: RgbImage, width: number, height: number): Promise<RgbImage> {
  if (width === image.width && height === image.height) return image;
  const { data, info } = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(width, height, { fit: 'fill' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}
