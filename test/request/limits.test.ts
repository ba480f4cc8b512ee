import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkLimiter } from '../../src/limiter.ts';
import { BodyBudget } from '../../src/request/body-budget.ts';

test('limiter: the deadline aborts the work budget, so the work can stop, not only the wait', async () => {
  const limiter = new WorkLimiter({ concurrency: 1, maxQueue: 1 });
  let abortedAt: number | undefined;
  const started = performance.now();
  const result = await limiter.run(async (budget) => {
    assert.ok(budget.deadline > performance.now());
    await new Promise<void>((resolve) =>
      budget.signal.addEventListener('abort', () => {
        abortedAt = performance.now() - started;
        resolve();
      }),
    );
  }, 100);
  assert.deepEqual(result, { ok: false, reason: 'deadline' });
  await sleep(10);
  assert.ok(abortedAt !== undefined && abortedAt >= 90, 'the work was told at its deadline');
  assert.equal(limiter.active, 0, 'the slot is free once the work stopped');
});

test('limiter: work whose caller gave up while it was queued never starts', async () => {
  const limiter = new WorkLimiter({ concurrency: 1, maxQueue: 4 });
  const gone = new AbortController();
  let ran = false;
  const first = limiter.run(() => sleep(150), 1000);
  const second = limiter.run(
    async () => {
      ran = true;
    },
    1000,
    gone.signal,
  );
  await sleep(20);
  gone.abort();
  assert.deepEqual(await second, { ok: false, reason: 'aborted' });
  await first;
  await sleep(10);
  assert.equal(ran, false);
  assert.deepEqual(await limiter.run(async () => 1, 100, gone.signal), { ok: false, reason: 'aborted' });
});

test('body budget: within the limit at once; past it a body waits for room, in arrival order', async () => {
  const budget = new BodyBudget(100);
  const a = (await budget.reserve(60, 0))!;
  const b = budget.reserve(60, 1000);
  const c = budget.reserve(30, 1000);
  await sleep(20);
  assert.equal(budget.held, 60);
  assert.equal(budget.waiting, 2);
  a.release();
  const [lb, lc] = await Promise.all([b, c]);
  assert.equal(budget.held, 90, 'both fit once the first went');
  lb!.release();
  lc!.release();
  assert.equal(budget.held, 0);
});

test('body budget: the wait is bounded, an abandoned wait frees its place; a body over the whole limit goes alone', async () => {
  const budget = new BodyBudget(100);
  const held = (await budget.reserve(80, 0))!;
  assert.equal(await budget.reserve(50, 50), undefined, 'no room within the wait');
  const gone = new AbortController();
  const abandoned = budget.reserve(50, 1000, gone.signal);
  gone.abort();
  assert.equal(await abandoned, undefined);
  assert.equal(budget.waiting, 0);
  held.release();
  const huge = (await budget.reserve(500, 0))!;
  assert.equal(budget.held, 500, 'alone, a body larger than the limit is still taken');
  huge.resize(120);
  assert.equal(budget.held, 120);
  huge.release();
  assert.equal((await new BodyBudget(0).reserve(1e12, 0)) !== undefined, true, '0: no bound');
});
