import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startFakeUpstream } from '../../testkit/fake-upstream.ts';
import { startTestRuntime } from '../helpers/runtime.ts';

test('out of the box every shipped policy loads and serves its own provider/operation', async () => {
  const upstream = await startFakeUpstream();
  const proxy = await startTestRuntime(upstream.url); // the default --policy-models
  try {
    const { models } = proxy.runtime.router.status();
    assert.ok(models.length >= 7, 'six trained models and the catch-all');
    for (const model of models) {
      assert.equal(model.lastError, undefined, `${model.key}: ${model.lastError?.message}`);
      assert.ok(model.modelId, `${model.key} has a model`);
      if (model.key === '*') continue;
      const slash = model.key.indexOf('/');
      const context = { provider: model.key.slice(0, slash), operation: model.key.slice(slash + 1) } as const;
      assert.equal(
        proxy.runtime.router.policyFor(context as Parameters<typeof proxy.runtime.router.policyFor>[0]).id,
        model.modelId,
        `${model.key} is decided by its own model`,
      );
    }
  } finally {
    await proxy.close();
    await upstream.close();
  }
});
