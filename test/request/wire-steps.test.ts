import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import type { Headers } from '../../src/providers/types.ts';
import { buffer } from '../../src/request/buffer.ts';
import type { Exchange } from '../../src/request/exchange.ts';
import { extract } from '../../src/request/extract.ts';
import { forward } from '../../src/request/forward.ts';
import { observe } from '../../src/request/observe.ts';
import { decodeBody, readAnswer } from '../../src/request/read-answer.ts';
import { record } from '../../src/request/record.ts';
import { respond } from '../../src/request/respond.ts';
import { route } from '../../src/request/route.ts';
import { shrink } from '../../src/request/shrink.ts';
import { sign } from '../../src/request/sign.ts';
import { type ClientReply, runPath } from '../../src/request/steps.ts';
import { type FakeUpstream, startFakeUpstream } from '../../testkit/fake-upstream.ts';
import { syntheticJpeg } from '../../testkit/images.ts';
import { exchangeOf, testContext } from '../helpers/path-context.ts';

let upstream: FakeUpstream;
let answer: { headers?: Record<string, string>; body: Buffer | string } = { body: '{}' };
before(async () => {
  upstream = await startFakeUpstream(() => answer);
});
after(() => upstream.close());

/** A Face++ detect exchange pointed at the fake upstream, buffered (the provider's origin is the fake). */
async function faceppExchange(photo: Buffer) {
  const { context, logs } = testContext();
  const [, facepp] = context.providers;
  const origin = upstream.url;
  context.providers = context.providers.map((p) => (p === facepp ? { ...p, upstreamOrigin: () => origin } : p));
  const form = new FormData();
  form.set('api_key', 'k');
  form.set('image_file', new Blob([new Uint8Array(photo)]), 'a.jpg');
  const encoded = new Request('http://x/', { method: 'POST', body: form });
  const body = Buffer.from(await encoded.arrayBuffer());
  const headers = { 'content-type': encoded.headers.get('content-type')!, 'content-length': String(body.length) };
  const exchange = exchangeOf({ method: 'POST', url: '/facepp/v3/detect', headers }, Readable.from([body]));
  await runPath([route, buffer, extract, shrink], exchange, context);
  return { exchange, context, logs };
}

test('sign: Content-Length final; the client bytes when nothing was rebuilt', async () => {
  const { exchange, context } = await faceppExchange(await syntheticJpeg());
  await runPath([sign], exchange, context);
  assert.equal(exchange.outgoing!.headers['content-length'], String(exchange.outgoing!.body.length));
  assert.ok(exchange.outgoing!.body.equals(exchange.body!), 'no rebuild ran: the client bytes');
});

test('forward + read answer: the answer is decoded whatever the content coding, per image', async () => {
  const detect = Buffer.from(JSON.stringify({ faces: [{ face_rectangle: { left: 1, top: 2, width: 3, height: 4 } }] }));
  for (const [coding, body] of [
    ['gzip', gzipSync(detect)],
    ['br', brotliCompressSync(detect)],
    ['deflate', deflateSync(detect)],
    ['', detect],
  ] as const) {
    answer = coding ? { headers: { 'content-encoding': coding }, body } : { body };
    const { exchange, context } = await faceppExchange(await syntheticJpeg());
    await runPath([sign, forward, readAnswer], exchange, context);
    assert.equal(exchange.response?.status, 200);
    assert.ok(exchange.response?.raw?.equals(body), `${coding}: the raw bytes are kept for the client`);
    assert.deepEqual(exchange.slots[0]!.answer?.faces, [{ box: { left: 1, top: 2, width: 3, height: 4 }, score: 1 }]);
  }
});

test('read answer: an answer over the response limit streams on unread, every byte kept', async () => {
  const big = Buffer.alloc(3 * 1024 * 1024, 'a');
  answer = { body: big };
  const { exchange, context } = await faceppExchange(await syntheticJpeg());
  await runPath([sign, forward, readAnswer], exchange, context);
  assert.equal(exchange.response?.raw, undefined);
  assert.equal(exchange.slots[0]!.answer, undefined);
  const chunks: Buffer[] = [];
  for await (const chunk of exchange.response!.body) chunks.push(chunk as Buffer);
  assert.ok(Buffer.concat(chunks).equals(big));
});

