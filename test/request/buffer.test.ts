import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { buffer } from '../../src/request/buffer.ts';
import { route } from '../../src/request/route.ts';
import { runPath } from '../../src/request/steps.ts';
import { exchangeOf, testContext } from '../helpers/path-context.ts';

const faceppHead = (length?: number) => ({
  method: 'POST',
  url: '/facepp/v3/detect',
  headers: {
    'content-type': 'multipart/form-data; boundary=x',
    ...(length === undefined ? {} : { 'content-length': String(length) }),
  },
});

test('buffer: an image request is read whole and its work deadline starts', async () => {
  const { context } = testContext();
  const exchange = exchangeOf(faceppHead(), Readable.from([Buffer.from('abc'), Buffer.from('def')]));
  const before = performance.now();
  await runPath([route, buffer], exchange, context);
  assert.equal(exchange.body?.toString(), 'abcdef');
  assert.equal(exchange.bodyStream, undefined);
  assert.ok(exchange.workDeadline! >= before + context.imageDeadlineMs);
});

test('buffer: over the body limit is BODY_TOO_LARGE, a declared length before a byte is read', async () => {
  const { context } = testContext();
  let pulled = false;
  const stream = new Readable({
    read() {
      pulled = true;
      this.push(null);
    },
  });
  const declared = exchangeOf(faceppHead(9 * 1024 * 1024), stream);
  await runPath([route, buffer], declared, context);
  assert.equal(declared.error?.code, 'BODY_TOO_LARGE');
  assert.equal(pulled, false, 'no byte read before refusing');

  const undeclared = exchangeOf(faceppHead(), Readable.from([Buffer.alloc(9 * 1024 * 1024)]));
  await runPath([route, buffer], undeclared, context);
  assert.equal(undeclared.error?.code, 'BODY_TOO_LARGE');
});

test('buffer: a pass-through request keeps streaming', async () => {
  const { context } = testContext();
  const stream = Readable.from([Buffer.from('x')]);
  const exchange = exchangeOf({ method: 'POST', url: '/facepp/v3/faceset/create', headers: {} }, stream);
  await runPath([route, buffer], exchange, context);
  assert.equal(exchange.body, undefined);
  assert.equal(exchange.bodyStream, stream);
});
