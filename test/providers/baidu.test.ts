import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { BAIDU_LIMITS, baidu } from '../../src/providers/baidu/index.ts';
import { type BufferedRequest, ProxyError } from '../../src/providers/types.ts';
import { testProvider } from '../helpers/providers.ts';

/** The slice of baidu-aip-sdk (CommonJS, untyped) these tests drive. */
type SdkOptions = Record<string, string>;
type Client<T> = new (appId: string, apiKey: string, secretKey: string) => T;
interface BaiduSdk {
  HttpClient: { setRequestInterceptor(interceptor: ((options: { url: string }) => unknown) | null): void };
  imageClassify: Client<{ advancedGeneral(image: string, options?: SdkOptions): Promise<unknown> }>;
  ocr: Client<{ generalBasic(image: string, options?: SdkOptions): Promise<unknown> }>;
  face: Client<{
    detect(image: string, imageType: string, options?: SdkOptions): Promise<unknown>;
    search(image: string, imageType: string, groupIdList: string, options?: SdkOptions): Promise<unknown>;
    match(images: SdkOptions[]): Promise<unknown>;
  }>;
}
const AipSdk = createRequire(import.meta.url)('baidu-aip-sdk') as BaiduSdk;

const provider = testProvider(baidu);

// Bytes whose base64 holds + / and =, the characters URL-encoding must escape.
const IMAGE = Buffer.from([0xff, 0xd8, 0xfb, 0xef, 0xff, 0xd9, 0x01]);
const SMALLER = Buffer.from([0xff, 0xd8, 0xfb, 0xff]);

/**
 * The real baidu-aip-sdk, pointed with its documented interceptor at a local server that records each request (token
 * call included), so these tests read exactly the bytes the SDK puts on the wire.
 */
const captured: BufferedRequest[] = [];
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    captured.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks) });
    res.setHeader('content-type', 'application/json');
    const token = { access_token: 'T', expires_in: 2592000, scope: 'brain_all_scope' };
    res.end(JSON.stringify(req.url!.startsWith('/oauth/') ? token : { error_code: 0, log_id: 1 }));
  });
});

async function sdkRequest(call: () => Promise<unknown>): Promise<BufferedRequest> {
  captured.length = 0;
  await call();
  const request = captured.at(-1);
  assert.ok(request, 'the SDK sent a request');
  return request;
}

let origin = '';
before(async () => {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  AipSdk.HttpClient.setRequestInterceptor((options: { url: string }) => ({
    ...options,
    url: options.url.replace('https://aip.baidubce.com', origin),
  }));
});
after(() => {
  AipSdk.HttpClient.setRequestInterceptor(null);
  server.close();
});

const isBadRequest = (error: unknown) => error instanceof ProxyError && error.code === 'BAD_REQUEST';
const operationOf = (request: BufferedRequest) => {
  const operation = provider.imageOperation(request);
  assert.ok(operation, 'an image operation');
  return operation;
};

