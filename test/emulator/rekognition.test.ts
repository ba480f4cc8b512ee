import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CompareFacesCommand,
  DetectFacesCommand,
  DetectLabelsCommand,
  type RekognitionClient,
} from '@aws-sdk/client-rekognition';
import { type RunningEmulator, startEmulator } from '../../src/emulator/main.ts';
import { COUPLE, DOG, face, imagenet, modelDir, rekognitionClient, skipWithoutData, solid } from './helpers.ts';

/** The SDK's error name for a failed call (the code the SDK read from the wire). */
async function errorName(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return (error as Error).name;
  }
  return 'no error';
}

describe('Rekognition emulator, driven by @aws-sdk/client-rekognition', { skip: skipWithoutData }, () => {
  let emulator: RunningEmulator;
  let rekognition: RekognitionClient;
  before(async () => {
    emulator = await startEmulator({ modelDir, workers: 1 });
    rekognition = rekognitionClient(emulator.url);
  });
  after(() => emulator?.close());

  it('labels a photo of a dog as a dog, with object instances as ratio boxes', async () => {
    const out = await rekognition.send(new DetectLabelsCommand({ Image: { Bytes: await imagenet(DOG) } }));
    const names = (out.Labels ?? []).map((l) => l.Name);
    assert.ok(names.includes('Dog'), `labels: ${names.join(', ')}`);
    const withBoxes = (out.Labels ?? []).filter((l) => (l.Instances ?? []).length > 0);
    assert.ok(withBoxes.length > 0, 'the detector found at least one object');
    for (const label of withBoxes) {
      for (const { BoundingBox: b } of label.Instances ?? []) {
        for (const v of [b?.Left, b?.Top, b?.Width, b?.Height]) assert.ok(v !== undefined && v >= 0 && v <= 1);
      }
    }
  });

  it('honours MaxLabels and MinConfidence', async () => {
    const out = await rekognition.send(
      new DetectLabelsCommand({ Image: { Bytes: await imagenet(DOG) }, MaxLabels: 2, MinConfidence: 10 }),
    );
    assert.equal(out.Labels?.length, 2);
    for (const label of out.Labels ?? []) assert.ok((label.Confidence ?? 0) >= 10);
  });

  it('gives the same answer for the same bytes', async () => {
    const bytes = await imagenet(DOG);
    const a = await rekognition.send(new DetectLabelsCommand({ Image: { Bytes: bytes } }));
    const b = await rekognition.send(new DetectLabelsCommand({ Image: { Bytes: bytes } }));
    assert.deepEqual(a.Labels, b.Labels);
  });

  it('finds both faces of the couple photo at plausible boxes', async () => {
    const out = await rekognition.send(new DetectFacesCommand({ Image: { Bytes: await face(COUPLE) } }));
    assert.equal(out.FaceDetails?.length, 2);
    const lefts = (out.FaceDetails ?? []).map((f) => f.BoundingBox?.Left ?? -1).sort();
    assert.ok(lefts[0]! < 0.5 && lefts[1]! > 0.5, 'one face on each side');
    for (const f of out.FaceDetails ?? []) assert.ok((f.Confidence ?? 0) > 70);
  });

  it('compares a face with itself as a match (crude similarity) and reports the source face', async () => {
    const bytes = await face(COUPLE);
    const out = await rekognition.send(
      new CompareFacesCommand({
        SourceImage: { Bytes: bytes },
        TargetImage: { Bytes: bytes },
        SimilarityThreshold: 90,
      }),
    );
    assert.ok(out.SourceImageFace?.BoundingBox);
    assert.equal(out.FaceMatches?.length, 1);
    assert.equal((out.FaceMatches?.length ?? 0) + (out.UnmatchedFaces?.length ?? 0), 2);
  });

  it('switches the DetectLabels backend at run time (classifier only: no instances)', async () => {
    const bytes = await imagenet(DOG);
    emulator.setLabelsBackend('classifier');
    try {
      const out = await rekognition.send(new DetectLabelsCommand({ Image: { Bytes: bytes }, MinConfidence: 1 }));
      assert.ok((out.Labels ?? []).every((l) => (l.Instances ?? []).length === 0));
      assert.ok((out.Labels ?? []).some((l) => l.Name === 'Dog'));
    } finally {
      emulator.setLabelsBackend('detector+classifier');
    }
  });

  it('refuses a wrong secret with InvalidSignatureException and an unknown key with UnrecognizedClientException', async () => {
    const Image = { Bytes: await solid(100, 100) };
    assert.equal(
      await errorName(
        rekognitionClient(emulator.url, 'AKIDEMULATOR', 'wrong').send(new DetectLabelsCommand({ Image })),
      ),
      'InvalidSignatureException',
    );
    assert.equal(
      await errorName(
        rekognitionClient(emulator.url, 'AKIDOTHER', 'emulator-secret').send(new DetectLabelsCommand({ Image })),
      ),
      'UnrecognizedClientException',
    );
  });

  it('answers the AWS errors for an S3 object, a too small image and a format it does not take', async () => {
    const s3 = rekognition.send(new DetectLabelsCommand({ Image: { S3Object: { Bucket: 'b', Name: 'k.jpg' } } }));
    assert.equal(await errorName(s3), 'InvalidS3ObjectException');
    const small = rekognition.send(new DetectFacesCommand({ Image: { Bytes: await solid(60, 120) } }));
    assert.equal(await errorName(small), 'InvalidParameterException');
    const gif = rekognition.send(new DetectLabelsCommand({ Image: { Bytes: await solid(100, 100, 'gif') } }));
    assert.equal(await errorName(gif), 'InvalidImageFormatException');
  });

  it('refuses an image over 5 MB with ImageTooLargeException', async () => {
    const big = Buffer.concat([await solid(100, 100), Buffer.alloc(5_300_000)]);
    assert.equal(
      await errorName(rekognition.send(new DetectLabelsCommand({ Image: { Bytes: big } }))),
      'ImageTooLargeException',
    );
  });
});
