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
    ['--ensemble', '2', '--cv-repeats', '1', '--epochs', '3'],
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
