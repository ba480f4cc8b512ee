import sharp from 'sharp';
import type { InspectedImage } from '../codec/types.ts';

/**
 * Policy features, version 1: a pure function of the image header and a 16x16 RGB thumbnail.
 *
 * The proxy and the offline trainer both compute features with THIS module, so a model trained on them sees exactly
 * what it will see in production. Any change to what a feature means or how it is computed MUST bump FEATURE_VERSION;
 * models declare the version (and names) they were trained on and the runtime refuses a mismatch.
 *
 * Cost: the header part is free (bytes and InspectedImage fields). The thumbnail comes from sharp's shrink-on-load
 * (JPEG DCT scaling to 1/8, then nearest-neighbour to 16x16, stored orientation: features are orientation-agnostic by
 * construction, sorted cell statistics rather than positions). That decode is the whole cost (~1-2 ms for 500x375).
 *
 * Features (all roughly in [-3, 3], no normalisation layer needed):
 *  - log_bits_per_pixel   ln(8 * bytes / pixels). With source_quality, the strongest detail signal: at a given
 *                         quality, busy images cost more bits.
 *  - source_quality       estimated JPEG quality / 100 (from the DQT tables); 1 for lossless sources (PNG, ...).
 *  - source_is_jpeg       1 for JPEG sources, else 0.
 *  - log_megapixels       ln(pixels / 1e6): small images lose more per quantisation step relative to object size.
 *  - log_aspect           ln(long side / short side).
 *  - luma_mean, luma_std  thumbnail luma (BT.601) mean and standard deviation, / 255.
 *  - grad_h, grad_v       mean absolute horizontal / vertical luma difference between neighbours, / 255.
 *  - laplacian            mean absolute 4-neighbour Laplacian of luma over the interior, / 255 (coarse texture).
 *  - cb_mean, cr_mean     mean chroma offsets (Cb - 128, Cr - 128) / 255.
 *  - chroma_std           sqrt(var Cb + var Cr) / 255.
 *  - colourfulness        Hasler & Suesstrunk's metric on the thumbnail / 255 (4:2:0 chroma loss matters more here).
 *  - dark_fraction, bright_fraction   share of thumbnail pixels with luma < 32 / > 224 (clipped areas hide artefacts).
 *  - cell_detail_00..15   the 4x4 grid of 4x4-pixel cells, each cell's mean absolute luma gradient / 255, SORTED
 *                         ascending: how detail is spread (a flat sky with one busy object vs texture everywhere).
 */
export const FEATURE_VERSION = 1;
export const THUMBNAIL_SIZE = 16;

const CELLS = 4;
export const featureNames: readonly string[] = Object.freeze([
  'log_bits_per_pixel',
  'source_quality',
  'source_is_jpeg',
  'log_megapixels',
  'log_aspect',
  'luma_mean',
  'luma_std',
  'grad_h',
  'grad_v',
  'laplacian',
  'cb_mean',
  'cr_mean',
  'chroma_std',
  'colourfulness',
  'dark_fraction',
  'bright_fraction',
  ...Array.from({ length: CELLS * CELLS }, (_, i) => `cell_detail_${String(i).padStart(2, '0')}`),
]);

/** The header facts features use: what a decision log line stores, so the trainer can recompute without the image. */
export interface FeatureHeader {
  bytes: number;
  width: number;
  height: number;
  format: InspectedImage['format'];
  sourceQuality?: number;
}

export function featureHeaderOf(image: InspectedImage): FeatureHeader {
  const header: FeatureHeader = {
    bytes: image.bytes.length,
    width: image.width,
    height: image.height,
    format: image.format,
  };
  if (image.sourceQuality !== undefined) header.sourceQuality = image.sourceQuality;
  return header;
}

/** The 16x16 RGB thumbnail (768 bytes, row-major, stored orientation) features are computed from. */
export async function thumbnailOf(image: InspectedImage): Promise<Uint8Array> {
  const { data, info } = await sharp(image.bytes, { failOn: 'none', limitInputPixels: image.width * image.height })
    .resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: 'fill', fastShrinkOnLoad: true, kernel: 'nearest' })
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3 || data.length !== THUMBNAIL_SIZE * THUMBNAIL_SIZE * 3) {
    throw new Error(
      `thumbnail: expected ${THUMBNAIL_SIZE}x${THUMBNAIL_SIZE}x3, got ${info.width}x${info.height}x${info.channels}`,
    );
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.length);
}

/** Features of an image: one thumbnail decode plus arithmetic. Throws if the image cannot be decoded at all. */
export async function extractFeatures(image: InspectedImage): Promise<Float32Array> {
  return featuresFromThumbnail(featureHeaderOf(image), await thumbnailOf(image));
}

