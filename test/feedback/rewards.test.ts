import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Answer, Face } from '../../src/answer.ts';
import {
  faceRecall,
  isUsableReference,
  labelOverlap,
  levenshtein,
  paperAccuracy,
  textSimilarity,
  textTokens,
  wordAgreement,
} from '../../src/feedback/rewards.ts';

const labels = (...pairs: [string, number][]): Answer => ({
  labels: pairs.map(([name, score]) => ({ name, score })),
  faces: [],
});
const face = (left: number, top: number, width: number, height: number, score = 0.99): Face => ({
  box: { left, top, width, height },
  score,
});
const faces = (...list: Face[]): Answer => ({ labels: [], faces: list });
const empty: Answer = { labels: [], faces: [] };

describe('paper accuracy and reward', () => {
  test('1 when the reference top-1 appears anywhere in the answer, case-insensitively', () => {
    const reference = labels(['Golden Retriever', 0.9], ['Dog', 0.8]);
    assert.equal(paperAccuracy(reference, labels(['Dog', 0.9], ['golden retriever', 0.4])), 1);
    assert.equal(paperAccuracy(reference, labels(['Dog', 0.9])), 0);
    assert.equal(paperAccuracy(reference, labels(['Golden', 0.9])), 0, 'exact name, not a prefix');
  });

  test('a failed upload (no answer) scores 0; an empty answer misses the label', () => {
    const reference = labels(['Dog', 0.9]);
    assert.equal(paperAccuracy(reference, undefined), 0);
    assert.equal(paperAccuracy(reference, empty), 0);
  });

  test('an empty reference is vacuous and is not a paper training sample', () => {
    assert.equal(paperAccuracy(empty, empty), 1);
    assert.equal(paperAccuracy(empty, labels(['Dog', 0.9])), 0);
    assert.equal(isUsableReference(empty), false);
    assert.equal(isUsableReference(undefined), false);
    assert.equal(isUsableReference(labels(['Dog', 0.9])), true);
  });
});

describe('label overlap', () => {
  test('identical sets score 1, disjoint sets 0, both empty 1, no answer 0', () => {
    const answer = labels(['Dog', 0.9], ['Pet', 0.7]);
    assert.equal(labelOverlap(answer, labels(['pet', 0.7], ['DOG', 0.9])), 1);
    assert.equal(labelOverlap(answer, labels(['Cat', 0.9])), 0);
    assert.equal(labelOverlap(empty, empty), 1);
    assert.equal(labelOverlap(answer, undefined), 0);
    assert.equal(labelOverlap(answer, empty), 0);
  });

  test('weighted Jaccard: sum of min scores over sum of max scores', () => {
    // Dog: min .6 max .9; Pet: missing in answer (0 / .5); Cat invented (0 / .2).
    const value = labelOverlap(labels(['Dog', 0.9], ['Pet', 0.5]), labels(['Dog', 0.6], ['Cat', 0.2]));
    assert.ok(Math.abs(value - 0.6 / (0.9 + 0.5 + 0.2)) < 1e-12);
  });

  test('missing a confident label costs more than missing a doubtful one', () => {
    const reference = labels(['Dog', 0.95], ['Grass', 0.3]);
    assert.ok(labelOverlap(reference, labels(['Dog', 0.95])) > labelOverlap(reference, labels(['Grass', 0.3])));
  });
});

