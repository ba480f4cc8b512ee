import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { type FakeUpstream, startFakeUpstream } from '../../testkit/fake-upstream.ts';
import { syntheticJpeg } from '../../testkit/images.ts';
import { startTestProxy, type TestProxy } from '../helpers/proxy.ts';
import { headerOf, rawRequest } from '../helpers/raw-http.ts';
import { signedRekognitionHeaders } from '../helpers/sign.ts';

/**
 * The bad-input suite, routing tricks, signatures and headers (issue 11, items 1, 10, 11, 13): what a client can put in
 * a request line or header that HTTP libraries would not, sent over raw sockets.
 */

describe('bad input: routing tricks', () => {
  let upstream: FakeUpstream;
  let proxy: TestProxy;

  before(async () => {
    upstream = await startFakeUpstream(() => ({ body: '{"ok":true}' }));
    proxy = await startTestProxy(upstream.url);
  });
  after(async () => {
    await proxy.close();
    await upstream.close();
  });

  const dotSegments = [
    '/facepp/../secret/admin',
    '/facepp/%2e%2e/secret/admin',
    '/facepp/%2E%2e/secret',
    '/facepp/.%2e/secret',
    '/facepp/v3/./detect',
    '/rest/2.0/../../secret',
    '/oauth/2.0/token/..',
    '/facepp/..%2fsecret',
    '/facepp/..%5Csecret',
  ];
  for (const path of dotSegments) {
    test(`a path with dot-segments (${path}) is answered 404 and never reaches the upstream`, async () => {
      const before = upstream.received.length;
      const answer = await rawRequest(proxy.url, `GET ${path} HTTP/1.1\nHost: x\nConnection: close`);
      assert.equal(answer.status, 404);
      assert.match(answer.body.toString(), /no configured upstream API/);
      assert.equal(upstream.received.length, before, 'nothing forwarded');
    });
  }

  test('the path and query reach the upstream exactly as the client sent them (no normalisation)', async () => {
    const path = '/facepp/v3//faceset/{getdetail}?x=%41&y=a%20b&z=%2e';
    const answer = await rawRequest(proxy.url, `GET ${path} HTTP/1.1\nHost: x\nConnection: close`);
    assert.equal(answer.status, 200);
    assert.equal(upstream.last()!.url, path);
  });

  test('an absolute-form request target is no API path: 404, never a relay to the named host', async () => {
    const before = upstream.received.length;
    const answer = await rawRequest(
      proxy.url,
      'GET http://169.254.169.254/facepp/v3/detect HTTP/1.1\nHost: 169.254.169.254\nConnection: close',
    );
    assert.equal(answer.status, 404);
    assert.equal(upstream.received.length, before);
  });

  test('a Host header naming another server changes nothing: the configured upstream gets the call', async () => {
    const res = await request(`${proxy.url}/facepp/v3/faceset/getdetail`, {
      method: 'POST',
      headers: { host: 'evil.example', 'content-type': 'application/x-www-form-urlencoded' },
      body: 'api_key=k',
    });
    await res.body.text();
    assert.equal(res.statusCode, 200);
    assert.equal(upstream.last()!.headers.host, new URL(upstream.url).host);
  });
});

