import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { DetectFacesCommand, DetectTextCommand, RekognitionClient } from '@aws-sdk/client-rekognition';
import sharp from 'sharp';
import type { PixelSize } from '../../src/providers/types.ts';
import type { Exchange } from '../../src/request/exchange.ts';
import { type FakeUpstream, type RecordedRequest, startFakeUpstream } from '../../testkit/fake-upstream.ts';
import { syntheticJpeg } from '../../testkit/images.ts';
import { CLIENT_CREDENTIALS, startTestProxy, type TestProxy } from '../helpers/proxy.ts';
import { resizingPolicy } from '../helpers/resize-policy.ts';

/**
 * Through the real proxy, with the clients users use (curl -F for Face++, baidu-aip-sdk, the AWS SDK), photos carrying
 * EXIF orientation 6 and 8, and a policy that sends them at 320 px: a fake upstream answers in the pixels of the image
 * it received, as Face++ and Baidu do (stored frame: the tag is not applied), or in ratios, as Rekognition does. The
 * client must get every coordinate in the pixels of its own photo.
 */

const run = promisify(execFile);
const require = createRequire(import.meta.url);
type Result = Promise<Record<string, unknown>>;
const AipSdk = require('baidu-aip-sdk') as {
  face: new (a: string, k: string, s: string) => { detect(image: string, type: string, options?: object): Result };
  ocr: new (a: string, k: string, s: string) => { general(image: string, options?: object): Result };
  imageClassify: new (
    a: string,
    k: string,
    s: string,
  ) => { multiObjectDetect(image: string, options?: object): Result };
  HttpClient: { setRequestInterceptor(fn: (options: { url: string }) => { url: string }): void };
};

const SIDE = 320;

/** What the fake upstream saw of each image: its stored size and EXIF orientation, by field. */
interface Seen {
  size: PixelSize;
  orientation: number;
}
const seen = new Map<string, Seen>();

async function look(field: string, bytes: Buffer): Promise<Seen> {
  const meta = await sharp(bytes).metadata();
  const found = { size: { width: meta.width, height: meta.height }, orientation: meta.orientation ?? 1 };
  seen.set(field, found);
  return found;
}

/** Integer pixels at fractions of the received image (what Face++ writes). */
const at = (size: PixelSize, fx: number, fy: number) => ({
  x: Math.round(fx * size.width),
  y: Math.round(fy * size.height),
});
const rect = (size: PixelSize) => ({
  left: Math.round(0.1 * size.width),
  top: Math.round(0.2 * size.height),
  width: Math.round(0.3 * size.width),
  height: Math.round(0.4 * size.height),
});
/** Baidu writes face boxes with decimals. */
const decimals = (v: number) => Number(v.toFixed(2));

async function faceppAnswer(request: RecordedRequest) {
  const form = await new Response(new Uint8Array(request.body), {
    headers: { 'content-type': String(request.headers['content-type']) },
  }).formData();
  const face = async (field: string) => {
    const file = form.get(field) as File;
    const { size } = await look(field, Buffer.from(await file.arrayBuffer()));
    return {
      face_token: `t-${field}`,
      face_rectangle: rect(size),
      // The last point is the received image's bottom-right corner: it must land on the client photo's.
      landmark: { nose_tip: at(size, 0.25, 0.35), contour_chin: at(size, 0.3, 0.55), corner: at(size, 1, 1) },
    };
  };
  if (request.url.startsWith('/facepp/v3/compare')) {
    return {
      request_id: 'r',
      confidence: 97.1,
      faces1: [await face('image_file1')],
      faces2: [await face('image_file2')],
    };
  }
  return { request_id: 'r', time_used: 10, faces: [await face('image_file')], image_id: 'i' };
}

async function baiduAnswer(request: RecordedRequest) {
  if (request.url.startsWith('/rest/2.0/face/v3/detect')) {
    const { size } = await look('image', Buffer.from(JSON.parse(request.body.toString()).image, 'base64'));
    const point = (fx: number, fy: number) => ({ x: decimals(fx * size.width), y: decimals(fy * size.height) });
    return {
      error_code: 0,
      error_msg: 'SUCCESS',
      log_id: 1,
      result: {
        face_num: 1,
        face_list: [
          {
            face_token: 'f',
            location: {
              left: decimals(0.1 * size.width),
              top: decimals(0.2 * size.height),
              width: Math.round(0.3 * size.width),
              height: Math.round(0.4 * size.height),
              rotation: 7,
            },
            face_probability: 1,
            angle: { yaw: 1.5, pitch: -2.25, roll: 7.1 },
            landmark: [point(0.2, 0.3), point(0.3, 0.3)],
            landmark72: [point(0.15, 0.4)],
            landmark150: { nose_tip: point(0.25, 0.35) },
          },
        ],
      },
    };
  }
  const { size } = await look(
    'image',
    Buffer.from(new URLSearchParams(request.body.toString()).get('image')!, 'base64'),
  );
  if (request.url.startsWith('/rest/2.0/ocr/v1/general')) {
    const corner = (fx: number, fy: number) => at(size, fx, fy);
    return {
      log_id: 2,
      words_result_num: 1,
      words_result: [
        {
          location: rect(size),
          words: 'TSINGTAO 青岛',
          chars: [{ char: 'T', location: { left: corner(0.1, 0).x, top: corner(0, 0.2).y, width: 5, height: 9 } }],
          vertexes_location: [corner(0.1, 0.2), corner(0.4, 0.2), corner(0.4, 0.6), corner(0.1, 0.6)],
        },
      ],
    };
  }
  return { log_id: 3, result: [{ name: '狗', score: 0.9, location: rect(size) }] };
}

