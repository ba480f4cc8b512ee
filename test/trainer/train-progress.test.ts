import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadOptions } from '../../src/config/options.ts';
import type { Progress } from '../../src/progress.ts';
import { trainFromDataset } from '../../src/trainer/train.ts';
import { trainOptions } from '../../src/trainer/train-config.ts';
import { gridDataset, gridRows } from './synthetic.ts';

test('train reports progress: one tick per network fitted, against the total it announced first', () => {
  const { help: _, ...config } = loadOptions(
    trainOptions,
    ['--ensemble', '2', '--cv-repeats', '1', '--epochs', '3', '--architecture', 'per-action'],
    {},
  );
  const dataset = gridDataset(gridRows(60, 7, (i) => (i % 5 === 4 ? 'validation' : 'train')));
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

test('--architecture auto cross-validates every family, trains the best, and says which and why', () => {
  const { help: _, ...config } = loadOptions(
    trainOptions,
    ['--ensemble', '2', '--cv-repeats', '1', '--epochs', '40', '--hidden', '8', '--accuracy-target', '0.95'],
    {},
  );
  const dataset = gridDataset(gridRows(120, 9, (i) => (i % 5 === 4 ? 'validation' : 'train')));
  let announced = 0;
  let ticks = 0;
  const result = trainFromDataset(dataset, config, (networks): Progress => {
    announced = networks;
    return { tick: () => void ticks++, done: () => {} };
  });
  // CV: column means 5 x 1, per-action 5 x 2, action-input 5 x 2; then at most 2 nets.
  assert.equal(announced, 5 + 10 + 10 + 2);
  assert.equal(ticks, announced);
  assert.deepEqual(
    result.architectureTrials?.map((t) => t.architecture),
    ['column-means', 'per-action', 'action-input'],
  );
  // The synthetic world has a per-image signal (feature 0) that the column means cannot see: a network wins.
  assert.notEqual(result.architecture, 'column-means');
  const chosen = result.architectureTrials!.find((t) => t.architecture === result.architecture)!;
  for (const t of result.architectureTrials!) {
    if (t.met === chosen.met && chosen.met) assert.ok(chosen.threshold.sizeRatio <= t.threshold.sizeRatio);
  }
});
