import { distance, type Quad, quadPoint } from './geometry.ts';
import type { RgbImage } from './image.ts';

/**
 * Cropping a (possibly rotated) text box into the fixed-height strip the classifier and recogniser read. PaddleOCR
 * warps the box to its own size (get_rotate_crop_image) and then resizes it to 48 px high; this samples the strip in one
 * step, bilinear, averaging several samples per output pixel when the box is shrunk (a plain bilinear shrink would
 * alias thin strokes away), with coordinates outside the image clamped to its edge (OpenCV's BORDER_REPLICATE).
 */

/** The box's size as PaddleOCR measures it for the crop: the longer of each pair of opposite sides. */
export function cropSize(quad: Quad): { width: number; height: number } {
  return {
    width: Math.max(distance(quad[0], quad[1]), distance(quad[3], quad[2])),
    height: Math.max(distance(quad[0], quad[3]), distance(quad[1], quad[2])),
  };
}

/** Most samples per output pixel along one axis: enough for a 4x shrink, bounded so a huge box stays cheap. */
const MAX_SUPERSAMPLE = 4;

export interface StripLayout {
  /** Strip height in pixels (48 for both PP-OCR models). */
  height: number;
  /** Pixels the box's content is stretched over, from x = 0. */
  contentWidth: number;
  /** Tensor width; columns past contentWidth are zero (mid-grey after normalisation), as PaddleOCR pads. */
  paddedWidth: number;
}

/**
 * The strip as a [3, height, paddedWidth] float tensor body: BGR channel order (the models were trained on OpenCV's
 * BGR images), each value mapped to (v/255 - 0.5)/0.5 as PaddleOCR's resize_norm_img for both models.
 */
export function sampleStrip(image: RgbImage, quad: Quad, layout: StripLayout): Float32Array {
  const { height, contentWidth, paddedWidth } = layout;
  const out = new Float32Array(3 * height * paddedWidth);
  const plane = height * paddedWidth;
  const size = cropSize(quad);
  const ssx = Math.min(MAX_SUPERSAMPLE, Math.max(1, Math.ceil(size.width / contentWidth)));
  const ssy = Math.min(MAX_SUPERSAMPLE, Math.max(1, Math.ceil(size.height / height)));
  const samples = ssx * ssy;
  const rgb = [0, 0, 0];
  for (let row = 0; row < height; row++) {
    for (let col = 0; col < contentWidth; col++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (let sy = 0; sy < ssy; sy++) {
        const v = (row + (sy + 0.5) / ssy) / height;
        for (let sx = 0; sx < ssx; sx++) {
          const u = (col + (sx + 0.5) / ssx) / contentWidth;
          const p = quadPoint(quad, u, v);
          bilinear(image, p.x - 0.5, p.y - 0.5, rgb);
          r += rgb[0]!;
          g += rgb[1]!;
          b += rgb[2]!;
        }
      }
      const at = row * paddedWidth + col;
      out[at] = b / samples / 127.5 - 1;
      out[plane + at] = g / samples / 127.5 - 1;
      out[2 * plane + at] = r / samples / 127.5 - 1;
    }
  }
  return out;
}

/** Bilinear sample at pixel-index coordinates (pixel k's centre at k), clamped to the image. */
function bilinear(image: RgbImage, x: number, y: number, out: number[]): void {
  const { data, width, height } = image;
  const cx = Math.min(Math.max(x, 0), width - 1);
  const cy = Math.min(Math.max(y, 0), height - 1);
  const x0 = Math.floor(cx);
  const y0 = Math.floor(cy);
  const x1 = Math.min(x0 + 1, width - 1);
  const y1 = Math.min(y0 + 1, height - 1);
  const fx = cx - x0;
  const fy = cy - y0;
  const i00 = (y0 * width + x0) * 3;
  const i01 = (y0 * width + x1) * 3;
  const i10 = (y1 * width + x0) * 3;
  const i11 = (y1 * width + x1) * 3;
  for (let c = 0; c < 3; c++) {
    const top = data[i00 + c]! + (data[i01 + c]! - data[i00 + c]!) * fx;
    const bottom = data[i10 + c]! + (data[i11 + c]! - data[i10 + c]!) * fx;
    out[c] = top + (bottom - top) * fy;
  }
}