async function rekognitionAnswer(request: RecordedRequest) {
  const body = JSON.parse(request.body.toString());
  await look('Image', Buffer.from(body.Image.Bytes, 'base64'));
  if (String(request.headers['x-amz-target']).endsWith('DetectText')) {
    return {
      TextDetections: [
        {
          DetectedText: 'STOP',
          Type: 'LINE',
          Id: 0,
          Confidence: 99.5,
          Geometry: {
            BoundingBox: { Width: 0.3, Height: 0.1, Left: 0.2, Top: 0.4 },
            Polygon: [
              { X: 0.2, Y: 0.4 },
              { X: 0.5, Y: 0.4 },
            ],
          },
        },
      ],
    };
  }
  return {
    FaceDetails: [
      {
        BoundingBox: { Width: 0.3, Height: 0.4, Left: 0.1, Top: 0.2 },
        Landmarks: [{ Type: 'nose', X: 0.25, Y: 0.35 }],
        Confidence: 99.9,
      },
    ],
    OrientationCorrection: 'ROTATE_90',
  };
}

async function responder(request: RecordedRequest) {
  if (request.url.startsWith('/oauth/2.0/token')) return { body: JSON.stringify({ access_token: 'T', expires_in: 1 }) };
  const answer = request.url.startsWith('/rest/')
    ? await baiduAnswer(request)
    : request.headers['x-amz-target']
      ? await rekognitionAnswer(request)
      : await faceppAnswer(request);
  return { body: JSON.stringify(answer) };
}

/** A nested value of a parsed answer, by keys and indices (the tests know the shapes they asked for). */
const dig = (value: unknown, ...keys: (string | number)[]): unknown =>
  keys.reduce((v, key) => (v as Record<string | number, unknown> | undefined)?.[key], value);

/**
 * A value the API wrote in sent pixels, brought to the client's: the expected number, exactly. Written as the API
 * wrote it: an integer stays an integer, a decimal keeps its number of decimals (JSON.stringify writes 32.0 as 32).
 */
const back = (sentValue: number, client: number, sent: number) => {
  const factor = 10 ** (String(sentValue).split('.')[1]?.length ?? 0);
  return Math.round(((sentValue * client) / sent) * factor) / factor;
};

