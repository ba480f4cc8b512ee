import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { Provider } from '../../src/providers/types.ts';
import { buffer } from '../../src/request/buffer.ts';
import { extract } from '../../src/request/extract.ts';
import { forward } from '../../src/request/forward.ts';
import { mapAnswer } from '../../src/request/map-answer.ts';
import { readAnswer } from '../../src/request/read-answer.ts';
import { respond } from '../../src/request/respond.ts';
import { route } from '../../src/request/route.ts';
import { shrink } from '../../src/request/shrink.ts';
import { sign } from '../../src/request/sign.ts';
import { type ClientReply, runPath } from '../../src/request/steps.ts';
import { type FakeAnswer, type FakeUpstream, startFakeUpstream } from '../../testkit/fake-upstream.ts';
import { syntheticJpeg } from '../../testkit/images.ts';
import { exchangeOf, testContext } from '../helpers/path-context.ts';
import { resizingPolicy } from '../helpers/resize-policy.ts';

let upstream: FakeUpstream;
let answer: FakeAnswer = { body: '{}' };
let photo: Buffer;
before(async () => {
  upstream = await startFakeUpstream(() => answer);
  photo = await syntheticJpeg({ width: 1001, height: 667 });
});
after(() => upstream.close());

const detect = (rect: { left: number; top: number; width: number; height: number }) =>
  JSON.stringify({ request_id: 'r', faces: [{ face_token: 't', face_rectangle: rect }], time_used: 5 });

/** What the client was sent. */
function capture() {
  const sent: { status?: number; headers?: Record<string, string | string[]>; body?: Buffer } = {};
  const reply: ClientReply = {
    sent: false,
    async send(status, headers, body) {
      sent.status = status;
      sent.headers = headers;
      if (Buffer.isBuffer(body)) sent.body = body;
      else if (typeof body === 'string') sent.body = Buffer.from(body);
      else {
        const chunks: Buffer[] = [];
        for await (const chunk of body as AsyncIterable<Buffer>) chunks.push(chunk);
        sent.body = Buffer.concat(chunks);
      }
    },
  };
  return { sent, reply };
}

/** A Face++ detect call through route -> ... -> respond, the policy sending at `maxSide` (undefined: no resize). */
async function call(
  maxSide: number | undefined,
  overrides: { maxResponseBytes?: number } = {},
  provider: Partial<Provider> = {},
) {
  const { sent, reply } = capture();
  const { context, logs } = testContext({
    ...(maxSide ? { policy: resizingPolicy(maxSide) } : {}),
    ...overrides,
    reply,
  });
  const [, facepp] = context.providers;
  context.providers = context.providers.map((p) =>
    p === facepp ? { ...p, upstreamOrigin: () => upstream.url, ...provider } : p,
  );
  const form = new FormData();
  form.set('api_key', 'k');
  form.set('image_file', new Blob([new Uint8Array(photo)]), 'a.jpg');
  const encoded = new Request('http://x/', { method: 'POST', body: form });
  const body = Buffer.from(await encoded.arrayBuffer());
  const headers = { 'content-type': encoded.headers.get('content-type')!, 'content-length': String(body.length) };
  const exchange = exchangeOf({ method: 'POST', url: '/facepp/v3/detect', headers }, Readable.from([body]));
  await runPath([route, buffer, extract, shrink, sign, forward, readAnswer, mapAnswer, respond], exchange, context);
  const warnings = logs.lines.filter((line) => line.level === 40);
  return { exchange, sent, warnings };
}

describe('map answer: the client gets coordinates in its own pixels, or the upstream bytes and a reason', () => {
  test('resized: the rewritten answer, identity-encoded, new Content-Length, other headers as sent', async () => {
    const upstreamBody = Buffer.from(detect({ left: 32, top: 21, width: 96, height: 64 }));
    answer = {
      headers: { 'content-encoding': 'gzip', 'x-upstream': 'kept', 'content-type': 'application/json; charset=utf-8' },
      body: gzipSync(upstreamBody),
    };
    const { exchange, sent, warnings } = await call(320);
    const outcome = exchange.slots[0]!.outcome;
    assert.equal(outcome?.kind, 'encoded');
    assert.deepEqual(outcome?.kind === 'encoded' && [outcome.width, outcome.height], [320, 213]);
    // x by 1001/320, y by 667/213.
    const expected = detect({ left: 100, top: 66, width: 300, height: 200 });
    assert.equal(sent.status, 200);
    assert.equal(sent.body?.toString(), expected);
    assert.equal(sent.headers?.['content-length'], String(Buffer.byteLength(expected)));
    assert.equal(sent.headers?.['content-encoding'], undefined);
    assert.equal(sent.headers?.['x-upstream'], 'kept');
    assert.equal(sent.headers?.['content-type'], 'application/json; charset=utf-8');
    assert.deepEqual(warnings, []);
    assert.ok(exchange.decoded?.body.equals(upstreamBody), 'the decoded upstream answer is kept for the log');
  });

  test('not resized: the step does not run, the upstream bytes go as sent', async () => {
    const body = gzipSync(detect({ left: 32, top: 21, width: 96, height: 64 }));
    answer = { headers: { 'content-encoding': 'gzip' }, body };
    const { sent } = await call(undefined);
    assert.ok(sent.body?.equals(body));
    assert.equal(sent.headers?.['content-encoding'], 'gzip');
  });

  test('an answer that is not JSON: the upstream bytes go as sent, the log says why without quoting it', async () => {
    answer = { body: '{"faces": [{"face_rectangle": {"left": 32' };
    const { sent, warnings } = await call(320);
    assert.equal(sent.body?.toString(), '{"faces": [{"face_rectangle": {"left": 32');
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]!.reason, 'answer is not JSON');
    assert.equal(warnings[0]!.provider, 'facepp');
    assert.doesNotMatch(JSON.stringify(warnings[0]), /face_rectangle/);
  });

  test('an answer too large to read: it streams on as sent, the log says why', async () => {
    const big = detect({ left: 32, top: 21, width: 96, height: 64 }) + ' '.repeat(4096);
    answer = { body: big };
    const { sent, warnings } = await call(320, { maxResponseBytes: 1024 });
    assert.equal(sent.body?.toString(), big);
    assert.equal(warnings[0]?.reason, 'answer larger than --max-response-bytes');
  });

  test('a failure inside the mapping (a bug) never fails the call: upstream bytes, logged with its cause', async () => {
    const body = detect({ left: 32, top: 21, width: 96, height: 64 });
    answer = { body };
    const mapAnswer = () => {
      throw new TypeError('boom');
    };
    const { sent, warnings } = await call(320, {}, { mapAnswer });
    assert.equal(sent.status, 200);
    assert.equal(sent.body?.toString(), body);
    assert.equal(warnings[0]?.reason, 'answer mapping failed');
    assert.match(String((warnings[0]?.err as { message?: string } | undefined)?.message), /boom/);
  });

  test('an error answer carries no coordinates: sent as it came, nothing logged', async () => {
    const error = '{"time_used":3,"error_message":"INVALID_IMAGE_SIZE: image_file","request_id":"r"}';
    answer = { status: 400, body: error };
    const { sent, warnings } = await call(320);
    assert.equal(sent.status, 400);
    assert.equal(sent.body?.toString(), error);
    assert.deepEqual(warnings, []);
  });
});
