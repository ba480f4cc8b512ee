import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { request } from 'undici';
import { type FakeUpstream, startFakeUpstream } from '../../testkit/fake-upstream.ts';
import { syntheticJpeg } from '../helpers/images.ts';
import { startTestProxy, type TestProxy } from '../helpers/proxy.ts';

/**
 * Bad input never crashes the proxy, never breaks the call and never makes an upload larger: every case below either
 * forwards the client's original bytes (the API answers in its own words) or gets the documented error in the API's shape.
 */

interface Sent {
  status: number;
  header: string;
  body: string;
}

async function post(url: string, path: string, headers: Record<string, string>, body: Buffer | string): Promise<Sent> {
  const res = await request(url + path, { method: 'POST', headers, body });
  return { status: res.statusCode, header: String(res.headers['x-adacompress'] ?? ''), body: await res.body.text() };
}

const rekognitionHeaders = (target = 'DetectLabels') => ({
  'content-type': 'application/x-amz-json-1.1',
  'x-amz-target': `RekognitionService.${target}`,
});

describe('bad input', () => {
  let upstream: FakeUpstream;
  let proxy: TestProxy;
  let smallPixelLimitProxy: TestProxy;
  let photo: Buffer;

  before(async () => {
    upstream = await startFakeUpstream(() => ({ body: '{"Labels":[]}' }));
    // Unsigned raw requests are allowed here so each case can craft its own bytes; signatures have their own tests.
    proxy = await startTestProxy(upstream.url, { unverifiedSignatures: 'allow', maxBodyBytes: 2 * 1024 * 1024 });
    smallPixelLimitProxy = await startTestProxy(upstream.url, {
      unverifiedSignatures: 'allow',
      maxInputPixels: 1_000_000,
    });
    photo = await syntheticJpeg({ width: 400, height: 300, quality: 92 });
  });
  after(async () => {
    await proxy.close();
    await smallPixelLimitProxy.close();
    await upstream.close();
  });

  /** Send an image as Rekognition Bytes; return what happened and the image bytes the upstream got. */
  async function sendRekognitionImage(image: Buffer, target = proxy) {
    const body = JSON.stringify({ Image: { Bytes: image.toString('base64') }, MaxLabels: 3 });
    const sent = await post(target.url, '/', rekognitionHeaders(), body);
    const received = upstream.last()!;
    const forwarded = Buffer.from(JSON.parse(received.body.toString()).Image.Bytes, 'base64');
    return { ...sent, forwarded, bodyIdentical: received.body.toString() === body };
  }

  const originalCases: Array<[string, () => Promise<Buffer>, RegExp, TestProxy?]> = [
    ['truncated JPEG', async () => photo.subarray(0, Math.floor(photo.length / 2)), /reason=(corrupt|truncated)/],
    [
      'random bytes',
      async () => Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7919) % 251)),
      /reason=unsupported_format/,
    ],
    [
      'a JPEG header and nothing else',
      async () => photo.subarray(0, 20),
      /reason=(corrupt|unsupported_format|truncated)/,
    ],
    [
      'PNG with alpha',
      () =>
        sharp({ create: { width: 200, height: 200, channels: 4, background: { r: 1, g: 2, b: 3, alpha: 0.5 } } })
          .png()
          .toBuffer(),
      /reason=alpha/,
    ],
    [
      'GIF',
      () =>
        sharp({ create: { width: 120, height: 120, channels: 3, background: 'red' } })
          .gif()
          .toBuffer(),
      /reason=format/,
    ],
    [
      'WebP',
      () =>
        sharp({ create: { width: 120, height: 120, channels: 3, background: 'red' } })
          .webp()
          .toBuffer(),
      /reason=format/,
    ],
    ['image below the API minimum side', () => syntheticJpeg({ width: 60, height: 60 }), /reason=below-minimum/],
    ['JPEG already at a low quality', () => syntheticJpeg({ quality: 10 }), /reason=not-smaller/],
  ];
  for (const [name, make, reason] of originalCases) {
    test(`${name}: the original bytes go upstream, the call succeeds`, async () => {
      const image = await make();
      const result = await sendRekognitionImage(image);
      assert.equal(result.status, 200);
      assert.match(result.header, reason);
      assert.ok(result.forwarded.equals(image), 'upstream got the exact original image');
      assert.ok(result.bodyIdentical, 'upstream got the exact original body');
    });
  }

  test('image above the API maximum side: fitted to it, so the call succeeds instead of failing upstream', async () => {
    const image = await syntheticJpeg({ width: 10_001, height: 90, quality: 50 });
    const result = await sendRekognitionImage(image);
    assert.equal(result.status, 200);
    assert.match(result.header, /;side=10000;fit=dimensions$/);
    const sent = await sharp(result.forwarded).metadata();
    assert.equal(Math.max(sent.width ?? 0, sent.height ?? 0), 10_000);
  });

  test('pixel bomb over the configured pixel limit is never decoded and goes as sent', async () => {
    const bomb = await sharp({ create: { width: 2000, height: 1000, channels: 3, background: 'white' } })
      .jpeg()
      .toBuffer();
    const result = await sendRekognitionImage(bomb, smallPixelLimitProxy);
    assert.equal(result.status, 200);
    assert.match(result.header, /reason=too_many_pixels/);
    assert.ok(result.forwarded.equals(bomb));
  });

  test('CMYK JPEG is converted to an RGB JPEG no larger than the original, same dimensions', async () => {
    const cmyk = await sharp(await syntheticJpeg({ quality: 95 }))
      .toColourspace('cmyk')
      .jpeg({ quality: 95 })
      .toBuffer();
    assert.equal((await sharp(cmyk).metadata()).space, 'cmyk');
    const result = await sendRekognitionImage(cmyk);
    assert.equal(result.status, 200);
    assert.ok(result.forwarded.length <= cmyk.length);
    const meta = await sharp(result.forwarded).metadata();
    assert.deepEqual([meta.width, meta.height], [400, 300]);
  });

  const malformedBodies: Array<[string, string]> = [
    ['malformed JSON', '{"Image": {"Bytes": "abc"'],
    ['JSON that is not an object', '[1,2,3]'],
    ['Bytes that are not base64', JSON.stringify({ Image: { Bytes: '***not base64***' } })],
    ['empty Bytes', JSON.stringify({ Image: { Bytes: '' } })],
    ['Bytes of the wrong type', JSON.stringify({ Image: { Bytes: 42 } })],
  ];
  for (const [name, body] of malformedBodies) {
    test(`${name}: forwarded byte-identical so the API answers its own error`, async () => {
      upstream.setResponder(() => ({
        status: 400,
        headers: { 'x-amzn-errortype': 'SerializationException' },
        body: '{"__type":"SerializationException"}',
      }));
      try {
        const result = await post(proxy.url, '/', rekognitionHeaders(), body);
        assert.equal(result.status, 400);
        assert.equal(result.body, '{"__type":"SerializationException"}');
        assert.equal(upstream.last()!.body.toString(), body);
        assert.match(result.header, /^original;reason=(bad-request|no-inline-image)/);
      } finally {
        upstream.setResponder(() => ({ body: '{"Labels":[]}' }));
      }
    });
  }

  test('oversize body gets 413 in the AWS shape and never reaches the upstream', async () => {
    const before = upstream.received.length;
    const huge = JSON.stringify({ Image: { Bytes: Buffer.alloc(3 * 1024 * 1024, 1).toString('base64') } });
    const result = await post(proxy.url, '/', rekognitionHeaders(), huge);
    assert.equal(result.status, 413);
    assert.equal(JSON.parse(result.body).__type, 'ImageTooLargeException');
    assert.equal(upstream.received.length, before);
  });

  test('the proxy still serves normally after all of the above', async () => {
    const result = await sendRekognitionImage(photo);
    assert.equal(result.status, 200);
    assert.match(result.header, /^q=35;saved=\d+%$/);
    assert.ok(result.forwarded.length < photo.length);
  });
});