describe('bad input: signatures', () => {
  let upstream: FakeUpstream;
  let proxy: TestProxy;
  let allowing: TestProxy;
  let body: string;

  before(async () => {
    upstream = await startFakeUpstream(() => ({ body: '{"Labels":[]}' }));
    proxy = await startTestProxy(upstream.url);
    allowing = await startTestProxy(upstream.url, { unverifiedSignatures: 'allow' });
    const photo = await syntheticJpeg({ width: 320, height: 240, quality: 92 });
    body = JSON.stringify({ Image: { Bytes: photo.toString('base64') } });
  });
  after(async () => {
    await proxy.close();
    await allowing.close();
    await upstream.close();
  });

  const send = (url: string, headers: Record<string, string>, payload: string) =>
    request(url, { method: 'POST', headers, body: payload }).then(async (res) => ({
      status: res.statusCode,
      type: String(res.headers['x-amzn-errortype'] ?? ''),
      body: await res.body.text(),
    }));

  test('UNSIGNED-PAYLOAD is refused where unverified requests are refused: 403, nothing forwarded', async () => {
    const before = upstream.received.length;
    const headers = await signedRekognitionHeaders(proxy.url, 'DetectLabels', body, { unsignedPayload: true });
    const answer = await send(proxy.url, headers, body);
    assert.equal(answer.status, 403);
    assert.equal(answer.type, 'InvalidSignatureException');
    assert.match(answer.body, /UNSIGNED-PAYLOAD/);
    assert.equal(upstream.received.length, before);
  });

  test('an UNSIGNED-PAYLOAD head replayed with another body is refused too (it would be re-signed)', async () => {
    const before = upstream.received.length;
    const headers = await signedRekognitionHeaders(proxy.url, 'DetectLabels', body, { unsignedPayload: true });
    const other = JSON.stringify({ Image: { S3Object: { Bucket: 'victim', Name: 'secret.jpg' } } });
    const answer = await send(proxy.url, { ...headers, 'content-length': String(other.length) }, other);
    assert.equal(answer.status, 403);
    assert.equal(upstream.received.length, before);
  });

  test('UNSIGNED-PAYLOAD passes where unverified requests are allowed (a trusted listener), re-signed', async () => {
    const headers = await signedRekognitionHeaders(allowing.url, 'DetectLabels', body, { unsignedPayload: true });
    const answer = await send(allowing.url, headers, body);
    assert.equal(answer.status, 200);
    const forwarded = upstream.last()!;
    assert.match(String(forwarded.headers.authorization), /Credential=AKIDPROXY\//);
    assert.notEqual(forwarded.headers['x-amz-content-sha256'], 'UNSIGNED-PAYLOAD');
  });

  test('a body-signed request with its body changed is refused: 403 InvalidSignatureException', async () => {
    const headers = await signedRekognitionHeaders(proxy.url, 'DetectLabels', body);
    const tampered = body.replace('"Image"', '"Image" ');
    const answer = await send(proxy.url, { ...headers, 'content-length': String(tampered.length) }, tampered);
    assert.equal(answer.status, 403);
    assert.equal(answer.type, 'InvalidSignatureException');
  });

  test('a signed x-amz-content-sha256 that is not the body hash is refused', async () => {
    const headers = await signedRekognitionHeaders(proxy.url, 'DetectLabels', body);
    const wrong = { ...headers, 'x-amz-content-sha256': '0'.repeat(64) };
    const answer = await send(proxy.url, wrong, body);
    assert.equal(answer.status, 403);
  });

  test('a correctly signed request still goes (the rules above refuse only what they must)', async () => {
    const headers = await signedRekognitionHeaders(proxy.url, 'DetectLabels', body);
    const answer = await send(proxy.url, headers, body);
    assert.equal(answer.status, 200);
  });
});

describe('bad input: headers', () => {
  let upstream: FakeUpstream;
  let proxy: TestProxy;
  let photo: Buffer;

  before(async () => {
    upstream = await startFakeUpstream(() => ({ body: '{"faces":[]}' }));
    proxy = await startTestProxy(upstream.url);
    photo = await syntheticJpeg({ width: 320, height: 240, quality: 92 });
  });
  after(async () => {
    await proxy.close();
    await upstream.close();
  });

  /** A multipart Face++ detect body around `photo`. */
  const faceppBody = () =>
    Buffer.concat([
      Buffer.from(
        '--b\r\nContent-Disposition: form-data; name="api_key"\r\n\r\nk\r\n--b\r\nContent-Disposition: form-data; name="image_file"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n',
      ),
      photo,
      Buffer.from('\r\n--b--\r\n'),
    ]);

  for (const route of ['/facepp/v3/detect', '/facepp/v3/faceset/create']) {
    test(`Expect: 100-continue on ${route}: the client gets 100 then the answer; the upstream never sees Expect`, async () => {
      const body = faceppBody();
      const answer = await rawRequest(
        proxy.url,
        `POST ${route} HTTP/1.1\nHost: x\nContent-Type: multipart/form-data; boundary=b\nContent-Length: ${body.length}\nExpect: 100-continue\nConnection: close`,
        {
          // As curl does: the body only after the 100.
          write: async (socket) => {
            await new Promise<void>((resolve) => socket.once('data', () => resolve()));
            socket.write(body);
          },
        },
      );
      assert.deepEqual(answer.informational, [100]);
      assert.equal(answer.status, 200, answer.body.toString());
      assert.equal(upstream.last()!.headers.expect, undefined);
    });
  }

  test('two upstream Set-Cookie headers reach the client as two headers', async () => {
    upstream.setResponder(() => ({
      headers: { 'set-cookie': ['a=1; Path=/', 'b=2; Expires=Wed, 21 Oct 2026 07:28:00 GMT'] },
      body: '{}',
    }));
    try {
      for (const [method, path] of [
        ['GET', '/facepp/v3/faceset/getfacesets'],
        ['POST', '/facepp/v3/detect'],
      ] as const) {
        const body = method === 'POST' ? faceppBody() : Buffer.alloc(0);
        const answer = await rawRequest(
          proxy.url,
          `${method} ${path} HTTP/1.1\nHost: x\nContent-Type: multipart/form-data; boundary=b\nContent-Length: ${body.length}\nConnection: close`,
          { body },
        );
        assert.equal(answer.status, 200);
        assert.deepEqual(
          answer.headers.filter(([name]) => name === 'set-cookie').map(([, value]) => value),
          ['a=1; Path=/', 'b=2; Expires=Wed, 21 Oct 2026 07:28:00 GMT'],
          path,
        );
      }
    } finally {
      upstream.setResponder(() => ({ body: '{"faces":[]}' }));
    }
  });

  test('hop-by-hop request headers (and those Connection names) never reach the upstream', async () => {
    const answer = await rawRequest(
      proxy.url,
      'GET /facepp/v3/faceset/getfacesets HTTP/1.1\nHost: x\nConnection: close, x-secret-hop\nX-Secret-Hop: 1\nKeep-Alive: timeout=5\nTE: trailers\nProxy-Authorization: Basic abc\nX-Kept: yes',
    );
    assert.equal(answer.status, 200);
    const seen = upstream.last()!.headers;
    assert.equal(seen['x-kept'], 'yes');
    for (const name of ['x-secret-hop', 'keep-alive', 'te', 'proxy-authorization'])
      assert.equal(seen[name], undefined, name);
    assert.equal(headerOf(answer, 'x-adacompress'), 'passthrough;reason=no-image-operation');
  });
});
