import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadOptions } from '../../src/config/options.ts';
import { FEATURE_VERSION, featureNames } from '../../src/policy/features.ts';
import { seededRng } from '../../src/policy/rng.ts';
import type { Progress } from '../../src/progress.ts';
import type { Dataset, ImageRow } from '../../src/trainer/dataset.ts';
import { trainFromDataset } from '../../src/trainer/train.ts';
import { trainOptions } from '../../src/trainer/train-config.ts';

const QUALITIES = [5, 15, 25, 35, 45, 55, 65, 75, 85, 95];

function rows(count: number): ImageRow[] {
  const rng = seededRng(7);
  return Array.from({ length: count }, (_, i) => {
    const features = Array.from({ length: featureNames.length }, () => rng() * 2 - 1);
    const safe = features[0]! > 0 ? 45 : 5;
    const ratio = QUALITIES.map((q) => q / 75);
    return {
      image: `img${i}`,
      split: i % 5 === 4 ? 'validation' : 'train',
      features,
      featureVersion: FEATURE_VERSION,
      qualities: QUALITIES,
      accuracy: QUALITIES.map((q) => (q >= safe ? 1 : 0)),
      overlap: QUALITIES.map((q) => (q >= safe ? 1 : 0)),
      bytes: ratio.map((r) => Math.round(r * 30000)),
      ratio,
      referenceBytes: 30000,
    };
  });
}

test('train reports progress: one tick per network fitted, against the total it announced first', () => {
  const { help: _, ...config } = loadOptions(
    trainOptions,
    ['--ensemble', '2', '--cv-repeats', '1', '--epochs', '3'],
    {},
  );
  const dataset: Dataset = { key: 'rekognition/DetectLabels', kind: 'labels', rows: rows(60), dropped: 0 };
  let announced = 0;
  let ticks = 0;
  let done = 0;
  trainFromDataset(dataset, config, (networks): Progress => {
    announced = networks;
    return { tick: () => void ticks++, done: () => void done++ };
  });
  // 1 repeat x 5 folds x 2 nets for the cross-validation, then the 2 nets of the policy itself.
  assert.equal(announced, 12);
  assert.equal(ticks, 12);
  assert.equal(done, 1);
});
