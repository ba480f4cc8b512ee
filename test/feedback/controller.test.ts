import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type ControllerTransition, createController } from '../../src/feedback/controller.ts';
import { createReferenceSampler } from '../../src/feedback/reference-sampler.ts';

// The paper's window rule; CUSUM, the default detector, has its own tests below.
const config = {
  windowSize: 10,
  threshold: 0.8,
  recoverThreshold: 0.9,
  safeQuality: 80,
  modelId: 'm1',
  detector: 'window' as const,
};

function watch(controller: ReturnType<typeof createController>) {
  const transitions: ControllerTransition[] = [];
  controller.on('transition', (transition) => transitions.push(transition));
  return transitions;
}

describe('controller', () => {
  test('an accuracy drop switches to fallback within one window, with a retraining signal', () => {
    let clock = Date.parse('2025-05-01T00:00:00Z');
    const controller = createController(config, { now: () => clock });
    const transitions = watch(controller);
    let retraining = 0;
    controller.on('retraining-needed', () => retraining++);
    for (let i = 0; i < 30; i++) controller.record({ agreement: 1, mode: 'policy', modelId: 'm1' });
    assert.equal(controller.state, 'policy');

    // The scene changes: the policy now keeps the reference label only one time in three.
    let samplesAfterDrop = 0;
    while (controller.state === 'policy' && samplesAfterDrop < 100) {
      clock += 1000;
      controller.record({ agreement: samplesAfterDrop % 3 === 0 ? 1 : 0, mode: 'policy', modelId: 'm1' });
      samplesAfterDrop++;
    }
    assert.equal(controller.state, 'fallback');
    assert.ok(samplesAfterDrop <= config.windowSize, `took ${samplesAfterDrop} samples`);
    assert.equal(retraining, 1);
    assert.equal(controller.needsRetraining, true);
    assert.equal(transitions.length, 1);
    assert.equal(transitions[0]!.reason, 'agreement-dropped');
    assert.ok(transitions[0]!.windowMean! < 0.8);
    const snapshot = controller.snapshot();
    assert.equal(snapshot.state, 'fallback');
    assert.equal(snapshot.since, new Date(clock).toISOString());
    assert.equal(snapshot.transitions, 1);
    assert.equal(snapshot.samples, 0);
  });

  test('in fallback, referenced decisions probe the policy and the rest use the safe quality', () => {
    const controller = createController({ ...config, boostedReferenceProbability: 0.3 });
    assert.deepEqual(controller.referenceRequest(), {});
    assert.deepEqual(controller.route(true), { state: 'policy', mode: 'policy' });
    for (let i = 0; i < 10; i++) controller.record({ agreement: 0, mode: 'policy', modelId: 'm1' });
    assert.equal(controller.state, 'fallback');
    assert.deepEqual(controller.referenceRequest(), { probability: 0.3 });
    assert.deepEqual(controller.route(false), { state: 'fallback', mode: 'safe', safeQuality: 80 });
    assert.deepEqual(controller.route(true), { state: 'fallback', mode: 'probe' });
  });

  test('agreement of the safe action never brings the policy back; probes that agree do', () => {
    const controller = createController(config);
    const transitions = watch(controller);
    for (let i = 0; i < 10; i++) controller.record({ agreement: 0.2, mode: 'policy', modelId: 'm1' });
    assert.equal(controller.state, 'fallback');
    for (let i = 0; i < 50; i++) controller.record({ agreement: 1, mode: 'safe', modelId: 'm1' });
    assert.equal(controller.state, 'fallback');
    assert.equal(controller.snapshot().ignoredSamples, 50);

    // Probes that still disagree keep it in fallback; between threshold and recoverThreshold is not enough either.
    for (let i = 0; i < 10; i++) controller.record({ agreement: 0.85, mode: 'probe', modelId: 'm1' });
    assert.equal(controller.state, 'fallback');
    for (let i = 0; i < 10; i++) controller.record({ agreement: 1, mode: 'probe', modelId: 'm1' });
    assert.equal(controller.state, 'policy');
    assert.equal(controller.needsRetraining, false);
    assert.deepEqual(
      transitions.map((transition) => transition.reason),
      ['agreement-dropped', 'agreement-recovered'],
    );
  });

  test('a new model returns to policy at once, and late samples of the old model are ignored', () => {
    const controller = createController(config);
    const transitions = watch(controller);
    for (let i = 0; i < 10; i++) controller.record({ agreement: 0, mode: 'policy', modelId: 'm1' });
    assert.equal(controller.state, 'fallback');
    controller.onModelLoaded('m2');
    assert.equal(controller.state, 'policy');
    assert.equal(controller.needsRetraining, false);
    assert.equal(transitions.at(-1)!.reason, 'model-loaded');
    assert.equal(transitions.at(-1)!.modelId, 'm2');
    for (let i = 0; i < 20; i++) controller.record({ agreement: 0, mode: 'probe', modelId: 'm1' });
    assert.equal(controller.state, 'policy');
    assert.equal(controller.snapshot().samples, 0);
    assert.equal(controller.snapshot().modelId, 'm2');
  });

  test('no transition is judged before minSamples', () => {
    const controller = createController({ ...config, minSamples: 5 });
    for (let i = 0; i < 4; i++) controller.record({ agreement: 0, mode: 'policy', modelId: 'm1' });
    assert.equal(controller.state, 'policy');
    controller.record({ agreement: 0, mode: 'policy', modelId: 'm1' });
    assert.equal(controller.state, 'fallback');
  });

  test('config is validated', () => {
    assert.throws(() => createController({ ...config, recoverThreshold: 0.5 }), /recoverThreshold/);
    assert.throws(() => createController({ ...config, minSamples: 11 }), /minSamples/);
  });

  test('end to end with the sampler: probes stay within the reference budget', () => {
    let clock = 0;
    const controller = createController({ ...config, boostedReferenceProbability: 1 });
    const sampler = createReferenceSampler(
      { probability: 0.02, maxPerMinute: 5 },
      { now: () => clock, random: () => 0 },
    );
    for (let i = 0; i < 10; i++) controller.record({ agreement: 0, mode: 'policy', modelId: 'm1' });
    const modes: string[] = [];
    for (let i = 0; i < 20; i++) {
      clock += 100;
      modes.push(controller.route(sampler.tryAcquire(controller.referenceRequest()).granted).mode);
    }
    assert.equal(modes.filter((mode) => mode === 'probe').length, 5);
    assert.equal(modes.filter((mode) => mode === 'safe').length, 15);
  });
});

