import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CompareFacesCommand,
  DetectFacesCommand,
  DetectLabelsCommand,
  RekognitionClient,
} from '@aws-sdk/client-rekognition';
import sharp from 'sharp';
import { verifySigV4 } from '../../src/aws/sigv4.ts';
import { type FakeUpstream, type RecordedRequest, startFakeUpstream } from '../../testkit/fake-upstream.ts';
import { syntheticJpeg } from '../../testkit/images.ts';
import { CLIENT_CREDENTIALS, PROXY_CREDENTIALS, startTestProxy, type TestProxy } from '../helpers/proxy.ts';

/** The fake AWS: refuses anything not signed by the proxy's own key, like the real service would. */
async function awsResponder(request: RecordedRequest) {
  const verdict = await verifySigV4(request, (key) =>
    key === PROXY_CREDENTIALS.accessKeyId ? PROXY_CREDENTIALS.secretAccessKey : undefined,
  );
  if (!verdict.ok) {
    return { status: 403, body: JSON.stringify({ __type: 'InvalidSignatureException', message: verdict.message }) };
  }
  const target = String(request.headers['x-amz-target']);
  if (target.endsWith('DetectLabels')) {
    return { body: JSON.stringify({ Labels: [{ Name: 'Dog', Confidence: 97.5, Instances: [], Parents: [] }] }) };
  }
  if (target.endsWith('DetectFaces')) {
    return {
      body: JSON.stringify({
        FaceDetails: [{ BoundingBox: { Left: 0.1, Top: 0.2, Width: 0.3, Height: 0.4 }, Confidence: 99 }],
      }),
    };
  }
  if (target.endsWith('CompareFaces')) {
    return { body: JSON.stringify({ FaceMatches: [], UnmatchedFaces: [], SourceImageFace: { Confidence: 99 } }) };
  }
  return { body: '{}' };
}

const sentImage = (request: RecordedRequest, field = 'Image'): Buffer =>
  Buffer.from(JSON.parse(request.body.toString())[field].Bytes, 'base64');

