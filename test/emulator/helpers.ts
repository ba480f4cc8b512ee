import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RekognitionClient } from '@aws-sdk/client-rekognition';
import sharp from 'sharp';
import type { Inference } from '../../src/emulator/inference.ts';

/** ../shared/data beside the repository; emulator tests skip with this message when it is absent. */
export const dataDir = fileURLToPath(new URL('../../../shared/data', import.meta.url));
export const modelDir = join(dataDir, 'models');
export const imagenetDir = join(dataDir, 'images', 'imagenet-sample');
export const facesDir = join(dataDir, 'images', 'faces');
export const photosDir = join(dataDir, 'images', 'photos');
export const hasData =
  existsSync(join(modelDir, 'mobilenetv2-12-int8.onnx')) &&
  existsSync(join(modelDir, 'face_detection_yunet_2026may.onnx')) &&
  existsSync(imagenetDir) &&
  existsSync(facesDir) &&
  existsSync(photosDir);
export const skipWithoutData: string | false = hasData
  ? false
  : `needs ${dataDir} (models and images); absent here, skipped`;

export const imagenet = (file: string) => readFile(join(imagenetDir, file));
export const face = (file: string) => readFile(join(facesDir, file));
export const photo = (file: string) => readFile(join(photosDir, file));

/** The fixed validation split: sorted names, index % 5 == 4. */
export function validationPhotos(): string[] {
  return readdirSync(imagenetDir)
    .sort()
    .filter((_, i) => i % 5 === 4);
}

export const jpeg = (bytes: Buffer, quality: number) => sharp(bytes).jpeg({ quality }).toBuffer();

export const solid = (width: number, height: number, format: 'jpeg' | 'png' | 'gif' | 'webp' = 'jpeg') =>
  sharp({ create: { width, height, channels: 3, background: { r: 90, g: 120, b: 150 } } })
    .toFormat(format)
    .toBuffer();

export const DOG = 'n02094433_Yorkshire_terrier.JPEG';
export const COUPLE = 'deepface_tests_unit_dataset_couple.jpg';
/** Phone photo, 1920x1440, about 20 people whose faces are 65-100 px wide. */
export const CLUB = 'faces-group_club-party-20-people.jpg';
/** Phone photo, 1920x1537, four women, faces 150-200 px. */
export const FOUR_WOMEN = 'faces-group_four-women-window.jpg';

/** An inference that sees nothing: for routes and admission tests that need no models. */
export const emptyInference: Inference = {
  run: async () => ({ frame: { width: 100, height: 100 }, working: { width: 100, height: 100 }, results: [] }),
  close: async () => {},
};

/** The real AWS SDK pointed at an emulator, with the emulator's default credentials (or others, to be refused). */
export const rekognitionClient = (url: string, accessKeyId = 'AKIDEMULATOR', secretAccessKey = 'emulator-secret') =>
  new RekognitionClient({
    endpoint: url,
    region: 'us-east-1',
    credentials: { accessKeyId, secretAccessKey },
    maxAttempts: 1,
  });
