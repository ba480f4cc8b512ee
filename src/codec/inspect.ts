import sharp, { type Metadata } from 'sharp';
import { CodecError, codecErrorFromSharp } from './errors.ts';
import { estimateJpegQuality } from './jpeg-quality.ts';
import type { CodecLimits, InspectedImage } from './types.ts';

const knownFormats = new Set<InspectedImage['format']>(['jpeg', 'png', 'webp', 'gif', 'tiff', 'bmp']);

/**
 * What an image is, from its header only (sharp metadata, ~0.1-0.2 ms): no pixel is decoded here.
 * Throws CodecError: EMPTY, UNSUPPORTED_FORMAT (random bytes), CORRUPT (truncated JPEG/PNG, broken header),
 * TOO_MANY_PIXELS (width x height over limits.maxInputPixels, checked before anything decodes).
 */
export async function inspectImage(bytes: Buffer, limits: CodecLimits): Promise<InspectedImage> {
  if (bytes.length === 0) throw new CodecError('EMPTY', 'inspect: no bytes');
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: limits.maxInputPixels }).metadata();
  } catch (error) {
    throw codecErrorFromSharp(error, 'inspect');
  }
  const { width, height } = meta;
  if (!width || !height) throw new CodecError('CORRUPT', 'inspect: image has no dimensions');
  // sharp's metadata() does not apply limitInputPixels (it reads the header only), so the bomb check is ours.
  if (width * height > limits.maxInputPixels) {
    throw new CodecError(
      'TOO_MANY_PIXELS',
      `inspect: ${width}x${height} is over the limit of ${limits.maxInputPixels} pixels`,
    );
  }
  const format = knownFormats.has(meta.format as InspectedImage['format'])
    ? (meta.format as InspectedImage['format'])
    : 'other';
  if (format === 'jpeg' && !jpegHasEndOfImage(bytes)) throw new CodecError('CORRUPT', 'inspect: truncated JPEG');
  if (format === 'png' && bytes.lastIndexOf('IEND') === -1) throw new CodecError('CORRUPT', 'inspect: truncated PNG');
  const image: InspectedImage = {
    bytes,
    format,
    width,
    height,
    orientation: meta.orientation ?? 1,
    hasAlpha: meta.hasAlpha ?? false,
    space: meta.space ?? 'unknown',
  };
  if (format === 'jpeg') {
    const estimate = estimateJpegQuality(bytes);
    if (estimate) image.sourceQuality = estimate.quality;
  }
  return image;
}

/**
 * A complete JPEG has an EOI marker (FF D9) after its first scan. Inside entropy-coded data every FF byte is stuffed
 * (FF 00), so FF D9 after the SOS can only be a real marker; trailing bytes after EOI (some cameras append data) are fine.
 * Cheap: one native indexOf over the buffer.
 */
function jpegHasEndOfImage(bytes: Buffer): boolean {
  const sos = bytes.indexOf(SOS);
  return sos !== -1 && bytes.indexOf(EOI, sos + 2) !== -1;
}
const SOS = Buffer.from([0xff, 0xda]);
const EOI = Buffer.from([0xff, 0xd9]);
