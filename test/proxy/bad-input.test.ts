import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { request } from 'undici';
import { type FakeUpstream, startFakeUpstream } from '../../testkit/fake-upstream.ts';
import { syntheticJpeg } from '../../testkit/images.ts';
import { ISSUE_SCAN_BOMBS, scanBomb } from '../../testkit/scan-bomb.ts';
import { startTestProxy, type TestProxy } from '../helpers/proxy.ts';

/**
 * Bad input never crashes the proxy, never breaks the call and never makes an upload larger: every case below either
 * forwards the client's original bytes (the API answers in its own words) or gets the documented error in the API's shape.
 * The suite: this file (images, request bodies) and bad-input-{routing,upstream,clients}.test.ts.
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
    // Scan bombs (issue 11, item 2): valid progressive JPEGs whose decode walks the whole image once per scan.
    [
      'scan bomb, 4096x4096 with 883 scans (66 KB)',
      async () => scanBomb(ISSUE_SCAN_BOMBS.small),
      /reason=too_many_scans/,
    ],
    [
      'scan bomb, 10000x10000 colour with 400 scans (360 KB)',
      async () => scanBomb(ISSUE_SCAN_BOMBS.large),
      /reason=too_many_scans/,
    ],
    [
      'progressive JPEG under the scan count but over the scan-pixel cost (4096x4096, 90 scans)',
      async () => scanBomb({ width: 4096, height: 4096, scans: 90 }),
      /reason=too_many_scans/,
    ],
    [
      'truncated progressive JPEG',
      async () => {
        const progressive = await sharp(await syntheticJpeg({ quality: 92 }))
          .jpeg({ quality: 92, progressive: true })
          .toBuffer();
        return progressive.subarray(0, Math.floor(progressive.length * 0.6));
      },
      /reason=(corrupt|truncated)/,
    ],
    ['a 1x1 image', () => syntheticJpeg({ width: 1, height: 1 }), /reason=below-minimum/],
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

  test('a progressive JPEG as encoders write it (about 10 scans) is re-encoded as usual', async () => {
    const progressive = await sharp(await syntheticJpeg({ width: 400, height: 300, quality: 95 }))
      .jpeg({ quality: 95, progressive: true })
      .toBuffer();
    const result = await sendRekognitionImage(progressive);
    assert.equal(result.status, 200);
    assert.match(result.header, /^q=35;saved=\d+%$/);
    assert.ok(result.forwarded.length < progressive.length);
  });

  test('two scan bombs at once leave the image slots free: the next photo is re-encoded at once', async () => {
    const bombs = [scanBomb(ISSUE_SCAN_BOMBS.small), scanBomb(ISSUE_SCAN_BOMBS.small)];
    const results = await Promise.all(bombs.map((bomb) => sendRekognitionImage(bomb)));
    for (const result of results) assert.match(result.header, /reason=too_many_scans/);
    assert.equal(proxy.context.limiter.active, 0, 'no slot held by a bomb');
    const next = await sendRekognitionImage(photo);
    assert.match(next.header, /^q=35;saved=\d+%$/);
  });

  test('JPEG with bytes after its end-of-image marker: never larger, the call succeeds', async () => {
    const trailing = Buffer.concat([photo, Buffer.from('trailing camera data'.repeat(50))]);
    const result = await sendRekognitionImage(trailing);
    assert.equal(result.status, 200);
    assert.ok(result.forwarded.length <= trailing.length);
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

  /** Send a raw Rekognition body; the upstream's copy and the proxy's header. */
  async function sendRekognitionBody(body: string) {
    const sent = await post(proxy.url, '/', rekognitionHeaders(), body);
    return { ...sent, received: upstream.last()!.body.toString() };
  }
  const photoBase64 = () => photo.toString('base64');
  const imageOf = (received: string) => Buffer.from(JSON.parse(received).Image.Bytes, 'base64');

  test('JSON nested 20,000 deep beside a valid image: the image is re-encoded, the rest goes byte for byte', async () => {
    const deep = `${'['.repeat(20_000)}1${']'.repeat(20_000)}`;
    const body = `{"Image":{"Bytes":"${photoBase64()}"},"Deep":${deep}}`;
    const result = await sendRekognitionBody(body);
    assert.equal(result.status, 200);
    assert.match(result.header, /^q=35;saved=\d+%$/);
    assert.ok(result.received.endsWith(`"Deep":${deep}}`));
  });

  test('MinConfidence 1e400 reaches the upstream as written, not as null', async () => {
    const body = `{"Image":{"Bytes":"${photoBase64()}"},"MinConfidence":1e400,"MaxLabels":10.0}`;
    const result = await sendRekognitionBody(body);
    assert.match(result.header, /^q=35/);
    assert.ok(result.received.endsWith(',"MinConfidence":1e400,"MaxLabels":10.0}'), result.received.slice(-80));
  });

  test('white space, key order and escapes outside the image are kept', async () => {
    const body = `{\n  "MaxLabels" : 5,\n  "Image" : { "Bytes" : "${photoBase64()}" },\n  "Note": "caf\\u00e9 \u65e5\u672c"\n}`;
    const result = await sendRekognitionBody(body);
    assert.match(result.header, /^q=35/);
    const [head, tail] = body.split(photoBase64());
    assert.ok(result.received.startsWith(head!));
    assert.ok(result.received.endsWith(tail!));
  });

  test('base64 with escaped slashes (PHP json_encode) is re-encoded and sent in the same style', async () => {
    const escaped = photoBase64().replaceAll('/', '\\/');
    assert.ok(escaped.includes('\\/'), 'the photo has slashes to escape');
    const result = await sendRekognitionBody(`{"Image":{"Bytes":"${escaped}"}}`);
    assert.match(result.header, /^q=35/);
    const sentBytes = JSON.parse(result.received).Image.Bytes as string;
    assert.ok(!/[^\\]\//.test(result.received.slice(20, -3)), 'every slash escaped');
    assert.ok((await sharp(Buffer.from(sentBytes, 'base64')).metadata()).width === 400);
    assert.ok(imageOf(result.received).length < photo.length);
  });

  const ambiguous: Array<[string, () => string]> = [
    ['an Image named twice', () => `{"Image":{"Bytes":"${photoBase64()}"},"Image":{"Bytes":"${photoBase64()}"}}`],
    ['Bytes named twice', () => `{"Image":{"Bytes":"${photoBase64()}","Bytes":"${photoBase64()}"}}`],
  ];
  for (const [name, make] of ambiguous) {
    test(`${name}: ambiguous, so the request goes byte-identical`, async () => {
      const body = make();
      const result = await sendRekognitionBody(body);
      assert.equal(result.status, 200);
      assert.equal(result.received, body);
      assert.match(result.header, /^original;reason=no-inline-image$/);
    });
  }

  test('a body with a byte-order mark is forwarded as sent for the API to judge', async () => {
    const body = `\ufeff{"Image":{"Bytes":"${photoBase64()}"}}`;
    const result = await sendRekognitionBody(body);
    assert.equal(result.received, body);
    assert.match(result.header, /^original;reason=bad-request$/);
  });

  test('Baidu face JSON nested 20,000 deep beside the image, with 1e400: image re-encoded, the rest as sent', async () => {
    const deep = `${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`;
    const body = `{"image":"${photoBase64()}","image_type":"BASE64","max_face_num":1e400,"deep":${deep}}`;
    const sent = await post(
      proxy.url,
      '/rest/2.0/face/v3/detect?access_token=t',
      { 'content-type': 'application/json' },
      body,
    );
    assert.equal(sent.status, 200);
    assert.match(sent.header, /^q=35;saved=\d+%$/);
    assert.ok(
      upstream.last()!.body.toString().endsWith(`","image_type":"BASE64","max_face_num":1e400,"deep":${deep}}`),
    );
  });

  test('Baidu form with raw (unescaped) base64: smaller on the wire, the client escaping kept, saved= is the wire', async () => {
    const raw = photoBase64();
    assert.match(raw, /[+/]/, 'the photo has characters a form would escape');
    const body = `image=${raw}&top_num=5`;
    const sent = await post(
      proxy.url,
      '/rest/2.0/image-classify/v2/advanced_general?access_token=t',
      { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    );
    const forwarded = upstream.last()!.body.toString();
    assert.ok(forwarded.length < body.length, `${forwarded.length} < ${body.length}`);
    assert.ok(!forwarded.includes('%2'), 'no escape added');
    assert.ok(forwarded.endsWith('&top_num=5'));
    const saved = Math.round((100 * (body.length - forwarded.length)) / body.length);
    assert.equal(sent.header, `q=35;saved=${saved}%`);
  });

  test('Face++ form with lower-case escapes: the rebuilt value is escaped the same way', async () => {
    const escaped = photoBase64().replace(/[+/=]/g, (c) => `%${c.charCodeAt(0).toString(16)}`);
    const body = `api_key=k&image_base64=${escaped}`;
    await post(proxy.url, '/facepp/v3/detect', { 'content-type': 'application/x-www-form-urlencoded' }, body);
    const value = upstream.last()!.body.toString().split('image_base64=')[1]!;
    assert.match(value, /%2[bf]/);
    assert.doesNotMatch(value, /%2[BF]|%3D|[+/]/);
  });

  test('a Baidu form with image repeated is ambiguous and goes as sent', async () => {
    const body = `image=${encodeURIComponent(photoBase64())}&image=${encodeURIComponent(photoBase64())}`;
    await post(
      proxy.url,
      '/rest/2.0/image-classify/v2/advanced_general?access_token=t',
      { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    );
    assert.equal(upstream.last()!.body.toString(), body);
  });

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
