import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import type { Inference } from '../../src/emulator/inference.ts';
import { buildEmulator, type EmulatorApp } from '../../src/emulator/server.ts';
import { emptyInference, solid } from './helpers.ts';

/**
 * The emulator's HTTP surface without models (a stub inference): how it reads bodies, what its errors say, how it
 * closes. Real listening sockets and fetch, as clients reach it.
 */

const noFaces: Inference = emptyInference;

async function listening(app: EmulatorApp): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

/** A multipart body sent chunked (no Content-Length), as a streaming client sends it. */
function chunked(body: Uint8Array, chunk = 64 * 1024): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= body.length) return controller.close();
      controller.enqueue(body.subarray(offset, offset + chunk));
      offset += chunk;
    },
  });
}

async function faceppForm(image: Buffer, extra: Record<string, string> = {}) {
  const form = new FormData();
  form.set('api_key', 'emulator-key');
  form.set('api_secret', 'emulator-secret');
  for (const [name, value] of Object.entries(extra)) form.set(name, value);
  form.set('image_file', new Blob([new Uint8Array(image)], { type: 'image/jpeg' }), 'photo.jpg');
  const request = new Request('http://x/', { method: 'POST', body: form });
  return { body: new Uint8Array(await request.arrayBuffer()), type: request.headers.get('content-type')! };
}

describe('Face++ emulator bodies, read by @fastify/multipart', () => {
  it('answers a chunked multipart upload, and counts the bytes it streamed', async () => {
    const app = await buildEmulator({}, { inference: noFaces });
    const url = await listening(app);
    try {
      const { body, type } = await faceppForm(await solid(200, 150));
      const response = await fetch(`${url}/facepp/v3/detect`, {
        method: 'POST',
        headers: { 'content-type': type },
        body: chunked(body, 1000),
        duplex: 'half',
      } as RequestInit);
      assert.equal(response.status, 200, await response.clone().text());
      assert.equal(((await response.json()) as { face_num: number }).face_num, 0);
      assert.equal(app.emulator.stats.snapshot().facepp.requestBytes, body.length);
    } finally {
      await app.close();
    }
  });

  it('refuses a body over 2 MB with the plain-text 413, declared or chunked', async () => {
    const app = await buildEmulator({}, { inference: noFaces });
    const url = await listening(app);
    try {
      const { body, type } = await faceppForm(Buffer.concat([await solid(100, 100), Buffer.alloc(2_200_000)]));
      for (const streamed of [false, true]) {
        const response = await fetch(`${url}/facepp/v3/detect`, {
          method: 'POST',
          headers: { 'content-type': type },
          body: streamed ? chunked(body) : body,
          duplex: 'half',
        } as RequestInit);
        assert.equal(response.status, 413, `chunked: ${streamed}`);
        assert.equal(await response.text(), 'Request Entity Too Large');
      }
      assert.equal(app.emulator.stats.snapshot().facepp.errors, 2);
    } finally {
      await app.close();
    }
  });

  it('answers a broken multipart body with 400 BAD_ARGUMENTS in its JSON shape', async () => {
    const app = await buildEmulator({}, { inference: noFaces });
    const response = await app.inject({
      method: 'POST',
      url: '/facepp/v3/detect',
      headers: { 'content-type': 'multipart/form-data; boundary=xyz' },
      body: '--xyz\r\nContent-Disposition: form-data; name="api_key"\r\n\r\nemulator-key\r\n--xyz\r\nContent-Disp',
    });
    assert.equal(response.statusCode, 400);
    assert.equal(response.json().error_message, 'BAD_ARGUMENTS');
    assert.match(response.json().request_id, /^\d+,/);
    await app.close();
  });

  it('compare names every missing slot, and answers a face_token it cannot know', async () => {
    const app = await buildEmulator({}, { inference: noFaces });
    const { body, type } = await faceppForm(await solid(200, 150));
    const missing = await app.inject({
      method: 'POST',
      url: '/facepp/v3/compare',
      headers: { 'content-type': type },
      body: Buffer.from(body),
    });
    assert.equal(missing.statusCode, 400);
    assert.equal(
      missing.json().error_message,
      'MISSING_ARGUMENTS: face_token1, image_url1, image_file1, image_base64_1',
    );
    const token = await app.inject({
      method: 'POST',
      url: '/facepp/v3/compare',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'api_key=emulator-key&api_secret=emulator-secret&face_token1=abc&face_token2=def',
    });
    assert.equal(token.statusCode, 400);
    assert.equal(token.json().error_message, 'INVALID_FACE_TOKEN:abc');
    await app.close();
  });
});

