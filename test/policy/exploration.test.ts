import assert from 'node:assert/strict';
import { test } from 'node:test';
import { actionProbabilities, sampleIndex } from '../../src/policy/exploration.ts';
import { seededRng } from '../../src/policy/rng.ts';

const scores = [0.1, 0.5, 0.2, 0.5, -1, 0.3];
const sum = (p: ArrayLike<number>): number => Array.from(p).reduce((a, b) => a + b, 0);

test('epsilon-greedy: probabilities sum to 1, ties share the greedy mass', () => {
  const p = actionProbabilities(scores, { kind: 'epsilon-greedy', epsilon: 0.3 });
  assert.ok(Math.abs(sum(p) - 1) < 1e-12);
  assert.ok(Math.abs(p[1]! - (0.05 + 0.35)) < 1e-12);
  assert.equal(p[1], p[3]);
  assert.ok(Math.abs(p[0]! - 0.05) < 1e-12);
});

test('softmax: probabilities sum to 1 and follow the scores', () => {
  const p = actionProbabilities(scores, { kind: 'softmax', temperature: 0.2 });
  assert.ok(Math.abs(sum(p) - 1) < 1e-12);
  assert.ok(p[1]! > p[5]! && p[5]! > p[2]! && p[2]! > p[0]! && p[0]! > p[4]!);
});

test('NaN scores never win', () => {
  const p = actionProbabilities([Number.NaN, 0, 1], { kind: 'epsilon-greedy', epsilon: 0 });
  assert.deepEqual(Array.from(p), [0, 0, 1]);
});

for (const exploration of [
  { kind: 'epsilon-greedy' as const, epsilon: 0.3 },
  { kind: 'softmax' as const, temperature: 0.2 },
]) {
  test(`${exploration.kind}: observed frequencies match the stated propensities (chi-square, fixed seed)`, () => {
    const p = actionProbabilities(scores, exploration);
    const rng = seededRng(42);
    const draws = 20_000;
    const counts = new Array<number>(scores.length).fill(0);
    for (let i = 0; i < draws; i++) counts[sampleIndex(p, rng)]!++;
    let chi2 = 0;
    for (let i = 0; i < scores.length; i++) chi2 += (counts[i]! - draws * p[i]!) ** 2 / (draws * p[i]!);
    // 5 degrees of freedom: the 99.9th percentile is 20.5.
    assert.ok(chi2 < 20.5, `chi2 ${chi2.toFixed(2)}, counts ${counts}`);
  });
}
