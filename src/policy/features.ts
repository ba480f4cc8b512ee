import type { InspectedImage } from '../codec/types.ts';

/**
 * Policy features, version 2: header only. A pure function of facts the codec's `inspectImage` already read (sharp
 * metadata + our JPEG marker walk); no pixel is decoded, so the cost is a few microseconds of arithmetic.
 *
 * The proxy and the offline trainer both compute features with THIS module, so a model trained on them sees exactly
 * what it will see in production. Any change to what a feature means or how it is computed MUST bump FEATURE_VERSION;
 * models declare the version (and names) they were trained on and the runtime refuses a mismatch.
 *
 * Why no thumbnail any more: version 1 added 27 statistics of a 16x16 shrink-on-load thumbnail. That decode cost
 * ~2 ms median per photo (libjpeg Huffman-decodes the whole file even at 1/8 scale) and trained policies did no better
 * than with the 5 header scalars alone (docs/TRAINING.md), so it did not earn its cost.
 *
 * Features (all roughly in [-3, 3]; the trainer standardises anyway):
 *  - log_bits_per_pixel        ln(8 * file bytes / pixels): at a given quality, busy images cost more bits.
 *  - source_quality            estimated JPEG quality / 100 (libjpeg quality nearest to both DQT tables); 1 for
 *                              lossless sources (PNG, ...).
 *  - source_is_jpeg            1 for JPEG sources, else 0.
 *  - log_megapixels            ln(pixels / 1e6): small images lose more per quantisation step relative to object size.
 *  - log_aspect                ln(long side / short side).
 *  - log_scan_bits_per_pixel   ln(8 * entropy-coded bytes / pixels), entropy-coded = from the first SOS to the end:
 *                              the detail signal without EXIF/ICC/thumbnail bytes. Non-JPEG: the whole file.
 *  - log_header_kbytes         ln(1 + bytes before the first SOS / 1024): camera files carry EXIF + thumbnails, web
 *                              files little. 0 for non-JPEG.
 *  - luma_quant                ln(mean luminance quantisation step) / 4: how coarse the source already is, encoder
 *                              agnostic (camera tables are not libjpeg's). 0 for non-JPEG (lossless: step 1).
 *  - chroma_quant              same for the chrominance table (= luma_quant for greyscale / single-table files).
 *  - chroma_subsampled         1 when the source's chroma is subsampled (4:2:0, 4:2:2, ...), else 0.
 *  - progressive               1 for progressive JPEGs (web-optimised files), else 0.
 *  - greyscale                 1 when the source has one colour channel.
 */
export const FEATURE_VERSION = 2;

export const featureNames: readonly string[] = Object.freeze([
  'log_bits_per_pixel',
  'source_quality',
  'source_is_jpeg',
  'log_megapixels',
  'log_aspect',
  'log_scan_bits_per_pixel',
  'log_header_kbytes',
  'luma_quant',
  'chroma_quant',
  'chroma_subsampled',
  'progressive',
  'greyscale',
]);

/**
 * The header facts features use: what a collect record or decision log line stores, so the trainer can recompute
 * features without the image. Fields after `sourceQuality` are version 2 additions (absent in older records).
 */
export interface FeatureHeader {
  bytes: number;
  width: number;
  height: number;
  format: InspectedImage['format'];
  sourceQuality?: number;
  /** Bytes before the first SOS (JPEG). */
  headerBytes?: number;
  lumaQuantMean?: number;
  chromaQuantMean?: number;
  chromaSubsampling?: string;
  progressive?: boolean;
  /** Colour channels plus alpha as sharp reports them. */
  channels?: number;
  hasAlpha?: boolean;
}

export function featureHeaderOf(image: InspectedImage): FeatureHeader {
  const header: FeatureHeader = {
    bytes: image.bytes.length,
    width: image.width,
    height: image.height,
    format: image.format,
  };
  if (image.sourceQuality !== undefined) header.sourceQuality = image.sourceQuality;
  const jpeg = image.jpeg;
  if (jpeg) {
    header.headerBytes = jpeg.scanOffset;
    header.lumaQuantMean = jpeg.lumaQuantMean;
    if (jpeg.chromaQuantMean !== undefined) header.chromaQuantMean = jpeg.chromaQuantMean;
    if (jpeg.chromaSubsampling !== undefined) header.chromaSubsampling = jpeg.chromaSubsampling;
    header.progressive = jpeg.progressive;
  }
  if (image.channels !== undefined) header.channels = image.channels;
  if (image.hasAlpha) header.hasAlpha = true;
  return header;
}

/** Features of an inspected image: header arithmetic only, no decode, no I/O. */
export function featuresOf(image: InspectedImage): Float32Array {
  return featuresFromHeader(featureHeaderOf(image));
}

/** Pure and deterministic: the trainer recomputes features from a stored header with this. */
export function featuresFromHeader(header: FeatureHeader): Float32Array {
  const out = new Float32Array(featureNames.length);
  const pixels = Math.max(1, header.width * header.height);
  const isJpeg = header.format === 'jpeg';
  const bytes = Math.max(1, header.bytes);
  out[0] = Math.log((8 * bytes) / pixels);
  out[1] = isJpeg ? (header.sourceQuality ?? 75) / 100 : 1;
  out[2] = isJpeg ? 1 : 0;
  out[3] = Math.log(pixels / 1e6);
  out[4] = Math.log(Math.max(header.width, header.height) / Math.max(1, Math.min(header.width, header.height)));
  const headerBytes = isJpeg ? Math.min(Math.max(0, header.headerBytes ?? 0), bytes - 1) : 0;
  out[5] = Math.log((8 * (bytes - headerBytes)) / pixels);
  out[6] = Math.log(1 + headerBytes / 1024);
  const luma = isJpeg ? Math.log(Math.max(1, header.lumaQuantMean ?? 1)) / 4 : 0;
  out[7] = luma;
  out[8] = isJpeg && header.chromaQuantMean !== undefined ? Math.log(Math.max(1, header.chromaQuantMean)) / 4 : luma;
  const colourChannels = (header.channels ?? 3) - (header.hasAlpha ? 1 : 0);
  const greyscale = colourChannels === 1;
  out[9] =
    isJpeg && !greyscale && header.chromaSubsampling !== undefined && !header.chromaSubsampling.startsWith('4:4:4')
      ? 1
      : 0;
  out[10] = isJpeg && header.progressive ? 1 : 0;
  out[11] = greyscale ? 1 : 0;
  return out;
}