describe('face recall', () => {
  test('matches at IoU >= 0.5, greedily, each face once', () => {
    const reference = faces(face(0, 0, 100, 100), face(200, 0, 100, 100));
    assert.equal(faceRecall(reference, faces(face(5, 5, 100, 100), face(200, 0, 100, 100))), 1);
    assert.equal(faceRecall(reference, faces(face(5, 5, 100, 100))), 0.5);
    // One answer face cannot match two reference faces.
    const overlapping = faces(face(0, 0, 100, 100), face(10, 0, 100, 100));
    assert.equal(faceRecall(overlapping, faces(face(5, 0, 100, 100))), 0.5);
    // IoU 1/3 (half-shifted box) is below the threshold; a looser threshold accepts it.
    assert.equal(faceRecall(faces(face(0, 0, 100, 100)), faces(face(50, 0, 100, 100))), 0);
    assert.equal(faceRecall(faces(face(0, 0, 100, 100)), faces(face(50, 0, 100, 100)), 0.3), 1);
  });

  test('greedy takes the best pair first', () => {
    // Answer face X overlaps A strongly and B weakly; Y overlaps only B: both reference faces are found.
    const reference = faces(face(0, 0, 100, 100), face(30, 0, 100, 100));
    const answer = faces(face(2, 0, 100, 100), face(35, 0, 100, 100));
    assert.equal(faceRecall(reference, answer), 1);
  });

  test('no reference faces: 1 when the answer has none, 0 when it invents one; no answer 0', () => {
    assert.equal(faceRecall(empty, empty), 1);
    assert.equal(faceRecall(empty, faces(face(0, 0, 10, 10))), 0);
    assert.equal(faceRecall(faces(face(0, 0, 10, 10)), undefined), 0);
  });
});

describe('text similarity', () => {
  test('1 - normalised Levenshtein on whitespace-normalised text', () => {
    assert.equal(levenshtein('kitten', 'sitting'), 3);
    assert.equal(textSimilarity('STOP\nAHEAD', 'STOP  AHEAD '), 1);
    assert.equal(textSimilarity('abcd', 'abcf'), 0.75);
    assert.equal(textSimilarity('', ''), 1);
    assert.equal(textSimilarity(undefined, undefined), 1);
    assert.equal(textSimilarity('SPEED 30', undefined), 0);
    assert.equal(textSimilarity('Straße', 'Strasse'), 1 - 2 / 7);
  });
});

describe('word agreement', () => {
  test('F1 of the word multisets: misread, dropped and invented words each cost one', () => {
    const reference = 'Total due 42.50 EUR\nincluding VAT';
    assert.equal(wordAgreement(reference, reference), 1);
    // One word misread: 5 of 6 shared, F1 = 2 * 5 / 12.
    assert.equal(wordAgreement(reference, 'Total due 42.50 EUR\nincluding VAI'), 10 / 12);
    // One dropped: 5 shared of 6 and 5.
    assert.equal(wordAgreement(reference, 'Total due 42.50 EUR\nincluding'), 10 / 11);
    // One invented.
    assert.equal(wordAgreement(reference, `${reference} x`), 12 / 13);
    // A repeated word counts as often as it appears.
    assert.equal(wordAgreement('exit exit', 'exit'), 2 / 3);
  });

  test('order-free: lines read in another order agree fully (character similarity does not)', () => {
    const reference = 'Gate A\nGate B';
    const swapped = 'Gate B\nGate A';
    assert.equal(wordAgreement(reference, swapped), 1);
    assert.ok(textSimilarity(reference, swapped) < 1);
  });

  test('empty and missing texts; case and punctuation count', () => {
    assert.equal(wordAgreement('', ''), 1);
    assert.equal(wordAgreement(undefined, '  \n '), 1);
    assert.equal(wordAgreement('STOP', ''), 0);
    assert.equal(wordAgreement('', 'STOP'), 0);
    assert.equal(wordAgreement('Order 58213', '0rder 58213'), 0.5);
    assert.equal(wordAgreement('Exit.', 'Exit'), 0);
  });

  test('Chinese, Japanese and Korean characters are words of their own', () => {
    assert.deepEqual(textTokens('青島啤酒 TSINGTAO 2024'), ['青', '島', '啤', '酒', 'TSINGTAO', '2024']);
    assert.deepEqual(textTokens('カタカナとひらがな'), ['カ', 'タ', 'カ', 'ナ', 'と', 'ひ', 'ら', 'が', 'な']);
    // One character misread in a four-character sign costs a quarter of it, not the whole sign.
    assert.equal(wordAgreement('一番搾り', '一番摔り'), 0.75);
  });
});