describe('Baidu routing', () => {
  test('claims /rest/2.0/ and /oauth/2.0/ only', () => {
    const head = (url: string) => ({ method: 'POST', url, headers: {} });
    assert.ok(provider.matches(head('/rest/2.0/image-classify/v2/advanced_general?access_token=T')));
    assert.ok(provider.matches(head('/oauth/2.0/token?grant_type=client_credentials')));
    assert.ok(!provider.matches(head('/facepp/v3/detect')));
    assert.ok(!provider.matches(head('/rest/3.0/x')));
  });

  test('the SDK token request passes through', async () => {
    captured.length = 0;
    await new AipSdk.imageClassify('1', 'AK', 'SK').advancedGeneral(IMAGE.toString('base64'));
    const token = captured.find((request) => request.url.startsWith('/oauth/2.0/token'));
    assert.ok(token, 'the SDK asked for a token first');
    assert.ok(provider.matches(token));
    assert.equal(provider.imageOperation(token), undefined);
  });

  test('names operations by path after /rest/2.0/; unknown and non-POST routes pass through', () => {
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const op = (method: string, url: string, headers: Record<string, string> = form) =>
      provider.imageOperation({ method, url, headers })?.name;
    assert.equal(op('POST', '/rest/2.0/image-classify/v1/animal?access_token=T'), 'image-classify/v1/animal');
    assert.equal(op('POST', '/rest/2.0/ocr/v1/general_basic'), 'ocr/v1/general_basic');
    assert.equal(op('POST', '/rest/2.0/face/v3/detect', { 'content-type': 'application/json' }), 'face/v3/detect');
    assert.equal(
      op('POST', '/rest/2.0/image-classify/v2/advanced_general', { 'content-type': 'application/json' }),
      undefined,
    );
    assert.equal(op('GET', '/rest/2.0/image-classify/v2/advanced_general'), undefined);
    assert.equal(op('POST', '/rest/2.0/face/v3/faceset/group/add'), undefined);
    assert.equal(op('POST', '/oauth/2.0/token'), undefined);
    assert.equal(
      provider.upstreamOrigin({ method: 'POST', url: '/', headers: { host: 'evil' } }),
      'https://aip.baidubce.com',
    );
    assert.equal(provider.bufferAll, false);
  });
});

describe('Baidu forms (image recognition, OCR)', () => {
  test('reads the image the SDK sends and re-encodes the new one the same way, other fields untouched', async () => {
    const client = new AipSdk.imageClassify('1', 'AK', 'SK');
    const request = await sdkRequest(() => client.advancedGeneral(IMAGE.toString('base64'), { baike_num: '5' }));
    assert.equal(operationOf(request).name, 'image-classify/v2/advanced_general');
    const extracted = provider.extract(request, provider.op('image-classify/v2/advanced_general'));
    assert.ok(extracted);
    assert.deepEqual(
      extracted.slots.map((s) => [s.field, s.bytes.toString('hex')]),
      [['image', IMAGE.toString('hex')]],
    );

    const outgoing = extracted.rebuild(new Map([['image', SMALLER]]));
    const viaSdk = await sdkRequest(() => client.advancedGeneral(SMALLER.toString('base64'), { baike_num: '5' }));
    assert.ok(outgoing.body.equals(viaSdk.body), 'byte-identical to what the SDK sends for the smaller image');
    assert.match(outgoing.body.toString(), /^baike_num=5&image=%2F9j7%2Fw%3D%3D$/);
    assert.equal(outgoing.url, request.url, 'access_token query kept');
    assert.equal(outgoing.headers['content-type'], 'application/x-www-form-urlencoded');
    assert.equal(outgoing.headers.host, undefined);
  });

  test('OCR form from the SDK', async () => {
    const client = new AipSdk.ocr('1', 'AK', 'SK');
    const request = await sdkRequest(() => client.generalBasic(IMAGE.toString('base64'), { language_type: 'CHN_ENG' }));
    const extracted = provider.extract(request, operationOf(request));
    assert.ok(extracted?.slots.every((slot) => slot.operation.name === 'ocr/v1/general_basic'));
    assert.ok(extracted?.slots[0]?.bytes.equals(IMAGE));
  });

  test('image wins over url; url alone passes through', () => {
    const form = (body: string): BufferedRequest => ({
      method: 'POST',
      url: '/rest/2.0/image-classify/v1/plant?access_token=T',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: Buffer.from(body),
    });
    const both = provider.extract(
      form(`url=http%3A%2F%2Fx%2Fa.jpg&image=${encodeURIComponent(IMAGE.toString('base64'))}`),
      provider.op('image-classify/v1/plant'),
    );
    assert.deepEqual(
      both?.rebuild(new Map([['image', SMALLER]])).body.toString(),
      `url=http%3A%2F%2Fx%2Fa.jpg&image=${encodeURIComponent(SMALLER.toString('base64'))}`,
    );
    assert.equal(
      provider.extract(form('url=http%3A%2F%2Fx%2Fa.jpg&top_num=3'), provider.op('image-classify/v1/plant')),
      undefined,
    );
    assert.equal(
      provider.extract(form('image=data%3Aimage%2Fjpeg%3Bbase64%2CAAAA'), provider.op('image-classify/v1/plant')),
      undefined,
    );
    assert.throws(() => provider.extract(form('image=%ZZ'), provider.op('image-classify/v1/plant')), isBadRequest);
    assert.throws(() => provider.extract(form('image=abc'), provider.op('image-classify/v1/plant')), isBadRequest);
  });
});

