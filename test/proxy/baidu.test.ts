import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { type FakeUpstream, type RecordedRequest, startFakeUpstream } from '../../testkit/fake-upstream.ts';
import { syntheticJpeg } from '../../testkit/images.ts';
import { startTestProxy, type TestProxy } from '../helpers/proxy.ts';

const require = createRequire(import.meta.url);
const AipSdk = require('baidu-aip-sdk') as {
  imageClassify: new (
    appId: string,
    ak: string,
    sk: string,
  ) => { advancedGeneral(image: string, options?: object): Promise<Record<string, unknown>> };
  face: new (
    appId: string,
    ak: string,
    sk: string,
  ) => { detect(image: string, type: string, options?: object): Promise<Record<string, unknown>> };
  HttpClient: { setRequestInterceptor(fn: (options: { url: string }) => { url: string }): void };
};

function baiduResponder(request: RecordedRequest) {
  if (request.url.startsWith('/oauth/2.0/token')) {
    return { body: JSON.stringify({ access_token: 'T0KEN', expires_in: 2592000, scope: 'public brain_all_scope' }) };
  }
  if (request.url.includes('advanced_general')) {
    return {
      body: JSON.stringify({ log_id: 1, result_num: 1, result: [{ keyword: '狗', score: 0.9, root: '动物' }] }),
    };
  }
  if (request.url.includes('/face/v3/detect')) {
    return {
      body: JSON.stringify({
        error_code: 0,
        error_msg: 'SUCCESS',
        result: {
          face_num: 1,
          face_list: [
            {
              face_token: 'f',
              location: { left: 10, top: 20, width: 50, height: 60, rotation: 0 },
              face_probability: 1,
            },
          ],
        },
      }),
    };
  }
  return { body: '{"error_code":3,"error_msg":"Unsupported openapi method"}' };
}

describe('Baidu through the proxy with the real baidu-aip-sdk', () => {
  let upstream: FakeUpstream;
  let proxy: TestProxy;
  let photo: Buffer;

  before(async () => {
    upstream = await startFakeUpstream(baiduResponder);
    proxy = await startTestProxy(upstream.url);
    // The documented way to point the SDK elsewhere: its request interceptor rewrites every URL, the token one included.
    AipSdk.HttpClient.setRequestInterceptor((options) => ({
      ...options,
      url: options.url.replace('https://aip.baidubce.com', proxy.url),
    }));
    photo = await syntheticJpeg({ width: 500, height: 375 });
  });
  after(async () => {
    await proxy.close();
    await upstream.close();
  });

  test('advancedGeneral: the token request passes through, the image arrives smaller, the answer unchanged', async () => {
    const client = new AipSdk.imageClassify('app', 'AK', 'SK');
    const result = await client.advancedGeneral(photo.toString('base64'), { baike_num: '0' });
    assert.deepEqual(result.result, [{ keyword: '狗', score: 0.9, root: '动物' }]);
    const token = upstream.received.find((r) => r.url.startsWith('/oauth/2.0/token'));
    assert.ok(token, 'the SDK token request reached the upstream');
    assert.match(token.body.toString(), /client_secret=SK/, 'its body untouched');
    const call = upstream.last()!;
    assert.match(call.url, /^\/rest\/2\.0\/image-classify\/v2\/advanced_general\?.*access_token=T0KEN/);
    const form = new URLSearchParams(call.body.toString());
    assert.equal(form.get('baike_num'), '0', 'other fields kept');
    const sent = Buffer.from(form.get('image')!, 'base64');
    assert.ok(sent.length < photo.length);
    const meta = await sharp(sent).metadata();
    assert.deepEqual([meta.width, meta.height], [500, 375]);
  });

  test('face detect (JSON, BASE64): the image arrives smaller, other keys kept', async () => {
    const client = new AipSdk.face('app', 'AK', 'SK');
    const result = await client.detect(photo.toString('base64'), 'BASE64', { max_face_num: 2 });
    assert.equal(result.error_code, 0);
    const body = JSON.parse(upstream.last()!.body.toString());
    assert.equal(body.image_type, 'BASE64');
    assert.equal(body.max_face_num, 2);
    assert.ok(Buffer.from(body.image, 'base64').length < photo.length);
  });

  test('face detect by URL passes through untouched', async () => {
    const client = new AipSdk.face('app', 'AK', 'SK');
    await client.detect('https://example.com/a.jpg', 'URL');
    const body = JSON.parse(upstream.last()!.body.toString());
    assert.equal(body.image, 'https://example.com/a.jpg');
  });
});
