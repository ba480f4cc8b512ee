import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type CalibrationGrid, Calibrator, type GridPoint, wilson } from '../../src/feedback/calibration.ts';
import { seededRng } from '../../src/policy/rng.ts';

const SIDES = [null, 2048, 1536, 1024, 768, 512, 384, 256];
const grid = (levels: number, start: GridPoint = { side: 0, level: 0 }): CalibrationGrid => ({
  sides: SIDES,
  levels,
  start,
});

/**
 * A backend whose safe region is known: every point at least as safe as `safe` agrees 0.99 of the time, and each step
 * beyond it in either dimension loses 0.06 (monotone, as resolution and quality are).
 */
const backend = (safe: GridPoint) => (p: GridPoint) =>
  Math.max(0.2, 0.99 - 0.06 * Math.max(0, p.side - safe.side) - 0.06 * Math.max(0, p.level - safe.level));

/**
 * Stream requests, referencing them as the calibrator asks (base rate 3%), as the learning loop does: the client gets
 * the current point, a referenced request's answer is a sample of it, and each of its probes a sample of a candidate.
 * Returns the agreement clients got, and the paid calls beyond the clients' own: references and probes.
 */
function stream(calibrator: Calibrator, truth: (p: GridPoint) => number, requests: number, seed: number) {
  const rng = seededRng(seed);
  let references = 0;
  let probes = 0;
  let agreement = 0;
  for (let i = 0; i < requests; i++) {
    const probability = calibrator.referenceRequest(0.03).probability ?? 0.03;
    const referenced = rng() < probability;
    const route = calibrator.route(referenced);
    const p = truth(route.grid);
    agreement += p;
    if (referenced) {
      references++;
      calibrator.record(route.grid, rng() < p ? 1 : 0);
      for (const probe of route.probes) {
        probes++;
        calibrator.record(probe.grid, rng() < truth(probe.grid) ? 1 : 0);
      }
    }
  }
  return { references, probes, calls: references + probes, agreement: agreement / requests };
}