/** Pure and deterministic: the trainer recomputes features from a stored header and thumbnail with this. */
export function featuresFromThumbnail(header: FeatureHeader, thumbnail: Uint8Array): Float32Array {
  const n = THUMBNAIL_SIZE;
  if (thumbnail.length !== n * n * 3) throw new Error(`featuresFromThumbnail: need ${n * n * 3} bytes of RGB`);
  const out = new Float32Array(featureNames.length);
  const pixels = Math.max(1, header.width * header.height);
  const isJpeg = header.format === 'jpeg';
  out[0] = Math.log((8 * Math.max(1, header.bytes)) / pixels);
  out[1] = isJpeg ? (header.sourceQuality ?? 75) / 100 : 1;
  out[2] = isJpeg ? 1 : 0;
  out[3] = Math.log(pixels / 1e6);
  out[4] = Math.log(Math.max(header.width, header.height) / Math.max(1, Math.min(header.width, header.height)));

  const luma = new Float64Array(n * n);
  let sumY = 0;
  let sumY2 = 0;
  let sumCb = 0;
  let sumCb2 = 0;
  let sumCr = 0;
  let sumCr2 = 0;
  let sumRg = 0;
  let sumRg2 = 0;
  let sumYb = 0;
  let sumYb2 = 0;
  let dark = 0;
  let bright = 0;
  for (let i = 0; i < n * n; i++) {
    const r = thumbnail[3 * i]!;
    const g = thumbnail[3 * i + 1]!;
    const b = thumbnail[3 * i + 2]!;
    const y = 0.299 * r + 0.587 * g + 0.114 * b;
    const cb = -0.168736 * r - 0.331264 * g + 0.5 * b;
    const cr = 0.5 * r - 0.418688 * g - 0.081312 * b;
    const rg = r - g;
    const yb = 0.5 * (r + g) - b;
    luma[i] = y;
    sumY += y;
    sumY2 += y * y;
    sumCb += cb;
    sumCb2 += cb * cb;
    sumCr += cr;
    sumCr2 += cr * cr;
    sumRg += rg;
    sumRg2 += rg * rg;
    sumYb += yb;
    sumYb2 += yb * yb;
    if (y < 32) dark++;
    if (y > 224) bright++;
  }
  const count = n * n;
  const variance = (sum: number, sum2: number): number => Math.max(0, sum2 / count - (sum / count) ** 2);
  out[5] = sumY / count / 255;
  out[6] = Math.sqrt(variance(sumY, sumY2)) / 255;

  let gradH = 0;
  let gradV = 0;
  let laplacian = 0;
  const cellDetail = new Float64Array(CELLS * CELLS);
  const cellSize = n / CELLS;
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      const v = luma[y * n + x]!;
      let local = 0;
      if (x + 1 < n) {
        const d = Math.abs(luma[y * n + x + 1]! - v);
        gradH += d;
        local += d;
      }
      if (y + 1 < n) {
        const d = Math.abs(luma[(y + 1) * n + x]! - v);
        gradV += d;
        local += d;
      }
      if (x > 0 && y > 0 && x + 1 < n && y + 1 < n) {
        laplacian += Math.abs(
          4 * v - luma[y * n + x - 1]! - luma[y * n + x + 1]! - luma[(y - 1) * n + x]! - luma[(y + 1) * n + x]!,
        );
      }
      cellDetail[Math.floor(y / cellSize) * CELLS + Math.floor(x / cellSize)]! += local;
    }
  }
  out[7] = gradH / (n * (n - 1)) / 255;
  out[8] = gradV / (n * (n - 1)) / 255;
  out[9] = laplacian / ((n - 2) * (n - 2)) / 255;
  out[10] = sumCb / count / 255;
  out[11] = sumCr / count / 255;
  out[12] = Math.sqrt(variance(sumCb, sumCb2) + variance(sumCr, sumCr2)) / 255;
  const meanRg = sumRg / count;
  const meanYb = sumYb / count;
  out[13] =
    (Math.sqrt(variance(sumRg, sumRg2) + variance(sumYb, sumYb2)) + 0.3 * Math.sqrt(meanRg ** 2 + meanYb ** 2)) / 255;
  out[14] = dark / count;
  out[15] = bright / count;
  const sorted = Array.from(cellDetail, (v) => v / (2 * cellSize * cellSize) / 255).sort((a, b) => a - b);
  for (let i = 0; i < sorted.length; i++) out[16 + i] = sorted[i]!;
  return out;
}
