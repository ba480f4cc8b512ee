import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Answer } from '../../src/answer.ts';
import { defaultRewardWeights, rewardSpec } from '../../src/feedback/reward-spec.ts';

const box = { left: 0, top: 0, width: 100, height: 100 };
const reference: Answer = { labels: [{ name: 'Dog', score: 0.9 }], faces: [{ box, score: 1 }], text: 'HELLO' };
const answer: Answer = { labels: [{ name: 'Dog', score: 0.6 }], faces: [], text: 'HELLO' };
const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} != ${b}`);

describe('the reward spec', () => {
  test('labels default to the paper: reward = top-1 kept - bytes / reference bytes', () => {
    const spec = rewardSpec('labels');
    assert.equal(spec.reward(spec.agreement(reference, answer), 20_000 / 40_000), 0.5);
    const miss: Answer = { labels: [{ name: 'Cat', score: 0.7 }], faces: [] };
    assert.equal(spec.reward(spec.agreement(reference, miss), 20_000 / 40_000), -0.5);
  });

  test('each kind measures its own thing: faces recall, text similarity, compare match and faces', () => {
    assert.equal(rewardSpec('faces').agreement(reference, answer), 0);
    assert.equal(rewardSpec('text').agreement(reference, answer), 1);
    // compare: half confidence-weighted label overlap (0.6/0.9), half face recall (0)
    close(rewardSpec('compare').agreement(reference, answer), 0.5 * (0.6 / 0.9));
  });

  test("a model's reward_weights replace the kind's defaults; agreement is their weighted mean", () => {
    const spec = rewardSpec('labels', { accuracy: 1, overlap: 2, faces: 3, size: 2 });
    close(spec.agreement(reference, answer), (1 + (2 * 0.6) / 0.9 + 0) / 6);
    close(spec.reward(0.5, 0.25), 0);
    assert.deepEqual(spec.weights, { accuracy: 1, overlap: 2, faces: 3, text: 0, words: 0, size: 2 });
  });

  test('text answers are judged by word agreement by default, characters on request', () => {
    const ref: Answer = { labels: [], faces: [], text: 'Total due 42.50 EUR' };
    const misread: Answer = { labels: [], faces: [], text: 'Total due 42.5O EUR' };
    assert.deepEqual(rewardSpec('text').weights, { ...defaultRewardWeights.text });
    assert.equal(defaultRewardWeights.text.words, 1);
    // One word of four misread: word F1 0.75, while 18 of 19 characters are still right.
    assert.equal(rewardSpec('text').agreement(ref, misread), 0.75);
    close(rewardSpec('text', { text: 1 }).agreement(ref, misread), 18 / 19);
    close(rewardSpec('text', { text: 1, words: 1 }).agreement(ref, misread), (18 / 19 + 0.75) / 2);
  });

  test("weights on measures that cannot read a kind's answers are dropped (the placeholder's accuracy on OCR)", () => {
    // The placeholder model's reward_weights: judged by label accuracy, every text answer (no labels) would agree 1.
    const placeholder = { accuracy: 1, size: 1 };
    const ref: Answer = { labels: [], faces: [], text: 'EXIT' };
    const lost: Answer = { labels: [], faces: [], text: '' };
    const spec = rewardSpec('text', placeholder);
    assert.deepEqual(spec.weights, { ...defaultRewardWeights.text, size: 1 });
    assert.equal(spec.agreement(ref, lost), 0);
    // And text weights say nothing about labels.
    assert.deepEqual(rewardSpec('labels', { text: 1, words: 1 }).weights, defaultRewardWeights.labels);
  });

  test('only a size weight (a trained model card) keeps the kind default measure; unknown names are ignored', () => {
    const spec = rewardSpec('faces', { size: 0.3, bogus: 7 });
    assert.deepEqual(spec.weights, { ...defaultRewardWeights.faces, size: 0.3 });
    assert.equal(spec.agreement(reference, answer), 0);
    assert.equal(
      rewardSpec('faces', { size: 0.3 }).agreement(reference, { ...answer, faces: [{ box, score: 0.5 }] }),
      1,
    );
  });

  test('a failed upload agrees 0 under every kind, even against an empty reference', () => {
    for (const kind of ['labels', 'faces', 'text', 'compare'] as const) {
      assert.equal(rewardSpec(kind).agreement(reference, undefined), 0, kind);
    }
    const blank: Answer = { labels: [], faces: [], text: '' };
    assert.equal(rewardSpec('text').agreement(blank, undefined), 0);
    assert.equal(rewardSpec('text', { text: 1 }).agreement(blank, undefined), 0);
  });

  test('an empty reference judges nothing for labels (the paper) but is evidence for the other kinds', () => {
    const empty: Answer = { labels: [], faces: [] };
    assert.equal(rewardSpec('labels').usableReference(empty), false);
    assert.equal(rewardSpec('faces').usableReference(empty), true);
    assert.equal(rewardSpec('text').usableReference(null), false);
  });
});
