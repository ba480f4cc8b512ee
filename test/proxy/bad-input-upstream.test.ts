import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { errors, request } from 'undici';
import { toProxyError } from '../../src/request/upstream.ts';
import { syntheticJpeg } from '../../testkit/images.ts';
import { startTestProxy, type TestProxy } from '../helpers/proxy.ts';

/**
 * The bad-input suite, upstream faults (issue 11, item 1's second half, and 16): whatever the upstream does, the client
 * gets its answer as sent or the proxy's error in the API's shape, and the error says what really happened.
 */

type Behaviour = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void;

/** An upstream whose behaviour each test sets; it reads each request body whole first, as a real API does. */
async function startUpstream() {
  let behaviour: Behaviour = (_req, res) => res.end('{}');
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => behaviour(req, res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    set(next: Behaviour) {
      behaviour = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('bad input: upstream faults', () => {
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let proxy: TestProxy;
  let refused: TestProxy;
  let rekognitionBody: string;
  let faceppBody: string;
  let baiduBody: string;

  before(async () => {
    upstream = await startUpstream();
    proxy = await startTestProxy(upstream.url, {
      unverifiedSignatures: 'allow',
      upstreamTimeoutMs: 300,
      maxResponseBytes: 64 * 1024,
    });
    // Nothing listens on port 9 of loopback (discard): every connection is refused.
    refused = await startTestProxy('http://127.0.0.1:9', { unverifiedSignatures: 'allow' });
    const photo = (await syntheticJpeg({ width: 320, height: 240, quality: 92 })).toString('base64');
    rekognitionBody = JSON.stringify({ Image: { Bytes: photo } });
    faceppBody = `api_key=k&api_secret=s&image_base64=${encodeURIComponent(photo)}`;
    baiduBody = `image=${encodeURIComponent(photo)}`;
  });
  after(async () => {
    await proxy.close();
    await refused.close();
    await upstream.close();
  });

  const calls = {
    rekognition: (url: string) =>
      request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'RekognitionService.DetectLabels' },
        body: rekognitionBody,
      }),
    facepp: (url: string) =>
      request(`${url}/facepp/v3/detect`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: faceppBody,
      }),
    baidu: (url: string) =>
      request(`${url}/rest/2.0/image-classify/v2/advanced_general?access_token=t`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: baiduBody,
      }),
  };
  const answer = async (res: Awaited<ReturnType<typeof request>>) => ({
    status: res.statusCode,
    header: String(res.headers['x-adacompress'] ?? ''),
    headers: res.headers,
    body: await res.body.text(),
  });

  const shapes: Record<keyof typeof calls, (body: string, headers: Record<string, unknown>) => void> = {
    rekognition: (body, headers) => {
      assert.equal(headers['x-amzn-errortype'], 'ServiceUnavailableException');
      assert.equal(JSON.parse(body).__type, 'ServiceUnavailableException');
    },
    facepp: (body) => assert.equal(JSON.parse(body).error_message, 'INTERNAL_ERROR'),
    baidu: (body) => assert.equal(JSON.parse(body).error_code, 282000),
  };

  for (const api of Object.keys(calls) as (keyof typeof calls)[]) {
    test(`${api}: a refused connection is 502 upstream_unreachable in the API's error shape`, async () => {
      const got = await answer(await calls[api](refused.url));
      assert.equal(got.status, 502);
      assert.equal(got.header, 'error;reason=upstream_unreachable');
      shapes[api](got.body, got.headers);
    });

    test(`${api}: an upstream that drops the connection is upstream_failed, never "unreachable"`, async () => {
      upstream.set((req) => req.socket.destroy());
      const got = await answer(await calls[api](proxy.url));
      assert.equal(got.status, 502);
      assert.equal(got.header, 'error;reason=upstream_failed');
      shapes[api](got.body, got.headers);
    });
  }

  test('the service log names the cause of a proxy error', async () => {
    upstream.set((req) => req.socket.destroy());
    await answer(await calls.facepp(proxy.url));
    const line = proxy.logs.lines.findLast((l) => l.msg === 'proxy error');
    assert.equal(line?.code, 'UPSTREAM_FAILED');
    assert.match(String(line?.cause), /UND_ERR_SOCKET|other side closed|ECONNRESET/);
  });

  test('an answer cut short of its Content-Length is upstream_failed for an image request', async () => {
    upstream.set((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"faces":[');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const got = await answer(await calls.facepp(proxy.url));
    assert.equal(got.status, 502);
    assert.equal(got.header, 'error;reason=upstream_failed');
  });

  test('an upstream that never answers is 504 upstream_timeout', async () => {
    upstream.set(() => {});
    const got = await answer(await calls.baidu(proxy.url));
    assert.equal(got.status, 504);
    assert.equal(got.header, 'error;reason=upstream_timeout');
  });

  test('an upstream error status passes through as sent, with the images still re-encoded', async () => {
    upstream.set((_req, res) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end('{"error_message":"INTERNAL_ERROR"}');
    });
    const got = await answer(await calls.facepp(proxy.url));
    assert.equal(got.status, 500);
    assert.equal(got.body, '{"error_message":"INTERNAL_ERROR"}');
    assert.match(got.header, /^q=\d+;saved=\d+%$/);
  });

  test('an answer that is not JSON reaches the client byte for byte', async () => {
    upstream.set((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('<html>\u0000not json');
    });
    const got = await answer(await calls.rekognition(proxy.url));
    assert.equal(got.status, 200);
    assert.equal(got.body, '<html>\u0000not json');
  });

  test('an answer over --max-response-bytes streams to the client whole and unread', async () => {
    const big = Buffer.alloc(300 * 1024, 'x');
    upstream.set((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(big);
    });
    const got = await answer(await calls.baidu(proxy.url));
    assert.equal(got.status, 200);
    assert.equal(got.body.length, big.length);
  });

  test('hop-by-hop answer headers stay between the upstream and the proxy', async () => {
    upstream.set((_req, res) => {
      res.writeHead(200, {
        'content-type': 'application/json',
        connection: 'keep-alive, x-hop',
        'x-hop': 'secret',
        'keep-alive': 'timeout=99',
        'proxy-authenticate': 'Basic',
        'x-end-to-end': 'kept',
      });
      res.end('{}');
    });
    const got = await answer(await calls.facepp(proxy.url));
    assert.equal(got.headers['x-end-to-end'], 'kept');
    assert.equal(got.headers['x-hop'], undefined);
    assert.equal(got.headers['proxy-authenticate'], undefined);
    assert.notEqual(got.headers['keep-alive'], 'timeout=99');
  });

  test('errors the proxy causes itself are INTERNAL with their cause, never blamed on the upstream', () => {
    const own = toProxyError(new errors.NotSupportedError('expect header not supported'));
    assert.equal(own.code, 'INTERNAL');
    assert.match(String((own.cause as Error).message), /expect header/);
    const refusedError = toProxyError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    assert.equal(refusedError.code, 'UPSTREAM_UNREACHABLE');
    assert.equal(toProxyError(new errors.SocketError('other side closed')).code, 'UPSTREAM_FAILED');
    assert.equal(toProxyError(new errors.HeadersTimeoutError()).code, 'UPSTREAM_TIMEOUT');
  });
});
