import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { inspectImage } from '../../src/codec/index.ts';
import { controllerDefaults } from '../../src/feedback/controller.ts';
import type { DecisionLog } from '../../src/feedback/decision-log.ts';
import { LearningLoop, type LearningLoopOptions } from '../../src/feedback/loop.ts';
import { createReferenceSampler } from '../../src/feedback/reference-sampler.ts';
import { FixedQualityPolicy } from '../../src/policy/fixed.ts';
import { rekognition } from '../../src/providers/rekognition/index.ts';
import { createExchange, type Exchange } from '../../src/request/exchange.ts';
import { syntheticJpeg } from '../../testkit/images.ts';
import { testProvider } from '../helpers/providers.ts';

/** A decision log that keeps its lines in memory. */
function memoryLog() {
  const lines: { type: string; id: string }[] = [];
  const log = {
    logDecision: (line: { id: string }) => lines.push({ type: 'decision', id: line.id }) > 0,
    logReference: (line: { id: string }) => lines.push({ type: 'reference', id: line.id }) > 0,
  } as unknown as DecisionLog;
  return { lines, log };
}

/** A loop that references every request and runs each reference upload with `runReference`. */
function referencingLoop(log: DecisionLog, runReference: LearningLoopOptions['runReference']): LearningLoop {
  return new LearningLoop({
    policy: new FixedQualityPolicy(35),
    sampler: createReferenceSampler({ probability: 1, maxPerMinute: 1000 }),
    log,
    referenceKind: 'original',
    controller: controllerDefaults,
    codecLimits: { maxInputPixels: 1e7 },
    runReference,
    logger: pino({ level: 'silent' }),
  });
}

/** A finished one-image exchange, as the request path leaves it for the loop. */
async function finishedExchange(loop: LearningLoop): Promise<Exchange> {
  const provider = testProvider(rekognition);
  const exchange = createExchange({ method: 'POST', url: '/', headers: {} }, new AbortController().signal);
  const bytes = await syntheticJpeg({ width: 200, height: 150, quality: 95 });
  const original = await inspectImage(bytes, { maxInputPixels: 1e7 });
  exchange.provider = provider;
  exchange.slots = [{ field: 'Image', operation: provider.op('DetectLabels'), key: 'rekognition/DetectLabels', bytes }];
  loop.plan(exchange);
  const decision = { action: { quality: 35 }, actionIndex: -1, propensity: 1, modelId: 'fixed-q35' };
  exchange.slots[0]!.outcome = {
    kind: 'encoded',
    original,
    bytes: Buffer.alloc(10),
    width: 200,
    height: 150,
    decision,
  };
  exchange.slots[0]!.answer = { labels: [{ name: 'dog', score: 0.9 }], faces: [] };
  exchange.response = { status: 200, headers: {}, body: Readable.from([]), raw: Buffer.from('{}'), ms: 1 };
  return exchange;
}

test('drain waits for every reference upload, also those started while it waits (issue 11, item 5)', async () => {
  const { lines, log } = memoryLog();
  const loop = referencingLoop(log, async (reference) => {
    await sleep(200);
    reference.response = { status: 200, headers: {}, body: Readable.from([]), raw: Buffer.from('{}'), ms: 200 };
  });
  const first = await finishedExchange(loop);
  const late = await finishedExchange(loop);
  loop.record(first);
  const draining = loop.drain(5000);
  await sleep(50);
  loop.record(late); // an exchange that finished its last steps once the drain had begun
  assert.equal(await draining, 0, 'nothing left running');
  assert.deepEqual(
    lines.filter((l) => l.type === 'reference').map((l) => l.id),
    [`${first.id}.ref`, `${late.id}.ref`],
  );
});

test('drain gives up at its deadline and says how many uploads are still running', async () => {
  const { log } = memoryLog();
  const loop = referencingLoop(log, () => sleep(2000));
  loop.record(await finishedExchange(loop));
  const started = performance.now();
  assert.equal(await loop.drain(200), 1);
  assert.ok(performance.now() - started < 1000);
});
