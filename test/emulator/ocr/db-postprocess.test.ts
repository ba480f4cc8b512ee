import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { boxesFromProbabilityMap, type ProbabilityMap } from '../../../src/emulator/ocr/db-postprocess.ts';
import { sortReadingOrder } from '../../../src/emulator/ocr/detect.ts';
import { distance, type Quad } from '../../../src/emulator/ocr/geometry.ts';

function map(width: number, height: number): ProbabilityMap {
  return { data: new Float32Array(width * height), width, height };
}

/** Paint pixels (x0..x1, y0..y1 inclusive) with probability p. */
function paint(m: ProbabilityMap, x0: number, y0: number, x1: number, y1: number, p: number) {
  for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) m.data[y * m.width + x] = p;
}

const sides = (q: Quad) => [distance(q[0], q[1]), distance(q[0], q[3])];

describe('DB post-processing', () => {
  it('turns each text kernel into one box grown by area x 1.5 / perimeter, with its mean probability', () => {
    const m = map(200, 100);
    paint(m, 20, 10, 120, 20, 0.9); // pixel centres span 100 x 10
    paint(m, 30, 60, 80, 75, 0.8); // 50 x 15
    const boxes = boxesFromProbabilityMap(m);
    assert.equal(boxes.length, 2);
    const [first, second] = boxes.sort((a, b) => a.quad[0].y - b.quad[0].y);
    const grow = (w: number, h: number) => (w * h * 1.5) / (2 * (w + h));
    const [w1, h1] = sides(first!.quad);
    assert.ok(Math.abs(w1! - (100 + 2 * grow(100, 10))) < 1e-6 && Math.abs(h1! - (10 + 2 * grow(100, 10))) < 1e-6);
    assert.ok(Math.abs(first!.score - 0.9) < 1e-6);
    const [w2, h2] = sides(second!.quad);
    assert.ok(Math.abs(w2! - (50 + 2 * grow(50, 15))) < 1e-6 && Math.abs(h2! - (15 + 2 * grow(50, 15))) < 1e-6);
  });

  it('drops faint regions (mean under 0.6), specks (short side under 3) and anything under 0.3', () => {
    const m = map(100, 60);
    paint(m, 10, 10, 60, 20, 0.45); // above 0.3 but its mean is under box_thresh
    paint(m, 10, 40, 60, 41, 0.95); // two pixels high
    paint(m, 70, 40, 90, 55, 0.25); // never text
    assert.deepEqual(boxesFromProbabilityMap(m), []);
  });

  it('finds a turned kernel as a turned box', () => {
    const m = map(160, 160);
    const angle = Math.PI / 6;
    for (let y = 0; y < 160; y++) {
      for (let x = 0; x < 160; x++) {
        const u = (x - 80) * Math.cos(angle) + (y - 80) * Math.sin(angle);
        const v = -(x - 80) * Math.sin(angle) + (y - 80) * Math.cos(angle);
        if (Math.abs(u) <= 50 && Math.abs(v) <= 8) m.data[y * 160 + x] = 0.9;
      }
    }
    const [box] = boxesFromProbabilityMap(m);
    const [p0, p1] = box!.quad;
    const edgeAngle = Math.atan2(p1.y - p0.y, p1.x - p0.x);
    assert.ok(Math.abs(edgeAngle - angle) < 0.05, `edge at ${edgeAngle} rad`);
  });

  it('orders boxes top to bottom, and left to right when their tops are within 10 px', () => {
    const box = (x: number, y: number) => ({
      name: `${x},${y}`,
      quad: [
        { x, y },
        { x: x + 50, y },
        { x: x + 50, y: y + 20 },
        { x, y: y + 20 },
      ] as Quad,
    });
    const sorted = sortReadingOrder([box(300, 104), box(10, 100), box(150, 96), box(10, 140)]);
    assert.deepEqual(
      sorted.map((b) => b.name),
      ['10,100', '150,96', '300,104', '10,140'],
    );
  });
});