describe('resized uploads: every coordinate the client gets means its own pixels', () => {
  let upstream: FakeUpstream;
  let proxy: TestProxy;
  let dir: string;
  const recorded: Exchange[] = [];
  // Stored 1001x667 (shown upright as 667x1001 by orientation 6 and 8); a second one 1500x2000 for compare.
  const photos: Record<string, { bytes: Buffer; size: PixelSize; path: string }> = {};

  before(async () => {
    upstream = await startFakeUpstream(responder);
    proxy = await startTestProxy(
      upstream.url,
      {},
      { policy: resizingPolicy(SIDE), loop: { plan() {}, record: (exchange) => void recorded.push(exchange) } },
    );
    AipSdk.HttpClient.setRequestInterceptor((options) => ({
      ...options,
      url: options.url.replace('https://aip.baidubce.com', proxy.url),
    }));
    dir = await mkdtemp(path.join(tmpdir(), 'resized-'));
    for (const [name, width, height, orientation] of [
      ['six', 1001, 667, 6],
      ['eight', 1001, 667, 8],
      ['tall', 1500, 2000, 8],
    ] as const) {
      const bytes = await syntheticJpeg({ width, height, orientation });
      const file = path.join(dir, `${name}.jpg`);
      await writeFile(file, bytes);
      photos[name] = { bytes, size: { width, height }, path: file };
    }
  });
  after(async () => {
    await proxy.close();
    await upstream.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** The upstream got the photo resized to SIDE on its stored grid, its orientation tag kept. */
  function assertSentResized(field: string, photo: { size: PixelSize }, orientation: number): Seen {
    const got = seen.get(field)!;
    const long = Math.max(photo.size.width, photo.size.height);
    assert.deepEqual(got.size, {
      width: Math.round((photo.size.width * SIDE) / long),
      height: Math.round((photo.size.height * SIDE) / long),
    });
    assert.equal(got.orientation, orientation, 'EXIF orientation kept');
    return got;
  }

  /** A Face++ rectangle and points of the client's photo: exactly the sent ones scaled per axis, and where it meant. */
  function assertFaceppFace(face: unknown, photo: { size: PixelSize }, sent: PixelSize) {
    const { width: W, height: H } = photo.size;
    const expectedRect = rect(sent);
    assert.deepEqual(dig(face, 'face_rectangle'), {
      left: back(expectedRect.left, W, sent.width),
      top: back(expectedRect.top, H, sent.height),
      width: back(expectedRect.width, W, sent.width),
      height: back(expectedRect.height, H, sent.height),
    });
    // In the client's pixels: within one sent pixel of where the API meant (10% / 20% of the photo's stored frame).
    const left = Number(dig(face, 'face_rectangle', 'left'));
    const top = Number(dig(face, 'face_rectangle', 'top'));
    assert.ok(Math.abs(left - 0.1 * W) <= W / sent.width, `left ${left}`);
    assert.ok(Math.abs(top - 0.2 * H) <= H / sent.height, `top ${top}`);
    const nose = at(sent, 0.25, 0.35);
    assert.deepEqual(dig(face, 'landmark', 'nose_tip'), {
      x: back(nose.x, W, sent.width),
      y: back(nose.y, H, sent.height),
    });
    // Per-axis factors: 320x213 -> 1001x667 puts (320, 213) on (1001, 667); one factor for both axes would not.
    assert.deepEqual(dig(face, 'landmark', 'corner'), { x: W, y: H });
  }

  const curlForm = async (route: string, fields: string[]) => {
    const { stdout } = await run('curl', [
      '-sS',
      '-D',
      '-',
      ...fields.flatMap((f) => ['-F', f]),
      `${proxy.url}${route}`,
    ]);
    const [head, body] = stdout.split('\r\n\r\n') as [string, string];
    return { head, body, json: JSON.parse(body) };
  };

  test('Face++ detect (curl -F, orientation 6): rectangle and landmarks in the client photo', async () => {
    const photo = photos.six!;
    const { head, body, json } = await curlForm('/facepp/v3/detect', [
      'api_key=K',
      'api_secret=S',
      `image_file=@${photo.path}`,
      'return_landmark=1',
    ]);
    const sent = assertSentResized('image_file', photo, 6).size;
    assertFaceppFace(json.faces[0], photo, sent);
    assert.match(head, new RegExp(`content-length: ${Buffer.byteLength(body)}\\r?$`, 'im'));
    assert.equal(json.image_id, 'i', 'the rest of the answer as the API sent it');
  });

  test('Face++ compare (curl -F, orientations 6 and 8, two sizes): each image in its own pixels', async () => {
    const { json } = await curlForm('/facepp/v3/compare', [
      'api_key=K',
      'api_secret=S',
      `image_file1=@${photos.six!.path}`,
      `image_file2=@${photos.tall!.path}`,
    ]);
    assertFaceppFace(json.faces1[0], photos.six!, assertSentResized('image_file1', photos.six!, 6).size);
    assertFaceppFace(json.faces2[0], photos.tall!, assertSentResized('image_file2', photos.tall!, 8).size);
    assert.equal(json.confidence, 97.1);
  });

  test('Face++ detect with face_rectangle: that image keeps its size, so the region still means its pixels', async () => {
    const photo = photos.six!;
    const { json } = await curlForm('/facepp/v3/detect', [
      'api_key=K',
      'api_secret=S',
      `image_file=@${photo.path}`,
      'face_rectangle=10,20,30,40',
    ]);
    assert.deepEqual(seen.get('image_file')!.size, photo.size, 'sent at its stored size');
    assert.ok(json.faces.length > 0);
  });

  test('the decision log gets the same boxes, unrounded (one scaling rule)', () => {
    const detect = recorded.find((e) => e.operation?.name === 'facepp/v3/detect')!;
    const logged = detect.slots[0]!.answer!.faces[0]!.box;
    const sent = rect({ width: 320, height: 213 });
    assert.ok(Math.abs(logged.left - (sent.left * 1001) / 320) < 1e-9);
    assert.ok(Math.abs(logged.top - (sent.top * 667) / 213) < 1e-9);
  });

  test('Baidu face detect (baidu-aip-sdk, orientation 8): location, landmark, landmark72, landmark150', async () => {
    const photo = photos.eight!;
    const client = new AipSdk.face('app', 'AK', 'SK');
    const answer = await client.detect(photo.bytes.toString('base64'), 'BASE64', {
      face_field: 'landmark,landmark72,landmark150',
    });
    const sent = assertSentResized('image', photo, 8).size;
    const { width: W, height: H } = photo.size;
    const face = dig(answer, 'result', 'face_list', 0);
    assert.deepEqual(dig(face, 'location'), {
      left: back(decimals(0.1 * sent.width), W, sent.width),
      top: back(decimals(0.2 * sent.height), H, sent.height),
      width: back(Math.round(0.3 * sent.width), W, sent.width),
      height: back(Math.round(0.4 * sent.height), H, sent.height),
      rotation: 7,
    });
    const point = (fx: number, fy: number) => ({
      x: back(decimals(fx * sent.width), W, sent.width),
      y: back(decimals(fy * sent.height), H, sent.height),
    });
    assert.deepEqual(dig(face, 'landmark'), [point(0.2, 0.3), point(0.3, 0.3)]);
    assert.deepEqual(dig(face, 'landmark72'), [point(0.15, 0.4)]);
    assert.deepEqual(dig(face, 'landmark150'), { nose_tip: point(0.25, 0.35) });
    assert.deepEqual(dig(face, 'angle'), { yaw: 1.5, pitch: -2.25, roll: 7.1 }, 'angles untouched');
  });

  test('Baidu OCR general (baidu-aip-sdk, orientation 6): line location, chars and vertexes', async () => {
    const photo = photos.six!;
    const client = new AipSdk.ocr('app', 'AK', 'SK');
    const answer = await client.general(photo.bytes.toString('base64'), {
      recognize_granularity: 'small',
      vertexes_location: 'true',
    });
    const sent = assertSentResized('image', photo, 6).size;
    const { width: W, height: H } = photo.size;
    const line = dig(answer, 'words_result', 0);
    const r = rect(sent);
    assert.deepEqual(dig(line, 'location'), {
      left: back(r.left, W, sent.width),
      top: back(r.top, H, sent.height),
      width: back(r.width, W, sent.width),
      height: back(r.height, H, sent.height),
    });
    assert.deepEqual(dig(line, 'chars', 0, 'location'), {
      left: back(at(sent, 0.1, 0).x, W, sent.width),
      top: back(at(sent, 0, 0.2).y, H, sent.height),
      width: back(5, W, sent.width),
      height: back(9, H, sent.height),
    });
    const corner = at(sent, 0.4, 0.6);
    assert.deepEqual(dig(line, 'vertexes_location', 2), {
      x: back(corner.x, W, sent.width),
      y: back(corner.y, H, sent.height),
    });
    assert.equal(dig(line, 'words'), 'TSINGTAO 青岛');
  });

  test('Baidu multi_object_detect (baidu-aip-sdk, orientation 8): each object location', async () => {
    const photo = photos.eight!;
    const client = new AipSdk.imageClassify('app', 'AK', 'SK');
    const answer = await client.multiObjectDetect(photo.bytes.toString('base64'));
    const sent = assertSentResized('image', photo, 8).size;
    const r = rect(sent);
    const { width: W, height: H } = photo.size;
    assert.deepEqual(dig(answer, 'result', 0), {
      name: '狗',
      score: 0.9,
      location: {
        left: back(r.left, W, sent.width),
        top: back(r.top, H, sent.height),
        width: back(r.width, W, sent.width),
        height: back(r.height, H, sent.height),
      },
    });
  });

  test('Rekognition (AWS SDK, orientations 6 and 8): ratios reach the client unchanged', async () => {
    const client = new RekognitionClient({
      endpoint: proxy.url,
      region: 'eu-west-1',
      credentials: CLIENT_CREDENTIALS,
      maxAttempts: 1,
    });
    try {
      const faces = await client.send(new DetectFacesCommand({ Image: { Bytes: photos.six!.bytes } }));
      assertSentResized('Image', photos.six!, 6);
      assert.deepEqual(faces.FaceDetails?.[0]?.BoundingBox, { Width: 0.3, Height: 0.4, Left: 0.1, Top: 0.2 });
      assert.deepEqual(faces.FaceDetails?.[0]?.Landmarks, [{ Type: 'nose', X: 0.25, Y: 0.35 }]);
      const text = await client.send(new DetectTextCommand({ Image: { Bytes: photos.eight!.bytes } }));
      assertSentResized('Image', photos.eight!, 8);
      assert.deepEqual(text.TextDetections?.[0]?.Geometry, {
        BoundingBox: { Width: 0.3, Height: 0.1, Left: 0.2, Top: 0.4 },
        Polygon: [
          { X: 0.2, Y: 0.4 },
          { X: 0.5, Y: 0.4 },
        ],
      });
    } finally {
      client.destroy();
    }
  });
});