describe('online calibration', () => {
  test('Wilson bounds: all agreeing over more samples narrows towards 1; a mean of 0.5 stays wide', () => {
    assert.ok(wilson(1, 10, 1.28).low < wilson(1, 100, 1.28).low);
    assert.ok(wilson(1, 100, 1.28).low > 0.98);
    const half = wilson(0.5, 10, 1.28);
    assert.ok(half.low < 0.35 && half.high > 0.65);
  });

  for (const safe of [
    { side: 5, level: 4 },
    { side: 1, level: 6 },
    { side: 6, level: 1 },
  ]) {
    test(`converges to a known safe point (${safe.side}, ${safe.level}) and holds the target on the way`, () => {
      const truth = backend(safe);
      for (const seed of [1, 2, 3]) {
        const calibrator = new Calibrator({ target: 0.97 }, grid(9), { rng: seededRng(100 + seed) });
        const run = stream(calibrator, truth, 12_000, seed);
        const at = calibrator.snapshot().current;
        assert.ok(truth(at) >= 0.97, `seed ${seed}: settled at (${at.side}, ${at.level}) agreeing ${truth(at)}`);
        assert.ok(
          at.side + at.level >= safe.side + safe.level - 1,
          `seed ${seed}: (${at.side}, ${at.level}) is within a step of (${safe.side}, ${safe.level})`,
        );
        assert.ok(run.agreement >= 0.95, `seed ${seed}: agreement while calibrating ${run.agreement.toFixed(3)}`);
        // Settled, references come back down to the base rate, give or take the occasional re-probe.
        const steady = stream(calibrator, truth, 10_000, seed + 50);
        assert.ok(steady.calls / 10_000 <= 0.05, `seed ${seed}: steady references and probes ${steady.calls / 100}%`);
        assert.ok(steady.agreement >= 0.97, `seed ${seed}: steady agreement ${steady.agreement.toFixed(3)}`);
      }
    });
  }

  test('a candidate agreeing just under the target is decided, and the search goes on to a nearer one', () => {
    // Levels 0-2 agree 0.995, 3-5 just under the target (0.965), beyond 0.8: the first candidate (level 4) sits in
    // the band a confidence bound would leave undecided for thousands of samples.
    const truth = (p: GridPoint) => (p.level <= 2 ? 0.995 : p.level <= 5 ? 0.965 : 0.8);
    const settled: number[] = [];
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const calibrator = new Calibrator(
        { target: 0.97 },
        { sides: [null], levels: 9, start: { side: 0, level: 0 } },
        {
          rng: seededRng(200 + seed),
        },
      );
      const run = stream(calibrator, truth, 6000, seed);
      settled.push(calibrator.snapshot().current.level);
      assert.ok(run.agreement >= 0.96, `seed ${seed}: clients got ${run.agreement.toFixed(3)}`);
    }
    // An error rate of 5% each way: a 0.965 point may pass now and then, not as a rule.
    assert.ok(settled.filter((level) => level === 2).length >= 5, `settled at levels ${settled}`);
  });

  test('a documented working side that loses answers on this backend: it goes above it, and stays safe there', () => {
    // Side 0 is the stored size above the documented ceiling (side 1, where it starts): this backend works at a
    // higher resolution, so the ceiling agrees only 0.94 and every cheaper point less.
    const truth = (p: GridPoint) => (p.side === 0 ? 1 : 0.94 - 0.05 * (p.side - 1)) - 0.05 * p.level;
    for (const seed of [1, 2, 3]) {
      const calibrator = new Calibrator(
        { target: 0.97 },
        { sides: [null, ...SIDES], aboveWorkingSide: true, levels: 4, start: { side: 1, level: 0 } },
        { rng: seededRng(300 + seed) },
      );
      assert.equal(calibrator.snapshot().point.aboveWorkingSide, undefined, 'it starts at the documented ceiling');
      stream(calibrator, truth, 3000, seed);
      const at = calibrator.snapshot();
      assert.deepEqual(at.current, { side: 0, level: 0 }, `seed ${seed}`);
      assert.deepEqual(at.point, { floor: null, level: 0, aboveWorkingSide: true });
      const after = stream(calibrator, truth, 3000, seed + 10);
      assert.ok(after.agreement >= 0.99, `seed ${seed}: clients then got ${after.agreement.toFixed(3)}`);
    }
  });

  test('the first candidate can be put where the model claims to hold (firstSteps)', () => {
    const calibrator = new Calibrator({}, { ...grid(9), firstSteps: { level: 6 } });
    assert.deepEqual(calibrator.snapshot().current, { side: 0, level: 0 }, 'it starts at the safest level');
    const levels = calibrator.snapshot().candidates.map((c) => c.level);
    assert.ok(levels.includes(6) && !levels.includes(4), `the model's level is probed first: ${levels}`);
  });

  test('a backend that gets worse pushes the point back to safety', () => {
    const calibrator = new Calibrator({ target: 0.97 }, grid(9), { rng: seededRng(7) });
    stream(calibrator, backend({ side: 6, level: 6 }), 20_000, 7);
    const before = calibrator.snapshot().current;
    assert.ok(before.side + before.level >= 8, `it had found the cheap region: (${before.side}, ${before.level})`);
    const worse = backend({ side: 2, level: 2 });
    stream(calibrator, worse, 12_000, 8);
    const after = calibrator.snapshot().current;
    assert.ok(worse(after) >= 0.97, `back at (${after.side}, ${after.level}) agreeing ${worse(after)}`);
    assert.ok(calibrator.snapshot().moves > 0);
  });

  test('onDrift backs off one side step and two levels, and forgets what it knew about cheaper points', () => {
    const calibrator = new Calibrator({}, grid(9, { side: 3, level: 4 }));
    calibrator.record({ side: 3, level: 4 }, 1);
    calibrator.onDrift();
    assert.deepEqual(calibrator.snapshot().current, { side: 2, level: 2 });
    assert.equal(calibrator.snapshot().estimate, null);
  });

  test('its state round-trips (a restart starts where it was), and a state of another grid is refused', () => {
    const calibrator = new Calibrator({ target: 0.97 }, grid(9), { rng: seededRng(3) });
    stream(calibrator, backend({ side: 4, level: 4 }), 6000, 3);
    const restored = new Calibrator({ target: 0.97 }, grid(9), { state: calibrator.state() });
    assert.deepEqual(restored.snapshot(), calibrator.snapshot());
    const otherGrid = new Calibrator({}, grid(3), { state: calibrator.state() });
    assert.deepEqual(otherGrid.snapshot().current, { side: 0, level: 0 }, 'fresh, cautious');
  });

  test('clients always get the current point; a referenced request also probes the cheaper candidates', () => {
    const calibrator = new Calibrator({ probeShare: 1 }, grid(9), { rng: seededRng(1) });
    assert.deepEqual(calibrator.route(false).probes, []);
    const route = calibrator.route(true);
    assert.deepEqual(route.grid, { side: 0, level: 0 }, 'the client gets the current point');
    assert.deepEqual(
      route.probes.map((p) => p.grid),
      calibrator.snapshot().candidates.map(({ side, level }) => ({ side, level })),
      'each undecided candidate, each a cheaper point',
    );
    assert.ok(route.probes.every((p) => p.grid.side > 0 || p.grid.level > 0));
    const one = new Calibrator({ probeShare: 1, probesPerReference: 1 }, grid(9), { rng: seededRng(1) });
    assert.equal(one.route(true).probes.length, 1, 'at most probesPerReference');
    assert.deepEqual(calibrator.pointOf({ side: 4, level: 2 }), { floor: 768, level: 2 });
  });
});
