import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createReferenceSampler } from '../../src/feedback/reference-sampler.ts';

/** A deterministic stand-in for Math.random cycling through the given values. */
function sequence(...values: number[]) {
  let i = 0;
  return () => values[i++ % values.length]!;
}

describe('reference sampler', () => {
  test('the per-minute budget is never exceeded under many concurrent acquisitions, in any 60 s window', async () => {
    let clock = 0;
    const sampler = createReferenceSampler({ probability: 1, maxPerMinute: 25 }, { now: () => clock, random: () => 0 });
    const grantTimes: number[] = [];
    // 40 waves of 200 concurrent requests, 7 s apart: the clock moves across many overlapping minutes.
    for (let wave = 0; wave < 40; wave++) {
      const results = await Promise.all(
        Array.from({ length: 200 }, async () => {
          await Promise.resolve();
          return sampler.tryAcquire();
        }),
      );
      for (const result of results) if (result.granted) grantTimes.push(clock);
      clock += 7000;
    }
    for (const start of grantTimes) {
      const inWindow = grantTimes.filter((time) => time >= start && time < start + 60_000).length;
      assert.ok(inWindow <= 25, `${inWindow} grants in the minute from ${start}`);
    }
    // The budget is used, not just respected: the first minute fills to the cap.
    assert.equal(grantTimes.filter((time) => time < 60_000).length, 25);
    const counters = sampler.counters();
    assert.equal(counters.granted, grantTimes.length);
    assert.equal(counters.granted + counters.refusedByBudget, 40 * 200);
  });

  test('budget frees up as grants leave the sliding window', () => {
    let clock = 0;
    const sampler = createReferenceSampler({ probability: 1, maxPerMinute: 2 }, { now: () => clock });
    assert.equal(sampler.tryAcquire().granted, true);
    clock = 30_000;
    assert.equal(sampler.tryAcquire().granted, true);
    clock = 59_999;
    assert.deepEqual(sampler.tryAcquire(), { granted: false, reason: 'budget', probability: 1 });
    clock = 60_000;
    assert.equal(sampler.tryAcquire().granted, true);
    assert.equal(sampler.inWindow(), 2);
    clock = 90_000;
    assert.equal(sampler.inWindow(), 1);
  });

  test('the probability draws: default, boosted by the controller, forced', () => {
    const sampler = createReferenceSampler(
      { probability: 0.1, maxPerMinute: 100 },
      { now: () => 0, random: sequence(0.05, 0.5, 0.5) },
    );
    assert.deepEqual(sampler.tryAcquire(), { granted: true, reason: 'sampled', probability: 0.1 });
    assert.deepEqual(sampler.tryAcquire(), { granted: false, reason: 'not-drawn', probability: 0.1 });
    assert.deepEqual(sampler.tryAcquire({ probability: 0.6 }), { granted: true, reason: 'sampled', probability: 0.6 });
    assert.deepEqual(sampler.tryAcquire({ force: true }), { granted: true, reason: 'forced', probability: 1 });
    assert.deepEqual(sampler.counters(), { granted: 3, refusedByBudget: 0, notDrawn: 1 });
  });

  test('a boosted or forced request is still capped by the budget; a zero budget grants nothing', () => {
    const capped = createReferenceSampler({ probability: 0, maxPerMinute: 1 }, { now: () => 0 });
    assert.equal(capped.tryAcquire({ force: true }).granted, true);
    assert.equal(capped.tryAcquire({ probability: 1 }).reason, 'budget');
    assert.equal(capped.tryAcquire({ force: true }).reason, 'budget');
    const off = createReferenceSampler({ probability: 1, maxPerMinute: 0 }, { now: () => 0 });
    assert.equal(off.tryAcquire({ force: true }).reason, 'budget');
    assert.equal(off.counters().granted, 0);
  });
});
