import sharp, { type Metadata } from 'sharp';
import { CodecError, codecErrorFromSharp } from './errors.ts';
import { parseQuantTables, qualityFromTables } from './jpeg-quality.ts';
import type { CodecLimits, InspectedImage, JpegHeaderFacts } from './types.ts';

const knownFormats = new Set<InspectedImage['format']>(['jpeg', 'png', 'webp', 'gif', 'tiff', 'bmp']);

/**
 * Defaults of the scan limits (CodecLimits). Encoders write 1 scan (baseline) or about 10 (libjpeg's and mozjpeg's
 * progressive scripts); the bombs have 400 and 883. The cost bound: a 48-megapixel progressive photo with
 * 10 scans is 480 M; decoding costs about 0.5 s of one core per G scan-pixels here (the bombs: 14.8 G in 7-8 s,
 * 40 G in 18-20 s; bench/suites/scan-bomb.ts), so the default bounds one image to about half a second.
 */
export const SCAN_LIMITS = { maxJpegScans: 100, maxScanPixels: 1_000_000_000 } as const;

/**
 * What an image is, from its header only (sharp metadata, ~0.1-0.2 ms, plus a walk over a JPEG's markers): no pixel
 * is decoded here. Throws CodecError: EMPTY, UNSUPPORTED_FORMAT (random bytes), CORRUPT (truncated JPEG/PNG, broken
 * header), TOO_MANY_PIXELS (width x height over limits.maxInputPixels), TOO_MANY_SCANS (a JPEG's scan count, or
 * width x height x scans, over the scan limits), all checked before anything decodes.
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
  if (format === 'jpeg') checkScans(bytes, width * height, limits);
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

/**
 * The scan bomb check (libjpeg-turbo's report LJT-01-003): sharp's timeout cannot stop it, because libjpeg decodes
 * every scan of a progressive file inside one call before libvips sees a pixel, so the cost is bounded up front.
 */
function checkScans(bytes: Buffer, pixels: number, limits: CodecLimits): void {
  const maxScans = limits.maxJpegScans ?? SCAN_LIMITS.maxJpegScans;
  const maxScanPixels = limits.maxScanPixels ?? SCAN_LIMITS.maxScanPixels;
  const scans = countJpegScans(bytes, maxScans + 1);
  if (scans > maxScans) {
    throw new CodecError('TOO_MANY_SCANS', `inspect: more than ${maxScans} scans`);
  }
  if (scans * pixels > maxScanPixels) {
    throw new CodecError(
      'TOO_MANY_SCANS',
      `inspect: ${scans} scans x ${pixels} pixels is over the limit of ${maxScanPixels} scan-pixels`,
    );
  }
}

/**
 * Scans (SOS markers) of a JPEG, counted up to `stopAt`, by walking the marker segments and skipping each scan's
 * entropy-coded data to the next marker (inside it every FF byte is stuffed as FF 00 or is a restart marker).
 */
export function countJpegScans(bytes: Buffer, stopAt = Number.POSITIVE_INFINITY): number {
  let scans = 0;
  let pos = 2;
  while (pos + 4 <= bytes.length && scans < stopAt) {
    if (bytes[pos] !== 0xff) break;
    const marker = bytes[pos + 1]!;
    if (marker === 0xff) {
      pos += 1;
      continue;
    }
    if (marker === 0xd9) break;
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      pos += 2;
      continue;
    }
    pos += 2 + ((bytes[pos + 2]! << 8) | bytes[pos + 3]!);
    if (marker !== 0xda) continue;
    scans++;
    pos = nextMarker(bytes, pos);
  }
  return scans;
}

/** Offset of the first marker at or after `from` in entropy-coded data (bytes.length when there is none). */
function nextMarker(bytes: Buffer, from: number): number {
  let at = bytes.indexOf(0xff, from);
  while (at !== -1 && at + 1 < bytes.length) {
    const next = bytes[at + 1]!;
    if (next !== 0x00 && next !== 0xff && !(next >= 0xd0 && next <= 0xd7)) return at;
    at = bytes.indexOf(0xff, at + 1);
  }
  return bytes.length;
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
