import assert from 'node:assert/strict';
import { test } from 'node:test';
import { route } from '../../src/request/route.ts';
import { runPath } from '../../src/request/steps.ts';
import { exchangeOf, testContext } from '../helpers/path-context.ts';

test('route: the provider by request shape, and the image operation from the head', async () => {
  const { context } = testContext();
  const detect = exchangeOf({
    method: 'POST',
    url: '/facepp/v3/detect',
    headers: { 'content-type': 'multipart/form-data; boundary=x' },
  });
  await runPath([route], detect, context);
  assert.equal(detect.provider?.name, 'facepp');
  assert.equal(detect.operation?.name, 'facepp/v3/detect');
  assert.equal(detect.operation?.kind, 'faces');

  const token = exchangeOf({ method: 'POST', url: '/oauth/2.0/token?grant_type=client_credentials', headers: {} });
  await runPath([route], token, context);
  assert.equal(token.provider?.name, 'baidu');
  assert.equal(token.operation, undefined, 'no image operation: passes through');

  const stranger = exchangeOf({ method: 'GET', url: '/admin', headers: { host: 'evil.example' } });
  await runPath([route], stranger, context);
  assert.equal(stranger.noRoute, true);
  assert.equal(stranger.provider, undefined);
});
