import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DetectFacesCommand, DetectLabelsCommand, type RekognitionClient } from '@aws-sdk/client-rekognition';
import sharp from 'sharp';
import { type RunningEmulator, startEmulator } from '../../src/emulator/main.ts';
import { COUPLE, face, modelDir, rekognitionClient, skipWithoutData } from './helpers.ts';

/**
 * EXIF orientation per API. The photo: the couple, stored turned a quarter to the left with orientation tag 6 (as a
 * phone stores a portrait), so it shows upright only where the tag is applied. The references are PNGs (no EXIF) of
 * the pixels each reading gives: `upright` = tag applied, `sideways` = pixels as stored. (Decoding a JPEG and a PNG of
 * the same pixels resizes slightly differently, so boxes are compared to a tolerance.)
 */

interface Rect {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** Same boxes, in any order, each coordinate within `tolerance`. */
function sameBoxes(a: Rect[], b: Rect[], tolerance: number): boolean {
  if (a.length !== b.length) return false;
  const close = (x: Rect, y: Rect) =>
    (['left', 'top', 'width', 'height'] as const).every((k) => Math.abs(x[k] - y[k]) <= tolerance);
  return a.every((x) => b.some((y) => close(x, y)));
}

const ratioBoxes = (
  details: { BoundingBox?: { Left?: number; Top?: number; Width?: number; Height?: number } }[] = [],
) => details.map(({ BoundingBox: b }) => ({ left: b!.Left!, top: b!.Top!, width: b!.Width!, height: b!.Height! }));

describe('EXIF orientation: Rekognition applies it, Face++ and Baidu see the stored pixels', {
  skip: skipWithoutData,
}, () => {
  let emulator: RunningEmulator;
  let rekognition: RekognitionClient;
  let tagged: Buffer;
  let upright: Buffer;
  let sideways: Buffer;
  let token: string;
  before(async () => {
    emulator = await startEmulator({ modelDir, workers: 1 });
    rekognition = rekognitionClient(emulator.url);
    const base = await sharp(await face(COUPLE))
      .resize(900)
      .jpeg({ quality: 90 })
      .toBuffer();
    tagged = await sharp(base).rotate(270).withMetadata({ orientation: 6 }).jpeg({ quality: 90 }).toBuffer();
    upright = await sharp(tagged).autoOrient().png().toBuffer();
    sideways = await sharp(tagged).png().toBuffer();
    const response = await fetch(
      `${emulator.url}/oauth/2.0/token?grant_type=client_credentials&client_id=emulator-ak&client_secret=emulator-sk`,
      { method: 'POST' },
    );
    token = ((await response.json()) as { access_token: string }).access_token;
  });
  after(() => emulator?.close());

  const faceDetails = async (image: Buffer) =>
    ratioBoxes((await rekognition.send(new DetectFacesCommand({ Image: { Bytes: image } }))).FaceDetails);

  const faceppRects = async (image: Buffer): Promise<Rect[]> => {
    const form = new FormData();
    form.set('api_key', 'emulator-key');
    form.set('api_secret', 'emulator-secret');
    form.set('image_file', new Blob([new Uint8Array(image)]), 'x.jpg');
    const out = (await (await fetch(`${emulator.url}/facepp/v3/detect`, { method: 'POST', body: form })).json()) as {
      faces: { face_rectangle: Rect }[];
    };
    return out.faces.map((f) => f.face_rectangle);
  };

  const baiduRects = async (image: Buffer): Promise<Rect[]> => {
    const response = await fetch(`${emulator.url}/rest/2.0/face/v3/detect?access_token=${token}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ image: image.toString('base64'), image_type: 'BASE64', max_face_num: 10 }),
    });
    const out = (await response.json()) as { result: { face_list: { location: Rect & { rotation: number } }[] } };
    return out.result.face_list.map(({ location: { left, top, width, height } }) => ({ left, top, width, height }));
  };

  it('Rekognition DetectFaces answers boxes of the corrected image, as AWS documents for JPEGs', async () => {
    const fromTagged = await faceDetails(tagged);
    assert.equal(fromTagged.length, 2);
    assert.ok(sameBoxes(fromTagged, await faceDetails(upright), 0.005));
    // Without the tag the same pixels are a different picture (faces on their side).
    assert.ok(!sameBoxes(fromTagged, await faceDetails(sideways), 0.05));
  });

  it('Rekognition DetectLabels reads the corrected image too: the same labels, person boxes upright', async () => {
    const labels = async (image: Buffer) =>
      (await rekognition.send(new DetectLabelsCommand({ Image: { Bytes: image } }))).Labels ?? [];
    const persons = (found: Awaited<ReturnType<typeof labels>>) =>
      ratioBoxes(found.find((l) => l.Name === 'Person')?.Instances);
    const [fromTagged, fromUpright] = [await labels(tagged), await labels(upright)];
    assert.deepEqual(fromTagged.map((l) => l.Name).sort(), fromUpright.map((l) => l.Name).sort());
    assert.ok(persons(fromTagged).length > 0);
    assert.ok(sameBoxes(persons(fromTagged), persons(fromUpright), 0.02));
  });

  it('Rekognition with the rule switched off (rekognitionOrientation stored) reads the stored pixels', async () => {
    emulator.configure({ rekognitionOrientation: 'stored' });
    try {
      assert.ok(sameBoxes(await faceDetails(tagged), await faceDetails(sideways), 0.005));
    } finally {
      emulator.configure({ rekognitionOrientation: 'exif' });
    }
  });

  for (const [api, rects, knob] of [
    ['Face++ detect', faceppRects, 'faceppOrientation'],
    ['Baidu face detect', baiduRects, 'baiduOrientation'],
  ] as const) {
    it(`${api}: pixel boxes of the stored frame by default (undocumented), of the upright one when switched`, async () => {
      const stored = await rects(tagged);
      assert.ok(sameBoxes(stored, await rects(sideways), 4));
      for (const r of stored) assert.ok(r.left + r.width <= 627 + 1 && r.top + r.height <= 900 + 1, JSON.stringify(r));
      emulator.configure({ [knob]: 'exif' });
      try {
        const applied = await rects(tagged);
        assert.equal(applied.length, 2);
        assert.ok(sameBoxes(applied, await rects(upright), 4));
        assert.ok(!sameBoxes(applied, stored, 40));
        // Boxes now in the 900x627 upright frame: one face on each half.
        const lefts = applied.map((r) => r.left + r.width / 2).sort((a, b) => a - b);
        assert.ok(lefts[0]! < 450 && lefts[1]! > 450);
        for (const r of applied) assert.ok(r.left + r.width <= 901 && r.top + r.height <= 628, JSON.stringify(r));
      } finally {
        emulator.configure({ [knob]: 'stored' });
      }
    });
  }
});
