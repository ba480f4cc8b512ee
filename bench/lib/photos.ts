import { readFileSync } from 'node:fs';
import { hasSharedData, imagenetDir, validationPhotos } from '../../testkit/shared-data.ts';

export { hasSharedData, imagenetDir };

/** The imagenet-sample validation photos (sorted names, index % 5 == 4), read once. */
export function loadPhotos(): Buffer[] {
  return validationPhotos().map((file) => readFileSync(file));
}

/** A Rekognition DetectLabels request body for one photo, as the AWS SDK sends it (base64 inside JSON). */
export const detectLabelsBody = (photo: Buffer): Buffer =>
  Buffer.from(JSON.stringify({ Image: { Bytes: photo.toString('base64') }, MaxLabels: 10 }));

export const DETECT_LABELS_HEADERS = {
  'content-type': 'application/x-amz-json-1.1',
  'x-amz-target': 'RekognitionService.DetectLabels',
};
