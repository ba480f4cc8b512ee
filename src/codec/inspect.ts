import sharp, { type Metadata } from 'sharp';
import { CodecError, codecErrorFromSharp } from './errors.ts';
import { parseQuantTables, qualityFromTables } from './jpeg-quality.ts';
import type { CodecLimits, InspectedImage, JpegHeaderFacts } from './types.ts';

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
  if (meta.channels !== undefined) image.channels = meta.channels;
  if (format === 'jpeg') {
    const tables = parseQuantTables(bytes);
    const luma = tables.get(0);
    if (luma) {
      const chroma = tables.get(1);
      image.sourceQuality = qualityFromTables(luma, chroma).quality;
      const facts: JpegHeaderFacts = {
        scanOffset: jpegScanOffset(bytes),
        lumaQuantMean: mean(luma),
        progressive: meta.isProgressive ?? false,
      };
      if (chroma) facts.chromaQuantMean = mean(chroma);
      if (meta.chromaSubsampling) facts.chromaSubsampling = meta.chromaSubsampling;
      image.jpeg = facts;
    }
  }
  return image;
}

function mean(values: readonly number[]): number {
  let sum = 0;
  for (const v of values) sum += v;
  return sum / Math.max(1, values.length);
}

/**
 * Offset of the first SOS marker, found by walking the marker segments (a raw search for FF DA could hit the embedded
 * EXIF thumbnail's scan). A header that cannot be walked gives the raw search's answer (or 0).
 */
function jpegScanOffset(bytes: Buffer): number {
  let pos = 2;
  while (pos + 4 <= bytes.length) {
    if (bytes[pos] !== 0xff) break;
    const marker = bytes[pos + 1]!;
    if (marker === 0xff) {
      pos += 1;
      continue;
    }
    if (marker === 0xda) return pos;
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      pos += 2;
      continue;
    }
    pos += 2 + ((bytes[pos + 2]! << 8) | bytes[pos + 3]!);
  }
  return Math.max(0, bytes.indexOf(SOS));
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
