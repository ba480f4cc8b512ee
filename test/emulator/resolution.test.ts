import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DetectFacesCommand, DetectLabelsCommand, type RekognitionClient } from '@aws-sdk/client-rekognition';
import sharp from 'sharp';
import { type RunningEmulator, startEmulator } from '../../src/emulator/main.ts';
import type { RatioBox } from '../../src/emulator/models.ts';
import { CLUB, DOG, imagenet, modelDir, photo, rekognitionClient, skipWithoutData } from './helpers.ts';

const resized = (image: Buffer, width: number) => sharp(image).resize(width).jpeg({ quality: 90 }).toBuffer();

function iou(a: RatioBox, b: RatioBox): number {
  const w = Math.max(0, Math.min(a.left + a.width, b.left + b.width) - Math.max(a.left, b.left));
  const h = Math.max(0, Math.min(a.top + a.height, b.top + b.height) - Math.max(a.top, b.top));
  return (w * h) / (a.width * a.height + b.width * b.height - w * h);
}

async function baiduToken(url: string): Promise<string> {
  const response = await fetch(
    `${url}/oauth/2.0/token?grant_type=client_credentials&client_id=emulator-ak&client_secret=emulator-sk`,
    { method: 'POST' },
  );
  return ((await response.json()) as { access_token: string }).access_token;
}

/** Baidu face detect over HTTP, boxes as ratios of the uploaded image. */
async function baiduFaces(url: string, token: string, image: Buffer): Promise<RatioBox[]> {
  const { width = 1, height = 1 } = await sharp(image).metadata();
  const response = await fetch(`${url}/rest/2.0/face/v3/detect?access_token=${token}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ image: image.toString('base64'), image_type: 'BASE64', max_face_num: 120 }),
  });
  const out = (await response.json()) as {
    result: { face_list: { location: { left: number; top: number; width: number; height: number } }[] };
  };
  return out.result.face_list.map(({ location: l }) => ({
    left: l.left / width,
    top: l.top / height,
    width: l.width / width,
    height: l.height / height,
  }));
}

describe('working resolution: what a downscaled upload keeps, and switching backends at run time', {
  skip: skipWithoutData,
}, () => {
  let emulator: RunningEmulator;
  let rekognition: RekognitionClient;
  let club: Buffer;
  const detectFaces = async (image: Buffer) =>
    ((await rekognition.send(new DetectFacesCommand({ Image: { Bytes: image } }))).FaceDetails ?? []).map((f) => ({
      left: f.BoundingBox!.Left!,
      top: f.BoundingBox!.Top!,
      width: f.BoundingBox!.Width!,
      height: f.BoundingBox!.Height!,
    }));
  before(async () => {
    emulator = await startEmulator({ modelDir, workers: 1 });
    rekognition = rekognitionClient(emulator.url);
    club = await photo(CLUB);
  });
  after(() => emulator?.close());

  it('Rekognition DetectFaces: more than 1920x1080 buys nothing, less loses the faces under 40 px there', async () => {
    const full = await detectFaces(club); // 1920x1440: seen at 1440x1080
    const atWorking = await detectFaces(await resized(club, 1440));
    const half = await detectFaces(await resized(club, 960));
    const third = await detectFaces(await resized(club, 640));
    assert.ok(full.length >= 12, `${full.length} faces at full resolution`);
    // The service shrinks to its working resolution anyway: an upload already there gets the same faces.
    assert.equal(atWorking.length, full.length);
    for (const f of full) assert.ok(atWorking.some((g) => iou(f, g) >= 0.8));
    // Faces of 50-77 px at 1440 are 35-52 px at 960 and 23-35 px at 640: under AWS's 40 px minimum they go.
    assert.ok(half.length < full.length && half.length > 0, `${half.length} faces at 960 px`);
    assert.equal(third.length, 0);
  });

  it("YuNet at the image's own resolution behind Baidu finds a 27 px face that a 960 px upload loses", async () => {
    const token = await baiduToken(emulator.url);
    const before = await baiduFaces(emulator.url, token, club); // default: 1920x1080
    emulator.configure({ baiduFaceDetect: 'yunet@native' });
    try {
      const full = await baiduFaces(emulator.url, token, club);
      const small = await baiduFaces(emulator.url, token, await resized(club, 960));
      assert.ok(full.length >= before.length);
      const smallest = [...full].sort((a, b) => a.width - b.width)[0]!;
      assert.ok(smallest.width * 1920 < 32, `smallest face ${smallest.width * 1920} px`);
      assert.ok(!small.some((f) => iou(f, smallest) >= 0.5), 'the smallest face is gone at 960 px');
      // The larger faces survive the downscale.
      const large = full.filter((f) => f.width * 1920 >= 60);
      assert.ok(large.every((f) => small.some((g) => iou(f, g) >= 0.5)));
    } finally {
      emulator.configure({ baiduFaceDetect: 'yunet@1920x1080' });
    }
  });

  it('switches Baidu advanced_general to MobileNetV3-Small at run time: same class, its own scores', async () => {
    const token = await baiduToken(emulator.url);
    const classify = async () => {
      const response = await fetch(
        `${emulator.url}/rest/2.0/image-classify/v2/advanced_general?access_token=${token}`,
        {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: `image=${encodeURIComponent((await imagenet(DOG)).toString('base64'))}`,
        },
      );
      return ((await response.json()) as { result: { keyword: string; score: number; root: string }[] }).result;
    };
    const v2 = await classify();
    const set = await fetch(`${emulator.url}/__emulator/config`, {
      method: 'POST',
      body: JSON.stringify({ baiduAdvancedGeneral: 'mobilenet-v3-small' }),
    });
    assert.equal(((await set.json()) as { baiduAdvancedGeneral: string }).baiduAdvancedGeneral, 'mobilenet-v3-small');
    try {
      const v3 = await classify();
      assert.equal(v3[0]!.keyword, v2[0]!.keyword);
      assert.equal(v3[0]!.root, 'Animal-Dog');
      assert.notEqual(v3[0]!.score, v2[0]!.score);
    } finally {
      emulator.configure({ baiduAdvancedGeneral: 'mobilenetv2-12-int8' });
    }
  });

  it('switches DetectFaces to UltraFace (no landmarks) and DetectLabels to MobileNetV3 + YOLOX at run time', async () => {
    const withYunet = await rekognition.send(new DetectFacesCommand({ Image: { Bytes: club } }));
    assert.ok(withYunet.FaceDetails?.every((f) => f.Landmarks?.length === 5));
    emulator.configure({
      rekognitionDetectFaces: 'ultraface-rfb-320',
      rekognitionDetectLabels: 'mobilenet-v3-small+yolox-nano',
    });
    try {
      const ultra = await rekognition.send(new DetectFacesCommand({ Image: { Bytes: club } }));
      assert.ok((ultra.FaceDetails?.length ?? 0) > 0);
      assert.ok(ultra.FaceDetails?.every((f) => f.Landmarks === undefined));
      const labels = await rekognition.send(new DetectLabelsCommand({ Image: { Bytes: await imagenet(DOG) } }));
      const dog = labels.Labels?.find((l) => l.Name === 'Dog');
      assert.ok(dog && (dog.Instances?.length ?? 0) > 0, 'Dog with an instance box from YOLOX');
    } finally {
      emulator.configure({
        rekognitionDetectFaces: 'yunet@1920x1080',
        rekognitionDetectLabels: 'mobilenetv2-12-int8+fastestdet',
      });
    }
  });
});
