import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Answer } from '../../src/answer.ts';
import { FEATURE_VERSION, featureNames } from '../../src/policy/features.ts';
import { COLLECT_SCHEMA_VERSION, type CollectedRecord } from '../../src/trainer/data.ts';
import { buildDataset } from '../../src/trainer/dataset.ts';

const text = (t: string): Answer => ({ labels: [], faces: [], text: t });
const labels = (name: string): Answer => ({ labels: [{ name, score: 0.9 }], faces: [] });

/** One image collected at q35 and q75 (stored size), with the client's file as it is beside them. */
function record(key: string, answers: { q35: Answer; q75: Answer; original: Answer }): CollectedRecord {
  const sent = (quality: number, bytes: number, answer: Answer) => ({
    action: { quality },
    width: 800,
    height: 600,
    bytes,
    status: 200,
    answer,
  });
  return {
    v: COLLECT_SCHEMA_VERSION,
    key,
    image: 'sign.jpg',
    split: 'train',
    original: { bytes: 90_000, width: 800, height: 600, format: 'jpeg', sourceQuality: 95 },
    features: { version: FEATURE_VERSION, values: featureNames.map(() => 0) },
    grid: [{ quality: 35 }, { quality: 75 }],
    sentBy: [0, 1],
    sent: [sent(35, 20_000, answers.q35), sent(75, 40_000, answers.q75)],
    asIs: { width: 800, height: 600, bytes: 90_000, status: 200, answer: answers.original },
  };
}

test("text keys are judged against the client's original by default, as the proxy judges them online", () => {
  // The q75 answer already lost a word: against it, q35 (which lost the same one) would look perfect.
  const answers = { q35: text('OPEN DAILY'), q75: text('OPEN DAILY'), original: text('OPEN DAILY 9-5') };
  const key = 'rekognition/DetectText';
  const byDefault = buildDataset(key, [record(key, answers)]);
  assert.equal(byDefault.reference, 'original');
  assert.equal(byDefault.rows[0]!.referenceBytes, 90_000);
  assert.ok(byDefault.rows[0]!.accuracy[0]! < 1, 'the lost word counts against q35');
  const againstQ75 = buildDataset(key, [record(key, answers)], 'q75');
  assert.equal(againstQ75.rows[0]!.accuracy[0], 1, 'asked for, q75 is the reference');
});

test("label keys are judged against the client's original by default, as the proxy judges them online", () => {
  // q75 already lost the label the client's own upload gets: against q75, q35 would look perfect.
  const answers = { q35: labels('dog'), q75: labels('dog'), original: labels('wolf') };
  const key = 'rekognition/DetectLabels';
  const dataset = buildDataset(key, [record(key, answers)]);
  assert.equal(dataset.reference, 'original');
  assert.deepEqual(dataset.rows[0]!.accuracy, [0, 0]);
  assert.equal(dataset.rows[0]!.referenceBytes, 90_000);
  const paper = buildDataset(key, [record(key, answers)], 'q75');
  assert.equal(paper.reference, 'q75');
  assert.deepEqual(paper.rows[0]!.accuracy, [1, 1], 'asked for, the paper reference: q75 itself');
  assert.equal(paper.rows[0]!.referenceBytes, 40_000);
});
