/**
 * Plane geometry for text boxes. Coordinates are continuous image coordinates (x right, y down); a quadrilateral is
 * four corners in reading order: top-left, top-right, bottom-right, bottom-left of the text as it is read.
 */

export interface Point {
  x: number;
  y: number;
}

export type Quad = [Point, Point, Point, Point];

/** A rotated rectangle: corners ordered by orderBoxCorners; width = |c0 c1|, height = |c0 c3|. */
export interface RotatedRect {
  corners: Quad;
  width: number;
  height: number;
}

function rectOf(corners: readonly Point[]): RotatedRect {
  const ordered = orderBoxCorners(corners);
  return { corners: ordered, width: distance(ordered[0], ordered[1]), height: distance(ordered[0], ordered[3]) };
}

const cross = (o: Point, a: Point, b: Point) => (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x);

/** Andrew's monotone chain; returns the hull counter-clockwise in screen terms, without repeated or collinear points. */
export function convexHull(points: readonly Point[]): Point[] {
  const sorted = [...points].sort((a, b) => a.x - b.x || a.y - b.y);
  const unique = sorted.filter((p, i) => i === 0 || p.x !== sorted[i - 1]!.x || p.y !== sorted[i - 1]!.y);
  if (unique.length < 3) return unique;
  const lower: Point[] = [];
  for (const p of unique) {
    while (lower.length >= 2 && cross(lower[lower.length - 2]!, lower[lower.length - 1]!, p) <= 0) lower.pop();
    lower.push(p);
  }
  const upper: Point[] = [];
  for (let i = unique.length - 1; i >= 0; i--) {
    const p = unique[i]!;
    while (upper.length >= 2 && cross(upper[upper.length - 2]!, upper[upper.length - 1]!, p) <= 0) upper.pop();
    upper.push(p);
  }
  return lower.slice(0, -1).concat(upper.slice(0, -1));
}

/**
 * The minimum-area enclosing rectangle (what OpenCV's minAreaRect gives DB's post-processing). The optimal rectangle
 * has one side on a hull edge (Freeman & Shapira), so trying each hull edge as the base, as rotating calipers do, finds
 * it; the hulls of text components are small (tens of points), so the plain O(n^2) sweep is cheaper than the bookkeeping.
 */
export function minAreaRect(points: readonly Point[]): RotatedRect {
  const hull = convexHull(points);
  if (hull.length === 0) throw new RangeError('minAreaRect: no points');
  if (hull.length === 1) {
    const p = hull[0]!;
    return { corners: [p, p, p, p], width: 0, height: 0 };
  }
  let best: { area: number; ux: number; uy: number; minU: number; maxU: number; minN: number; maxN: number } | null =
    null;
  for (let i = 0; i < hull.length; i++) {
    const a = hull[i]!;
    const b = hull[(i + 1) % hull.length]!;
    const len = Math.hypot(b.x - a.x, b.y - a.y);
    if (len === 0) continue;
    const ux = (b.x - a.x) / len;
    const uy = (b.y - a.y) / len;
    let minU = Infinity;
    let maxU = -Infinity;
    let minN = Infinity;
    let maxN = -Infinity;
    for (const p of hull) {
      const u = p.x * ux + p.y * uy;
      const n = -p.x * uy + p.y * ux;
      if (u < minU) minU = u;
      if (u > maxU) maxU = u;
      if (n < minN) minN = n;
      if (n > maxN) maxN = n;
    }
    const area = (maxU - minU) * (maxN - minN);
    if (best === null || area < best.area - 1e-9) best = { area, ux, uy, minU, maxU, minN, maxN };
  }
  const { ux, uy, minU, maxU, minN, maxN } = best!;
  const at = (u: number, n: number): Point => ({ x: u * ux - n * uy, y: u * uy + n * ux });
  return rectOf([at(minU, minN), at(maxU, minN), at(maxU, maxN), at(minU, maxN)]);
}

/**
 * Order a rectangle's corners top-left, top-right, bottom-right, bottom-left as PaddleOCR's get_mini_boxes does: the two
 * leftmost corners are the left side (the higher of them is top-left), the two rightmost the right side.
 */
export function orderBoxCorners(corners: readonly Point[]): Quad {
  const byX = [...corners].sort((a, b) => a.x - b.x || a.y - b.y);
  const [l0, l1, r0, r1] = byX as [Point, Point, Point, Point];
  const [tl, bl] = l0.y <= l1.y ? [l0, l1] : [l1, l0];
  const [tr, br] = r0.y <= r1.y ? [r0, r1] : [r1, r0];
  return [tl, tr, br, bl];
}

/**
 * The same rectangle grown by `distance` on every side, centre and angle kept. This is what DB's "unclip" (a Vatti
 * polygon offset with round joins, then minAreaRect again) gives for a rectangle: the round corners of the offset
 * polygon never reach past the grown rectangle, so its minimum-area rectangle is exactly that. Needs both sides > 0.
 */
export function expandRect(rect: RotatedRect, grow: number): RotatedRect {
  const [p0, p1, p2, p3] = rect.corners;
  const ax = (p1.x - p0.x) / rect.width;
  const ay = (p1.y - p0.y) / rect.width;
  const bx = (p3.x - p0.x) / rect.height;
  const by = (p3.y - p0.y) / rect.height;
  const cx = (p0.x + p2.x) / 2;
  const cy = (p0.y + p2.y) / 2;
  const ha = rect.width / 2 + grow;
  const hb = rect.height / 2 + grow;
  const at = (sa: number, sb: number): Point => ({
    x: cx + sa * ha * ax + sb * hb * bx,
    y: cy + sa * ha * ay + sb * hb * by,
  });
  return rectOf([at(-1, -1), at(1, -1), at(1, 1), at(-1, 1)]);
}

/**
 * The point at (u, v) in [0,1]^2 of a quadrilateral by bilinear interpolation of its corners. For the rectangles and
 * parallelograms text boxes are, this is the same map as the perspective warp PaddleOCR crops with; using one map for
 * both cropping and mapping positions back keeps the two consistent by construction.
 */
export function quadPoint(q: Quad, u: number, v: number): Point {
  const [p0, p1, p2, p3] = q;
  const topX = p0.x + (p1.x - p0.x) * u;
  const topY = p0.y + (p1.y - p0.y) * u;
  const botX = p3.x + (p2.x - p3.x) * u;
  const botY = p3.y + (p2.y - p3.y) * u;
  return { x: topX + (botX - topX) * v, y: topY + (botY - topY) * v };
}

export const distance = (a: Point, b: Point) => Math.hypot(a.x - b.x, a.y - b.y);

/** The sub-quad between u0 and u1 along the reading direction (a word inside its line). */
export function quadSlice(q: Quad, u0: number, u1: number): Quad {
  return [quadPoint(q, u0, 0), quadPoint(q, u1, 0), quadPoint(q, u1, 1), quadPoint(q, u0, 1)];
}

/** Start reading at another corner: 1 = a quarter turn (vertical text), 2 = half a turn (upside down). */
export function rotateQuad(q: Quad, quarterTurns: 1 | 2 | 3): Quad {
  return [q[quarterTurns % 4]!, q[(quarterTurns + 1) % 4]!, q[(quarterTurns + 2) % 4]!, q[(quarterTurns + 3) % 4]!];
}

export function scaleQuad(q: Quad, sx: number, sy: number): Quad {
  return q.map((p) => ({ x: p.x * sx, y: p.y * sy })) as Quad;
}