describe('Rekognition through the proxy with the real AWS SDK', () => {
  let upstream: FakeUpstream;
  let proxy: TestProxy;
  let client: RekognitionClient;
  let photo: Buffer;

  before(async () => {
    upstream = await startFakeUpstream(awsResponder);
    proxy = await startTestProxy(upstream.url);
    client = new RekognitionClient({
      endpoint: proxy.url,
      region: 'eu-west-1',
      credentials: CLIENT_CREDENTIALS,
      maxAttempts: 1,
    });
    photo = await syntheticJpeg({ width: 480, height: 360, quality: 92 });
  });
  after(async () => {
    client.destroy();
    await proxy.close();
    await upstream.close();
  });

  test('DetectLabels: the upstream gets a smaller JPEG of the same size, signed by the proxy', async () => {
    const result = await client.send(new DetectLabelsCommand({ Image: { Bytes: photo }, MaxLabels: 5 }));
    assert.equal(result.Labels?.[0]?.Name, 'Dog');
    const received = upstream.last()!;
    const image = sentImage(received);
    assert.ok(image.length < photo.length, `sent ${image.length} bytes, original ${photo.length}`);
    const meta = await sharp(image).metadata();
    assert.equal(meta.format, 'jpeg');
    assert.deepEqual([meta.width, meta.height], [480, 360]);
    assert.equal(JSON.parse(received.body.toString()).MaxLabels, 5, 'other parameters are kept');
    const auth = String(received.headers.authorization);
    assert.match(auth, /Credential=AKIDPROXY\/\d{8}\/eu-west-1\/rekognition\/aws4_request/);
    for (const signed of ['content-type', 'host', 'x-amz-target', 'x-amz-date']) {
      assert.match(auth, new RegExp(`SignedHeaders=[^,]*\\b${signed}\\b`), `${signed} is signed`);
    }
  });

  test('DetectFaces with an EXIF-rotated photo keeps orientation and dimensions', async () => {
    const rotated = await syntheticJpeg({ width: 400, height: 300, orientation: 6 });
    const result = await client.send(new DetectFacesCommand({ Image: { Bytes: rotated } }));
    assert.equal(result.FaceDetails?.length, 1);
    const meta = await sharp(sentImage(upstream.last()!)).metadata();
    assert.deepEqual([meta.width, meta.height, meta.orientation], [400, 300, 6]);
  });

  test('CompareFaces recompresses both the source and the target image', async () => {
    const target = await syntheticJpeg({ width: 320, height: 240 });
    await client.send(new CompareFacesCommand({ SourceImage: { Bytes: photo }, TargetImage: { Bytes: target } }));
    const body = JSON.parse(upstream.last()!.body.toString());
    assert.ok(Buffer.from(body.SourceImage.Bytes, 'base64').length < photo.length);
    assert.ok(Buffer.from(body.TargetImage.Bytes, 'base64').length < target.length);
  });

  test('DetectLabels with an S3Object passes the body through byte-identical, re-signed', async () => {
    let sentBody = '';
    const spy = new RekognitionClient({ endpoint: proxy.url, region: 'eu-west-1', credentials: CLIENT_CREDENTIALS });
    spy.middlewareStack.add(
      (next) => async (args) => {
        const body = (args.request as { body: string | Uint8Array }).body;
        sentBody = typeof body === 'string' ? body : Buffer.from(body).toString();
        return next(args);
      },
      { step: 'finalizeRequest', name: 'captureBody' },
    );
    await spy.send(
      new DetectLabelsCommand({ Image: { S3Object: { Bucket: 'photos', Name: 'dog.jpg' } }, MaxLabels: 3 }),
    );
    spy.destroy();
    assert.equal(upstream.last()!.body.toString(), sentBody);
    assert.match(String(upstream.last()!.headers.authorization), /Credential=AKIDPROXY\//);
  });

  test('a request with a bad client signature is refused in the AWS error shape', async () => {
    const forger = new RekognitionClient({
      endpoint: proxy.url,
      region: 'eu-west-1',
      credentials: { accessKeyId: CLIENT_CREDENTIALS.accessKeyId, secretAccessKey: 'wrong-secret' },
      maxAttempts: 1,
    });
    const before = upstream.received.length;
    await assert.rejects(forger.send(new DetectLabelsCommand({ Image: { Bytes: photo } })), (error: Error) => {
      assert.equal(error.name, 'InvalidSignatureException');
      return true;
    });
    forger.destroy();
    assert.equal(upstream.received.length, before, 'nothing reached the upstream');
  });

  test('a key the proxy cannot verify is refused by default (non-loopback policy)', async () => {
    const stranger = new RekognitionClient({
      endpoint: proxy.url,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AKIDSTRANGER', secretAccessKey: 'whatever' },
      maxAttempts: 1,
    });
    await assert.rejects(stranger.send(new DetectLabelsCommand({ Image: { Bytes: photo } })), (error: Error) => {
      assert.equal(error.name, 'UnrecognizedClientException');
      return true;
    });
    stranger.destroy();
  });

  test('upstream errors reach the client as the upstream sent them', async () => {
    upstream.setResponder(() => ({
      status: 400,
      headers: { 'x-amzn-errortype': 'InvalidImageFormatException' },
      body: JSON.stringify({ __type: 'InvalidImageFormatException', Message: 'Request has invalid image format' }),
    }));
    try {
      await assert.rejects(client.send(new DetectLabelsCommand({ Image: { Bytes: photo } })), (error: Error) => {
        assert.equal(error.name, 'InvalidImageFormatException');
        assert.equal(error.message, 'Request has invalid image format');
        return true;
      });
    } finally {
      upstream.setResponder(awsResponder);
    }
  });

  test('the log line has sizes and quality but never the signature or the image', async () => {
    await client.send(new DetectLabelsCommand({ Image: { Bytes: photo } }));
    const line = proxy.logs.lines.findLast((l) => l.msg === 'proxied')!;
    assert.equal(line.provider, 'rekognition');
    assert.equal(line.operation, 'DetectLabels');
    assert.equal((line.images as { quality: number }[])[0]!.quality, 35);
    const everything = proxy.logs.raw.join('\n');
    assert.ok(!everything.includes('AWS4-HMAC-SHA256'), 'no signature in logs');
    assert.ok(!everything.includes(photo.subarray(0, 60).toString('base64')), 'no image bytes in logs');
  });
});
