import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  convexHull,
  expandRect,
  minAreaRect,
  orderBoxCorners,
  type Point,
  quadPoint,
  quadSlice,
  rotateQuad,
} from '../../../src/emulator/ocr/geometry.ts';

const near = (a: number, b: number, eps = 1e-6) => Math.abs(a - b) <= eps;
const samePoint = (a: Point, b: Point, eps = 1e-6) => near(a.x, b.x, eps) && near(a.y, b.y, eps);

/** The integer points of a w x h rectangle turned by `angle` about (cx, cy), densely sampled. */
function rotatedRectPoints(cx: number, cy: number, w: number, h: number, angle: number): Point[] {
  const points: Point[] = [];
  for (let u = -w / 2; u <= w / 2; u += 0.5) {
    for (let v = -h / 2; v <= h / 2; v += 0.5) {
      points.push({
        x: cx + u * Math.cos(angle) - v * Math.sin(angle),
        y: cy + u * Math.sin(angle) + v * Math.cos(angle),
      });
    }
  }
  return points;
}

describe('OCR geometry', () => {
  it('keeps only the corners of a convex hull', () => {
    const points = [
      { x: 0, y: 0 },
      { x: 4, y: 0 },
      { x: 4, y: 3 },
      { x: 0, y: 3 },
      { x: 2, y: 1 },
      { x: 2, y: 0 }, // on an edge
      { x: 4, y: 3 }, // repeated
    ];
    const hull = convexHull(points);
    assert.equal(hull.length, 4);
    for (const corner of [points[0]!, points[1]!, points[2]!, points[3]!]) {
      assert.ok(hull.some((p) => samePoint(p, corner)));
    }
  });

  it('finds the minimum-area rectangle of a turned rectangle: its size and its angle', () => {
    for (const angle of [0, 0.2, -0.5, Math.PI / 4, 1.3]) {
      const rect = minAreaRect(rotatedRectPoints(50, 40, 60, 16, angle));
      const long = Math.max(rect.width, rect.height);
      const short = Math.min(rect.width, rect.height);
      assert.ok(near(long, 60, 1e-6) && near(short, 16, 1e-6), `angle ${angle}: ${rect.width} x ${rect.height}`);
      const centre = quadPoint(rect.corners, 0.5, 0.5);
      assert.ok(samePoint(centre, { x: 50, y: 40 }, 1e-6));
    }
  });

  it('orders corners top-left, top-right, bottom-right, bottom-left', () => {
    const [tl, tr, br, bl] = orderBoxCorners([
      { x: 10, y: 20 },
      { x: 0, y: 0 },
      { x: 0, y: 20 },
      { x: 10, y: 0 },
    ]);
    assert.deepEqual(
      [tl, tr, br, bl],
      [
        { x: 0, y: 0 },
        { x: 10, y: 0 },
        { x: 10, y: 20 },
        { x: 0, y: 20 },
      ],
    );
  });

  it('grows a rectangle by the same distance on every side, centre kept', () => {
    const rect = minAreaRect(rotatedRectPoints(30, 30, 40, 10, 0.3));
    const grown = expandRect(rect, 5);
    assert.ok(near(Math.max(grown.width, grown.height), 50) && near(Math.min(grown.width, grown.height), 20));
    assert.ok(samePoint(quadPoint(grown.corners, 0.5, 0.5), quadPoint(rect.corners, 0.5, 0.5)));
  });

  it('slices a quad along its reading direction and turns its reading start', () => {
    const quad = orderBoxCorners([
      { x: 0, y: 0 },
      { x: 100, y: 0 },
      { x: 100, y: 20 },
      { x: 0, y: 20 },
    ]);
    const word = quadSlice(quad, 0.25, 0.5);
    assert.deepEqual(word, [
      { x: 25, y: 0 },
      { x: 50, y: 0 },
      { x: 50, y: 20 },
      { x: 25, y: 20 },
    ]);
    const flipped = rotateQuad(quad, 2);
    assert.deepEqual(flipped[0], { x: 100, y: 20 });
    assert.deepEqual(quadSlice(flipped, 0.25, 0.5)[0], { x: 75, y: 20 });
  });
});