describe('Baidu face JSON', () => {
  test('reads a BASE64 face detect from the SDK and replaces only the image', async () => {
    const client = new AipSdk.face('1', 'AK', 'SK');
    const request = await sdkRequest(() =>
      client.detect(IMAGE.toString('base64'), 'BASE64', { face_field: 'age,beauty', max_face_num: '2' }),
    );
    assert.equal(
      request.headers['content-type'],
      'application/x-www-form-urlencoded',
      'the SDK labels its JSON as a form: routing must go by path',
    );
    const extracted = provider.extract(request, operationOf(request));
    assert.ok(extracted);
    assert.ok(extracted?.slots.every((slot) => slot.operation.name === 'face/v3/detect'));
    assert.deepEqual(
      extracted.slots.map((s) => [s.field, s.bytes.toString('hex')]),
      [['image', IMAGE.toString('hex')]],
    );
    const outgoing = extracted.rebuild(new Map([['image', SMALLER]]));
    assert.equal(
      outgoing.body.toString(),
      `{"face_field":"age,beauty","max_face_num":"2","image":"${SMALLER.toString('base64')}","image_type":"BASE64"}`,
      'same keys in the same order',
    );
  });

  test('URL and FACE_TOKEN images pass through', async () => {
    const client = new AipSdk.face('1', 'AK', 'SK');
    const byUrl = await sdkRequest(() => client.detect('https://example.com/a.jpg', 'URL'));
    assert.equal(provider.extract(byUrl, operationOf(byUrl)), undefined);
    const byToken = await sdkRequest(() => client.search('0123abcd', 'FACE_TOKEN', 'group1'));
    assert.equal(provider.extract(byToken, operationOf(byToken)), undefined);
  });

  test('match: an array of images, only the BASE64 ones recompressed', async () => {
    const client = new AipSdk.face('1', 'AK', 'SK');
    const request = await sdkRequest(() =>
      client.match([
        { image: IMAGE.toString('base64'), image_type: 'BASE64', face_type: 'LIVE' },
        { image: 'https://example.com/b.jpg', image_type: 'URL' },
        { image: IMAGE.toString('base64'), image_type: 'BASE64' },
      ]),
    );
    const extracted = provider.extract(request, operationOf(request));
    assert.deepEqual(
      extracted?.slots.map((s) => s.field),
      ['image[0]', 'image[2]'],
    );
    const outgoing = extracted!.rebuild(new Map([['image[2]', SMALLER]]));
    assert.deepEqual(JSON.parse(outgoing.body.toString()), [
      { image: IMAGE.toString('base64'), image_type: 'BASE64', face_type: 'LIVE' },
      { image: 'https://example.com/b.jpg', image_type: 'URL' },
      { image: SMALLER.toString('base64'), image_type: 'BASE64' },
    ]);
  });

  test('broken JSON and bad base64 are BAD_REQUEST', () => {
    const json = (body: string): BufferedRequest => ({
      method: 'POST',
      url: '/rest/2.0/face/v3/detect',
      headers: { 'content-type': 'application/json' },
      body: Buffer.from(body),
    });
    assert.throws(() => provider.extract(json('{"image":'), provider.op('face/v3/detect')), isBadRequest);
    assert.throws(
      () => provider.extract(json('{"image":"a b","image_type":"BASE64"}'), provider.op('face/v3/detect')),
      isBadRequest,
    );
    assert.equal(provider.extract(json('"just a string"'), provider.op('face/v3/detect')), undefined);
  });
});

