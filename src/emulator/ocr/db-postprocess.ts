import { expandRect, minAreaRect, type Point, type Quad } from './geometry.ts';

/**
 * DB (Differentiable Binarization) post-processing: from the detector's text-probability map to text boxes, following
 * PaddleOCR's DBPostProcess for quad boxes with its inference defaults (tools/infer/utility.py: det_db_thresh 0.3,
 * det_db_box_thresh 0.6, det_db_unclip_ratio 1.5, score mode "fast", no dilation, min_size 3, 1000 candidates).
 *
 * One deliberate difference: PaddleOCR takes every contour OpenCV's findContours lists, holes included (RETR_LIST), so
 * the inside of an "O"-shaped region can become a second box. Here each 8-connected component gives one box (its
 * outer boundary), which is what the holes' boxes would be merged into anyway.
 */

export interface DbOptions {
  /** A pixel is text when its probability is above this. */
  thresh: number;
  /** A box is kept when the mean probability inside it is at least this. */
  boxThresh: number;
  /** How far the (shrunk) text kernel is grown back: distance = area x ratio / perimeter. */
  unclipRatio: number;
  maxCandidates: number;
  /** Boxes whose short side is under this (before growing; this + 2 after) are noise. */
  minSize: number;
}

export const DB_DEFAULTS: DbOptions = {
  thresh: 0.3,
  boxThresh: 0.6,
  unclipRatio: 1.5,
  maxCandidates: 1000,
  minSize: 3,
};

export interface ScoredQuad {
  quad: Quad;
  /** Mean text probability inside the box before growing (0..1). */
  score: number;
}

export interface ProbabilityMap {
  data: Float32Array;
  width: number;
  height: number;
}

/** Boxes in the map's own pixel coordinates (pixel centres at integers, as OpenCV's contours are). */
export function boxesFromProbabilityMap(map: ProbabilityMap, options: DbOptions = DB_DEFAULTS): ScoredQuad[] {
  const boxes: ScoredQuad[] = [];
  for (const hull of componentOutlines(map, options.thresh, options.maxCandidates)) {
    const rect = minAreaRect(hull);
    if (Math.min(rect.width, rect.height) < options.minSize) continue;
    const score = meanInside(map, rect.corners);
    if (score < options.boxThresh) continue;
    const area = rect.width * rect.height;
    const perimeter = 2 * (rect.width + rect.height);
    const grown = expandRect(rect, (area * options.unclipRatio) / perimeter);
    if (Math.min(grown.width, grown.height) < options.minSize + 2) continue;
    boxes.push({ quad: grown.corners, score });
  }
  return boxes;
}

/**
 * The 8-connected components of {p > thresh}, each as the leftmost and rightmost pixel of every row it covers: those
 * points have the same convex hull as the whole component, at a fraction of the points.
 */
export function componentOutlines(map: ProbabilityMap, thresh: number, maxComponents: number): Point[][] {
  const { data, width, height } = map;
  const labelled = new Uint8Array(width * height);
  const stack = new Int32Array(width * height);
  const rowMin = new Int32Array(height).fill(width);
  const rowMax = new Int32Array(height).fill(-1);
  const outlines: Point[][] = [];
  for (let start = 0; start < data.length && outlines.length < maxComponents; start++) {
    if (labelled[start] || !(data[start]! > thresh)) continue;
    labelled[start] = 1;
    let top = 0;
    stack[top++] = start;
    let yMin = height;
    let yMax = -1;
    while (top > 0) {
      const i = stack[--top]!;
      const x = i % width;
      const y = (i - x) / width;
      if (x < rowMin[y]!) rowMin[y] = x;
      if (x > rowMax[y]!) rowMax[y] = x;
      if (y < yMin) yMin = y;
      if (y > yMax) yMax = y;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if (nx < 0 || nx >= width) continue;
          const j = ny * width + nx;
          if (labelled[j] || !(data[j]! > thresh)) continue;
          labelled[j] = 1;
          stack[top++] = j;
        }
      }
    }
    const outline: Point[] = [];
    for (let y = yMin; y <= yMax; y++) {
      if (rowMax[y]! < 0) continue;
      outline.push({ x: rowMin[y]!, y }, { x: rowMax[y]!, y });
      rowMin[y] = width;
      rowMax[y] = -1;
    }
    outlines.push(outline);
  }
  return outlines;
}

/** Mean probability over the pixels whose centres lie in the (convex) quad, edges included: DB's "fast" box score. */
export function meanInside(map: ProbabilityMap, quad: Quad): number {
  const { data, width, height } = map;
  const xs = quad.map((p) => p.x);
  const ys = quad.map((p) => p.y);
  const x0 = Math.max(0, Math.floor(Math.min(...xs)));
  const x1 = Math.min(width - 1, Math.ceil(Math.max(...xs)));
  const y0 = Math.max(0, Math.floor(Math.min(...ys)));
  const y1 = Math.min(height - 1, Math.ceil(Math.max(...ys)));
  let sum = 0;
  let count = 0;
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      if (!insideConvex(quad, x, y)) continue;
      sum += data[y * width + x]!;
      count++;
    }
  }
  return count > 0 ? sum / count : 0;
}

function insideConvex(quad: Quad, x: number, y: number): boolean {
  let positive = false;
  let negative = false;
  for (let i = 0; i < 4; i++) {
    const a = quad[i]!;
    const b = quad[(i + 1) % 4]!;
    const c = (b.x - a.x) * (y - a.y) - (b.y - a.y) * (x - a.x);
    if (c > 1e-6) positive = true;
    else if (c < -1e-6) negative = true;
    if (positive && negative) return false;
  }
  return true;
}
