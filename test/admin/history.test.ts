import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createHistory } from '../../src/admin/history.ts';
import { createMetrics } from '../../src/admin/metrics.ts';
import type { ControllerSnapshot } from '../../src/feedback/controller.ts';

const controller = (windowMean: number | null): ControllerSnapshot => ({
  state: 'policy',
  modelId: 'm1',
  windowMean,
  samples: 3,
  absorbedDrops: 0,
  windowSize: 20,
  since: new Date(0).toISOString(),
  transitions: 0,
  needsRetraining: false,
  ignoredSamples: 0,
  cusum: 0,
});

test('a sample sums the counters over providers and splits actions, originals and references by label', async () => {
  const metrics = createMetrics();
  const rek = { provider: 'rekognition', operation: 'DetectLabels' };
  const face = { provider: 'facepp', operation: 'facepp/v3/detect' };
  metrics.imageBytesIn.inc(rek, 1000);
  metrics.imageBytesIn.inc(face, 500);
  metrics.imageBytesOut.inc(rek, 300);
  metrics.imageBytesOut.inc(face, 500);
  metrics.actions.inc({ ...rek, quality: '35' }, 4);
  metrics.actions.inc({ ...face, quality: '35' }, 1);
  metrics.actions.inc({ ...rek, quality: '75' }, 2);
  metrics.originals.inc({ provider: 'facepp', reason: 'overload' }, 3);
  metrics.references.inc({ provider: 'rekognition', result: 'sent' }, 2);
  metrics.references.inc({ provider: 'facepp', result: 'failed' });
  const history = createHistory({
    registry: metrics.registry,
    controllers: () => ({ 'rekognition/DetectLabels': controller(0.9) }),
    sampler: () => ({ granted: 3, refusedByBudget: 7, notDrawn: 10 }),
    now: () => 42,
  });
  try {
    const s = await history.sample();
    assert.equal(s.t, 42);
    assert.equal(s.bytesIn, 1500);
    assert.equal(s.bytesOut, 800);
    assert.deepEqual(s.actions, { '35': 5, '75': 2 });
    assert.deepEqual(s.originals, { overload: 3 });
    assert.deepEqual(s.references, { sent: 2, failed: 1 });
    assert.equal(s.referenceRefusals, 7);
    assert.deepEqual(s.controllers['rekognition/DetectLabels'], {
      state: 'policy',
      windowMean: 0.9,
      samples: 3,
      needsRetraining: false,
    });
  } finally {
    history.stop();
  }
});

test('the ring keeps the newest `capacity` samples, oldest first', async () => {
  const metrics = createMetrics();
  let clock = 0;
  const history = createHistory({
    registry: metrics.registry,
    controllers: () => ({}),
    intervalMs: 5,
    capacity: 3,
    now: () => ++clock,
  });
  try {
    while (clock < 8) await sleep(5);
    const samples = history.samples();
    assert.equal(samples.length, 3);
    const times = samples.map((s) => s.t);
    assert.deepEqual(
      times,
      [...times].sort((a, b) => a - b),
    );
    assert.ok(times[0]! > 1, 'the oldest samples were dropped');
  } finally {
    history.stop();
  }
});
