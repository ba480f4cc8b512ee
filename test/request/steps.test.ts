import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProxyError } from '../../src/providers/types.ts';
import { createExchange } from '../../src/request/exchange.ts';
import { NoRouteError, runPath, type Step } from '../../src/request/steps.ts';
import { exchangeOf, testContext } from '../helpers/path-context.ts';

const head = { method: 'POST', url: '/', headers: {} };
const recorder = () => {
  const ran: string[] = [];
  const step = (name: string, extra: Partial<Step> = {}): Step => ({ name, run: () => void ran.push(name), ...extra });
  return { ran, step };
};

test('steps run in order, each only when its condition holds', async () => {
  const { ran, step } = recorder();
  await runPath([step('a'), step('b', { when: () => false }), step('c')], exchangeOf(head), testContext().context);
  assert.deepEqual(ran, ['a', 'c']);
});

test('after a failure only the `always` steps run, and a ProxyError is kept for the answer', async () => {
  const { ran, step } = recorder();
  const exchange = exchangeOf(head);
  const failing = step('fail', {
    run: () => {
      throw new ProxyError('UPSTREAM_TIMEOUT', 504, 'slow');
    },
  });
  await runPath([failing, step('next'), step('respond', { always: true })], exchange, testContext().context);
  assert.deepEqual(ran, ['respond']);
  assert.equal(exchange.error?.code, 'UPSTREAM_TIMEOUT');
});

test('an unexpected failure becomes INTERNAL (never blamed on the upstream) and is logged with its step', async () => {
  const { context, logs } = testContext();
  const exchange = exchangeOf(head);
  const broken: Step = {
    name: 'broken',
    run: () => {
      throw new TypeError('bug');
    },
  };
  await runPath([broken], exchange, context);
  assert.equal(exchange.error?.code, 'INTERNAL');
  assert.ok(logs.lines.some((l) => l.step === 'broken' && l.msg === 'request step failed'));
});

test('no route is not an error of the API: it is marked for a 404', async () => {
  const exchange = exchangeOf(head);
  const noRoute: Step = {
    name: 'route',
    run: () => {
      throw new NoRouteError('none');
    },
  };
  await runPath([noRoute], exchange, testContext().context);
  assert.equal(exchange.noRoute, true);
  assert.equal(exchange.error, undefined);
});

test('past the work deadline, improvement steps are skipped and the original goes', async () => {
  const { ran, step } = recorder();
  const exchange = exchangeOf(head);
  exchange.workDeadline = performance.now() - 1;
  await runPath([step('shrink', { improves: true }), step('forward')], exchange, testContext().context);
  assert.deepEqual(ran, ['forward']);
  assert.equal(exchange.originalReason, 'deadline');
});

test('once a step decided the original goes, later improvement steps do not run', async () => {
  const { ran, step } = recorder();
  const exchange = exchangeOf(head);
  const decide = step('extract', {
    improves: true,
    run: () => {
      exchange.originalReason = 'overload';
    },
  });
  await runPath([decide, step('shrink', { improves: true }), step('forward')], exchange, testContext().context);
  assert.deepEqual(ran, ['forward']);
});

test('an improvement step that throws fails open: the original goes, with the step named as the reason', async () => {
  const { ran, step } = recorder();
  const { context, logs } = testContext();
  const exchange = exchangeOf(head);
  const broken = step('rebuild', {
    improves: true,
    run: () => {
      throw new RangeError('Maximum call stack size exceeded');
    },
  });
  await runPath([broken, step('sign'), step('forward')], exchange, context);
  assert.deepEqual(ran, ['sign', 'forward']);
  assert.equal(exchange.error, undefined);
  assert.equal(exchange.originalReason, 'rebuild-failed');
  assert.ok(logs.lines.some((l) => l.step === 'rebuild' && l.msg === 'step failed; original goes'));
});

test("once the exchange's signal aborts only `always` steps run; a ProxyError reason is the client's answer", async () => {
  const { ran, step } = recorder();
  const stop = new AbortController();
  const exchange = createExchange(head, stop.signal);
  const stopping = step('buffer', { run: () => stop.abort(new ProxyError('CLIENT_TIMEOUT', 408, 'stalled')) });
  await runPath([stopping, step('forward'), step('respond', { always: true })], exchange, testContext().context);
  assert.deepEqual(ran, ['respond']);
  assert.equal(exchange.error?.code, 'CLIENT_TIMEOUT');

  const gone = new AbortController();
  const left = createExchange(head, gone.signal);
  gone.abort(new Error('the client went away'));
  const after = recorder();
  await runPath([after.step('forward'), after.step('respond', { always: true })], left, testContext().context);
  assert.deepEqual(after.ran, ['respond']);
  assert.equal(left.error, undefined, 'a client that left is owed no error');
});
