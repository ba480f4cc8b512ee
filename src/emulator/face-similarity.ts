import sharp from 'sharp';

/**
 * Face matching without a face recognition model (none ships with the emulator), for Face++ compare: how alike two
 * faces' pixels are, 0-100 with 3 decimals as Face++ reports a match. Each face is cut from its image, made grey,
 * scaled to 16x16 and normalised; the correlation of the two thumbnails, below 0 clamped to 0, times 100 (the same
 * crude descriptor as the Rekognition CompareFaces emulation, docs/EMULATOR.md). The same photo at two JPEG qualities
 * scores near 100 and drops as compression wipes out the face's detail. It is not identity.
 */

/** The thresholds Face++ publishes beside every confidence (1e-3, 1e-4, 1e-5 false-accept rates). */
export const FACEPP_COMPARE_THRESHOLDS = { '1e-3': 62.327, '1e-4': 69.101, '1e-5': 73.975 } as const;

const SIDE = 16;

export interface PixelRectangle {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** The normalised grey thumbnail of one face (zero mean, unit norm); undefined when the rectangle holds no pixels. */
export async function faceSignature(image: Buffer, box: PixelRectangle): Promise<Float64Array | undefined> {
  const meta = await sharp(image).metadata();
  const left = Math.max(0, Math.min(box.left, (meta.width ?? 0) - 1));
  const top = Math.max(0, Math.min(box.top, (meta.height ?? 0) - 1));
  const width = Math.min(box.width, (meta.width ?? 0) - left);
  const height = Math.min(box.height, (meta.height ?? 0) - top);
  if (width < 1 || height < 1) return undefined;
  const pixels = await sharp(image)
    .extract({ left, top, width, height })
    .greyscale()
    .resize(SIDE, SIDE, { fit: 'fill' })
    .raw()
    .toBuffer();
  const values = Float64Array.from(pixels.subarray(0, SIDE * SIDE));
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  let norm = 0;
  for (let i = 0; i < values.length; i++) {
    values[i]! -= mean;
    norm += values[i]! ** 2;
  }
  norm = Math.sqrt(norm);
  if (norm === 0) return values;
  for (let i = 0; i < values.length; i++) values[i]! /= norm;
  return values;
}

/** Confidence (0-100) that two signatures show the same face; a flat crop (no variance) matches nothing. */
export function matchConfidence(a: Float64Array, b: Float64Array): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i]! * b[i]!;
  return Number((Math.max(0, Math.min(1, dot)) * 100).toFixed(3));
}
