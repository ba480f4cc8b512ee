import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type CalibrationGrid,
  Calibrator,
  carryRungs,
  type GridPoint,
  wilson,
} from '../../src/feedback/calibration.ts';
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
      const runs = 10;
      const near: string[] = [];
      let steadyCalls = 0;
      for (let seed = 1; seed <= runs; seed++) {
        const calibrator = new Calibrator({ target: 0.97 }, grid(9), { rng: seededRng(100 + seed) });
        const run = stream(calibrator, truth, 12_000, seed);
        const at = calibrator.snapshot().current;
        assert.ok(truth(at) >= 0.97, `seed ${seed}: settled at (${at.side}, ${at.level}) agreeing ${truth(at)}`);
        if (at.side + at.level >= safe.side + safe.level - 1) near.push(`${seed}`);
        assert.ok(run.agreement >= 0.95, `seed ${seed}: agreement while calibrating ${run.agreement.toFixed(3)}`);
        // Settled, references come back down to the base rate, give or take the occasional re-probe.
        const steady = stream(calibrator, truth, 10_000, seed + 50);
        steadyCalls += steady.calls;
        assert.ok(steady.agreement >= 0.97, `seed ${seed}: steady agreement ${steady.agreement.toFixed(3)}`);
      }
      // A point agreeing 0.99 is called bad about one test in eight (falseBad): a saving missed until its evidence
      // fades and it is tried again, so most runs, not all, end within a step.
      assert.ok(near.length >= 7, `within a step of (${safe.side}, ${safe.level}) in runs ${near} of ${runs}`);
      // Averaged over runs: one that finds a saving late pays a search (boosted references) in this window.
      assert.ok(steadyCalls / (runs * 10_000) <= 0.05, `steady references and probes ${steadyCalls / (runs * 100)}%`);
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

  test('three candidates at once: cheaper points agreeing just under the target (0.965) rarely reach clients', () => {
    // Each step tests up to three candidates at once: three chances to pass a bad point. The per-candidate error rate
    // is falseGood / 3 so that the step's stays near falseGood (without it 14 of these 60 runs served 0.965, with it 4).
    const truth = (p: GridPoint) => (p.side === 0 && p.level === 0 ? 0.995 : 0.965);
    const runs = 60;
    let servedBelow = 0;
    let requestsBelow = 0;
    for (let seed = 1; seed <= runs; seed++) {
      const calibrator = new Calibrator(
        { target: 0.97 },
        { sides: [null, 1024], levels: 9, start: { side: 0, level: 0 } },
        { rng: seededRng(500 + seed) },
      );
      const rng = seededRng(seed);
      let below = 0;
      for (let i = 0; i < 3000; i++) {
        const referenced = rng() < (calibrator.referenceRequest(0.02).probability ?? 0.02);
        const route = calibrator.route(referenced);
        assert.ok(route.probes.length <= 3);
        if (truth(route.grid) < 0.97) below++;
        if (!referenced) continue;
        calibrator.record(route.grid, rng() < truth(route.grid) ? 1 : 0);
        for (const probe of route.probes) calibrator.record(probe.grid, rng() < truth(probe.grid) ? 1 : 0);
      }
      if (below > 0) servedBelow++;
      requestsBelow += below;
    }
    assert.ok(servedBelow <= 7, `${servedBelow} of ${runs} runs served a point under the target`);
    assert.ok(requestsBelow / (runs * 3000) < 0.05, `${requestsBelow} requests in all at 0.965`);
  });

  test('a candidate agreeing about as well as the target stalls: a nearer one is tried, and the boost ends', () => {
    // Levels 0-2 agree 0.998, 3-5 0.98 (above the target, but a test needs many hundred samples to say so), beyond
    // 0.9. The first candidate (level 4) often stays undecided; the search must not stay at level 0 for it.
    const truth = (p: GridPoint) => (p.level <= 2 ? 0.998 : p.level <= 5 ? 0.98 : 0.9);
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const calibrator = new Calibrator(
        { target: 0.97 },
        { sides: [null], levels: 9, start: { side: 0, level: 0 } },
        { rng: seededRng(700 + seed) },
      );
      const run = stream(calibrator, truth, 6000, seed);
      const at = calibrator.snapshot().current;
      assert.ok(at.level >= 2 && at.level <= 5, `seed ${seed}: at level ${at.level}`);
      assert.ok(run.agreement >= 0.97, `seed ${seed}: clients got ${run.agreement.toFixed(3)}`);
    }
    // What a stall does, on samples agreeing exactly 0.98 (49 in 50): undecided at 300 (faded: 325 recorded), the step
    // halves; at step 1 nothing nearer is left, and the boost ends.
    const feed = (calibrator: Calibrator, at: GridPoint) => {
      for (let i = 0; i < 330; i++) calibrator.record(at, i % 50 === 49 ? 0 : 1);
    };
    const far = new Calibrator({}, { sides: [null], levels: 9, start: { side: 0, level: 0 } });
    feed(far, { side: 0, level: 4 });
    const afterFar = far.snapshot();
    assert.deepEqual(afterFar.current, { side: 0, level: 0 }, 'undecided: not taken');
    assert.deepEqual(
      afterFar.candidates.map((c) => [c.level, c.verdict, c.stalled]),
      [[2, 'undecided', false]],
      'the nearer level 2 is tried instead',
    );
    assert.equal(afterFar.calibrating, true);
    const near = new Calibrator(
      {},
      { sides: [null], levels: 9, start: { side: 0, level: 0 }, firstSteps: { level: 1 } },
    );
    feed(near, { side: 0, level: 1 });
    const afterNear = near.snapshot();
    assert.deepEqual(
      afterNear.candidates.map((c) => [c.level, c.verdict, c.stalled]),
      [[1, 'undecided', true]],
    );
    assert.equal(afterNear.calibrating, false, 'a stalled candidate at step 1 does not keep references boosted');
    assert.deepEqual(near.referenceRequest(0.02), {});
  });

  test('settled, every candidate not proven good is re-checked in turn (a false "bad" gets re-tested)', () => {
    const calibrator = new Calibrator({ settledProbeShare: 1 }, grid(9), { rng: seededRng(9) });
    // The two single-step candidates fail at each step until the steps are 1: every cheaper point is then bad.
    for (let step = 0; step < 3; step++) {
      for (const candidate of calibrator.snapshot().candidates.slice(1)) {
        for (let i = 0; i < 40; i++) calibrator.record(candidate, 0);
      }
    }
    const settled = calibrator.snapshot();
    assert.equal(settled.calibrating, false);
    assert.deepEqual(
      settled.candidates.map((c) => [c.side, c.level, c.verdict]),
      [
        [1, 1, 'bad'],
        [1, 0, 'bad'],
        [0, 1, 'bad'],
      ],
    );
    const probed = new Map<string, number>();
    for (let i = 0; i < 300; i++) {
      const { probes } = calibrator.route(true);
      assert.equal(probes.length, 1, 'one probe per reference once settled');
      const key = `${probes[0]!.grid.side},${probes[0]!.grid.level}`;
      probed.set(key, (probed.get(key) ?? 0) + 1);
    }
    for (const key of ['1,1', '1,0', '0,1']) {
      assert.ok((probed.get(key) ?? 0) >= 60, `candidate ${key} re-checked ${probed.get(key) ?? 0} times of 300`);
    }
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

  test("levels replaced under a key keep the rungs' evidence at every side, and nothing of the other levels", () => {
    // Two model-free rungs (the safe quality and the start's) above the model's levels; clients on the start rung.
    const calibrator = new Calibrator({}, grid(9, { side: 2, level: 1 }), { rng: seededRng(5) });
    for (let i = 0; i < 20; i++) {
      calibrator.record({ side: 2, level: 1 }, 1);
      calibrator.record({ side: 3, level: 0 }, i % 10 === 0 ? 0 : 1);
      calibrator.record({ side: 3, level: 1 }, 1);
      calibrator.record({ side: 2, level: 4 }, 0);
    }
    const before = calibrator.state();
    const carried = carryRungs(before, 2, 7, 2);
    const ladder = new Calibrator({}, { sides: SIDES, levels: 7, start: { side: 0, level: 0 } }, { state: carried });
    const after = ladder.state();
    assert.deepEqual(after.current, { side: 2, level: 1 }, 'where clients were, not the grid start');
    assert.equal(after.levels, 7);
    for (const side of [2, 3]) {
      for (const level of [0, 1]) {
        assert.equal(after.counts[side * 7 + level], before.counts[side * 9 + level], `side ${side}, rung ${level}`);
        assert.equal(after.sums[side * 7 + level], before.sums[side * 9 + level]);
      }
    }
    assert.ok(after.counts[3 * 7]! > 0 && after.counts[2 * 7 + 1]! > 0, 'both rungs had samples to carry');
    assert.equal(after.counts.filter((n, k) => k % 7 > 1 && n > 0).length, 0, 'other levels start afresh');
    assert.deepEqual(after.steps, { side: before.steps.side, level: 2 });
    assert.equal(ladder.snapshot().calibrating, true, 'its new levels are explored');
    const onModelLevel = carryRungs({ ...before, current: { side: 2, level: 4 } }, 2, 7, 2);
    assert.deepEqual(onModelLevel.current, { side: 2, level: 1 }, 'from a model level, clients go to the lowest rung');
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