describe('Baidu emulator token endpoint', () => {
  const query = 'grant_type=client_credentials&client_id=emulator-ak&client_secret=emulator-sk';

  it('issues a token for GET as for POST (the Python SDK uses GET), and the token works', async () => {
    const app = await buildEmulator({}, { inference: noFaces });
    for (const method of ['GET', 'POST'] as const) {
      const response = await app.inject({ method, url: `/oauth/2.0/token?${query}` });
      assert.equal(response.statusCode, 200, method);
      const token = response.json().access_token as string;
      const call = await app.inject({
        method: 'POST',
        url: `/rest/2.0/image-classify/v2/advanced_general?access_token=${encodeURIComponent(token)}`,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `image=${encodeURIComponent((await solid(100, 100)).toString('base64'))}`,
      });
      assert.equal(call.json().error_code, undefined, `${method} token accepted: ${call.body}`);
    }
    assert.equal(app.emulator.stats.snapshot().baidu.operations.token, 2);
    await app.close();
  });

  it('never repeats the client_secret: not in a 404, not in a token error', async () => {
    const app = await buildEmulator({}, { inference: noFaces });
    const secret = 'S3CRET-value-9876';
    const answers = [
      await app.inject({ method: 'PUT', url: `/oauth/2.0/token?client_id=emulator-ak&client_secret=${secret}` }),
      await app.inject({ method: 'GET', url: `/oauth/2.0/tokens?client_secret=${secret}` }),
      await app.inject({
        method: 'GET',
        url: `/oauth/2.0/token?grant_type=client_credentials&client_id=emulator-ak&client_secret=${secret}`,
      }),
    ];
    assert.deepEqual(
      answers.map((a) => a.statusCode),
      [404, 404, 401],
    );
    for (const answer of answers) assert.ok(!answer.body.includes(secret), answer.body);
    assert.match(answers[0]!.body, /no route PUT \/oauth\/2\.0\/token/);
    await app.close();
  });
});

describe('emulator shutdown', () => {
  it('closes at once after the call in flight is answered (no wait for idle keep-alive sockets)', async () => {
    const waiting: (() => void)[] = [];
    const held: Inference = {
      run: async (job) => {
        await new Promise<void>((resolve) => waiting.push(resolve));
        return emptyInference.run(job);
      },
      close: async () => {},
    };
    const app = await buildEmulator({}, { inference: held });
    const url = await listening(app);
    const { body, type } = await faceppForm(await solid(200, 150));
    const call = fetch(`${url}/facepp/v3/detect`, { method: 'POST', headers: { 'content-type': type }, body });
    while (waiting.length === 0) await new Promise((r) => setTimeout(r, 5));
    let closed = false;
    const closing = app.close().then(() => {
      closed = true;
    });
    // The call is answered only once closing has begun (the listener stops listening then).
    while (app.server.listening) await new Promise((r) => setTimeout(r, 5));
    for (const release of waiting.splice(0)) release();
    const response = await call;
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('connection'), 'close');
    await response.arrayBuffer();
    // Before the fix this took the client's keep-alive (about 70 s); a few seconds is a hang caught, not a benchmark.
    await Promise.race([closing, new Promise((r) => setTimeout(r, 10_000))]);
    assert.ok(closed, 'the emulator closed once its last answer was sent');
  });
});