describe('CUSUM detector (default)', () => {
  const cusum = { windowSize: 10, recoverThreshold: 0.9, modelId: 'm1', cusumReference: 0.9, cusumThreshold: 2.5 };
  const feed = (controller: ReturnType<typeof createController>, values: number[]) => {
    for (const agreement of values) controller.record({ agreement, mode: 'policy', modelId: 'm1' });
  };

  test("isolated disagreements at a healthy policy's rate never trip it", () => {
    const controller = createController(cusum);
    // One disagreement in 25 (agreement 0.96) for 2000 samples.
    feed(
      controller,
      Array.from({ length: 2000 }, (_, i) => (i % 25 === 7 ? 0 : 1)),
    );
    assert.equal(controller.state, 'policy');
    assert.ok(controller.snapshot().cusum < 1);
  });

  test('a drop to a third of disagreements trips it within a few disagreements', () => {
    const controller = createController(cusum);
    feed(controller, Array(50).fill(1));
    let samples = 0;
    while (controller.state === 'policy' && samples < 100) {
      feed(controller, [samples % 3 === 1 ? 0 : 1]);
      samples++;
    }
    assert.equal(controller.state, 'fallback');
    assert.ok(samples <= 12, `tripped after ${samples} samples`);
    assert.equal(controller.needsRetraining, true);
  });

  test('the statistic restarts on every transition, so one episode raises one alarm', () => {
    const controller = createController(cusum);
    const transitions = watch(controller);
    feed(controller, [0, 0, 0]);
    assert.equal(controller.state, 'fallback');
    assert.equal(controller.snapshot().cusum, 0);
    feed(controller, Array(10).fill(1)); // probes agree again
    assert.equal(controller.state, 'policy');
    assert.deepEqual(
      transitions.map((t) => t.reason),
      ['agreement-dropped', 'agreement-recovered'],
    );
  });

  test('suspicion buys evidence: after a disagreement the reference probability rises, and calm returns it to base', () => {
    const controller = createController({
      ...cusum,
      referenceProbability: 0.04,
      suspicionBoost: 8,
      boostedReferenceProbability: 0.5,
    });
    assert.deepEqual(controller.referenceRequest(), {}, 'calm: the sampler base rate');
    feed(controller, [0]);
    const raised = controller.referenceRequest().probability!;
    assert.ok(raised > 0.1 && raised <= 0.5, `raised to ${raised}`);
    feed(controller, Array(20).fill(1));
    assert.deepEqual(controller.referenceRequest(), {});
  });
});