describe('Baidu answers', () => {
  const json = (value: unknown) => Buffer.from(JSON.stringify(value));

  test('advanced_general: keywords as labels, best first', () => {
    const body = json({
      log_id: 1,
      result_num: 2,
      result: [
        { keyword: '树', score: 0.3, root: '植物' },
        { keyword: '狗', score: 0.96, root: '动物' },
      ],
    });
    assert.deepEqual(provider.answer('image-classify/v2/advanced_general', 200, body), {
      labels: [
        { name: '狗', score: 0.96 },
        { name: '树', score: 0.3 },
      ],
      faces: [],
    });
  });

  test('animal: names with string scores', () => {
    const body = json({ log_id: 1, result: [{ name: '熊猫', score: '0.99' }] });
    assert.deepEqual(provider.answer('image-classify/v1/animal', 200, body)?.labels, [{ name: '熊猫', score: 0.99 }]);
  });

  test('face detect: locations in pixels with face_probability', () => {
    const body = json({
      error_code: 0,
      error_msg: 'SUCCESS',
      log_id: 1,
      result: {
        face_num: 1,
        face_list: [
          {
            face_token: 't',
            location: { left: 10.5, top: 20, width: 30, height: 31, rotation: 2 },
            face_probability: 0.98,
          },
        ],
      },
    });
    assert.deepEqual(provider.answer('face/v3/detect', 200, body)?.faces, [
      { box: { left: 10.5, top: 20, width: 30, height: 31 }, score: 0.98 },
    ]);
  });

  test('OCR: words joined by newlines', () => {
    const body = json({ log_id: 1, words_result_num: 2, words_result: [{ words: '你好' }, { words: 'world' }] });
    assert.equal(provider.answer('ocr/v1/general_basic', 200, body)?.text, '你好\nworld');
  });

  test('errors in the body (HTTP 200) give no answer', () => {
    assert.equal(
      provider.answer(
        'face/v3/detect',
        200,
        json({ error_code: 110, error_msg: 'Access token invalid or no longer valid' }),
      ),
      undefined,
    );
    assert.equal(
      provider.answer(
        'image-classify/v2/advanced_general',
        200,
        json({ error_code: 18, error_msg: 'Open api qps request limit reached' }),
      ),
      undefined,
    );
    assert.equal(provider.answer('image-classify/v2/advanced_general', 500, json({ result: [] })), undefined);
    assert.equal(provider.answer('image-classify/v2/advanced_general', 200, Buffer.from('oops')), undefined);
  });
});

describe('Baidu errors and limits', () => {
  test('the proxy errors in Baidu shape', () => {
    const reply = (code: ProxyError['code']) => {
      const { status, headers, body } = provider.errorReply(new ProxyError(code, 400, 'detail'));
      assert.match(headers['content-type']!, /^application\/json/);
      const parsed = JSON.parse(body);
      assert.ok(Number.isSafeInteger(parsed.log_id) && parsed.log_id > 0);
      return [status, parsed.error_code, parsed.error_msg];
    };
    assert.deepEqual(reply('BAD_REQUEST'), [200, 100, 'Invalid parameter']);
    assert.deepEqual(reply('BODY_TOO_LARGE'), [200, 216202, 'image size error']);
    assert.deepEqual(reply('AUTH_FAILED'), [200, 110, 'Access token invalid or no longer valid']);
    assert.deepEqual(reply('UPSTREAM_UNREACHABLE'), [502, 282000, 'internal error']);
    assert.deepEqual(reply('UPSTREAM_TIMEOUT'), [504, 282000, 'internal error']);
  });

  test('default limits fit 4 MB of URL-encoded base64; overridable', () => {
    assert.deepEqual(provider.limits('image-classify/v2/advanced_general'), BAIDU_LIMITS);
    assert.deepEqual(BAIDU_LIMITS, { minSide: 15, maxSide: 4096, maxBytes: 2_901_471 });
    const custom = testProvider(baidu, { imageLimits: 'baidu:minSide=32' });
    assert.equal(custom.limits('face/v3/detect').minSide, 32);
  });
});
