import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ListCollectionsCommand, RekognitionClient } from '@aws-sdk/client-rekognition';
import { request } from 'undici';
import { type FakeUpstream, startFakeUpstream } from '../../testkit/fake-upstream.ts';
import { CLIENT_CREDENTIALS, startTestProxy, type TestProxy } from '../helpers/proxy.ts';

/** A Rekognition call through the proxy fails with this AWS error name and HTTP status, as the SDK reports it. */
async function expectAwsError(endpoint: string, name: string, status: number) {
  const client = new RekognitionClient({
    endpoint,
    region: 'us-east-1',
    credentials: CLIENT_CREDENTIALS,
    maxAttempts: 1,
  });
  try {
    await assert.rejects(
      client.send(new ListCollectionsCommand({})),
      (error: Error & { $metadata?: { httpStatusCode?: number } }) => {
        assert.equal(error.name, name);
        assert.equal(error.$metadata?.httpStatusCode, status);
        return true;
      },
    );
  } finally {
    client.destroy();
  }
}

describe('pass-through and upstream failures', () => {
  let upstream: FakeUpstream;
  let proxy: TestProxy;

  before(async () => {
    upstream = await startFakeUpstream(() => ({ body: '{"CollectionIds":["a","b"]}' }));
    proxy = await startTestProxy(upstream.url, { upstreamTimeoutMs: 400 });
  });
  after(async () => {
    await proxy.close();
    await upstream.close();
  });

  test('a Rekognition operation without an image reaches the upstream byte-identical and re-signed', async () => {
    const client = new RekognitionClient({ endpoint: proxy.url, region: 'us-east-1', credentials: CLIENT_CREDENTIALS });
    const result = await client.send(new ListCollectionsCommand({ MaxResults: 7 }));
    client.destroy();
    assert.deepEqual(result.CollectionIds, ['a', 'b']);
    assert.equal(upstream.last()!.body.toString(), '{"MaxResults":7}');
    assert.match(String(upstream.last()!.headers.authorization), /Credential=AKIDPROXY\//);
  });

  test('a Baidu token request passes through untouched, query included', async () => {
    const path = '/oauth/2.0/token?grant_type=client_credentials&client_id=AK&client_secret=SK';
    const res = await request(proxy.url + path, { method: 'POST', headers: { 'x-custom': 'kept' }, body: '' });
    await res.body.text();
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['x-adacompress'], 'passthrough;reason=no-image-operation');
    assert.equal(upstream.last()!.url, path);
    assert.equal(upstream.last()!.headers['x-custom'], 'kept');
  });

  test('a non-image Face++ request streams through byte-identical, and the upstream error reaches the client', async () => {
    upstream.setResponder(() => ({ status: 401, body: '{"error_message":"AUTHENTICATION_ERROR"}' }));
    try {
      const body = 'api_key=k&api_secret=s&face_token=abc%20def';
      const res = await request(`${proxy.url}/facepp/v3/face/getdetail`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body,
      });
      assert.equal(res.statusCode, 401);
      assert.equal(await res.body.text(), '{"error_message":"AUTHENTICATION_ERROR"}');
      assert.equal(upstream.last()!.body.toString(), body);
    } finally {
      upstream.setResponder(() => ({ body: '{}' }));
    }
  });

  test('a request no configured API matches is refused, never relayed to its Host', async () => {
    const before = upstream.received.length;
    const res = await request(`${proxy.url}/somewhere/else`, { headers: { host: 'evil.example' } });
    assert.equal(res.statusCode, 404);
    await res.body.text();
    assert.equal(upstream.received.length, before);
  });

  test('an upstream that does not answer in time gives 504 in the API error shape', async () => {
    upstream.setResponder(() => new Promise((resolve) => setTimeout(() => resolve({ body: '{}' }), 1500)));
    try {
      await expectAwsError(proxy.url, 'RequestTimeoutException', 504);
    } finally {
      upstream.setResponder(() => ({ body: '{}' }));
    }
  });

  test('an unreachable upstream gives 502 in each API error shape', async () => {
    const dead = await startFakeUpstream();
    const deadUrl = dead.url;
    await dead.close();
    const lonely = await startTestProxy(deadUrl);
    try {
      await expectAwsError(lonely.url, 'ServiceUnavailableException', 502);
      const facepp = await request(`${lonely.url}/facepp/v3/detect`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'api_key=k&api_secret=s&image_url=http%3A%2F%2Fx',
      });
      assert.equal(facepp.statusCode, 502);
      assert.ok('error_message' in ((await facepp.body.json()) as object));
      const baidu = await request(`${lonely.url}/rest/2.0/image-classify/v2/advanced_general?access_token=T`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'url=http%3A%2F%2Fx',
      });
      assert.equal(baidu.statusCode, 502);
      assert.ok('error_code' in ((await baidu.body.json()) as object));
    } finally {
      await lonely.close();
    }
  });
});