test('decodeBody: unknown or stacked codings give no answer; a decompression bomb stops at the limit', async () => {
  const h = (coding: string): Headers => ({ 'content-encoding': coding });
  assert.equal(await decodeBody(Buffer.from('x'), h('compress'), 1000), undefined);
  assert.equal(await decodeBody(gzipSync(gzipSync(gzipSync('x'))), h('gzip, gzip, gzip'), 1000), undefined);
  assert.equal((await decodeBody(gzipSync(gzipSync('ok')), h('gzip, gzip'), 1000))?.toString(), 'ok');
  assert.equal(await decodeBody(gzipSync(Buffer.alloc(10 * 1024 * 1024)), h('gzip'), 64 * 1024), undefined);
  assert.equal(await decodeBody(Buffer.from('not gzip'), h('gzip'), 1000), undefined);
});

test('respond: upstream answer as sent plus x-adacompress; proxy errors in the API shape; 404 for no route', async () => {
  answer = { headers: { 'x-upstream': 'yes' }, body: '{"faces":[]}' };
  const sent: { status: number; headers: Record<string, string | string[]>; body: unknown }[] = [];
  const reply: ClientReply = {
    sent: false,
    async send(status, headers, body) {
      sent.push({ status, headers, body });
    },
  };
  const { exchange, context } = await faceppExchange(await syntheticJpeg({ quality: 95 }));
  await runPath([sign, forward, readAnswer, respond], exchange, { ...context, reply });
  assert.equal(sent[0]!.status, 200);
  assert.equal(sent[0]!.headers['x-upstream'], 'yes');
  assert.match(String(sent[0]!.headers['x-adacompress']), /^q=30;saved=\d+%$/);
  assert.equal(String(sent[0]!.body), '{"faces":[]}');

  const timedOut = exchangeOf({ method: 'POST', url: '/facepp/v3/detect', headers: {} });
  await runPath([route, { name: 'fail', run: () => Promise.reject(new Error('x')) }, respond], timedOut, {
    ...context,
    reply,
  });
  assert.equal(sent[1]!.status, 502);
  assert.equal(sent[1]!.headers['x-adacompress'], 'error;reason=internal');
  assert.match(String(sent[1]!.body), /"error_message":"INTERNAL_ERROR"/);

  const stranger = exchangeOf({ method: 'GET', url: '/nothing', headers: {} });
  await runPath([route, respond], stranger, { ...context, reply });
  assert.equal(sent[2]!.status, 404);
});

test('observe: one log line and the metrics per request, images counted', async () => {
  answer = { body: '{"faces":[]}' };
  const photo = await syntheticJpeg({ quality: 95 });
  const { exchange, context, logs } = await faceppExchange(photo);
  await runPath([sign, forward, readAnswer, observe], exchange, context);
  const line = logs.lines.find((l) => l.msg === 'proxied')!;
  assert.equal(line.provider, 'facepp');
  assert.equal(line.reqId, exchange.id);
  assert.equal((line.images as { quality: number }[])[0]!.quality, 30);
  const metrics = await context.metrics.registry.metrics();
  assert.match(
    metrics,
    /adacompress_requests_total\{provider="facepp",operation="facepp\/v3\/detect",outcome="encoded"\} 1/,
  );
  assert.match(metrics, new RegExp(`adacompress_image_bytes_in_total\\{[^}]*\\} ${photo.length}`));
});

test('record: the finished exchange goes to the learning loop only when an image was decided', async () => {
  const recorded: Exchange[] = [];
  const loop = { plan: () => {}, record: (x: Exchange) => void recorded.push(x) };
  const { exchange, context } = await faceppExchange(await syntheticJpeg());
  await runPath([record], exchange, { ...context, loop });
  assert.equal(recorded.length, 1);
  const passthrough = exchangeOf({ method: 'GET', url: '/facepp/v3/faceset/getfacesets', headers: {} });
  await runPath([route, record], passthrough, { ...context, loop });
  assert.equal(recorded.length, 1);
});
