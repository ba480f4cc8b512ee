import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

/** ../shared/data beside the repository, where CI has it. */
export const sharedData = fileURLToPath(new URL('../../../shared/data/', import.meta.url));
export const imagenetDir = path.join(sharedData, 'images', 'imagenet-sample');
export const facesDir = path.join(sharedData, 'images', 'faces');
export const hasSharedData = existsSync(imagenetDir);
export const skipWithoutData = hasSharedData ? false : `needs ${imagenetDir} (the shared data set); absent here`;

/** The validation split of imagenet-sample: sorted names, every 5th (index % 5 == 4). */
export function validationPhotos(): string[] {
  return readdirSync(imagenetDir)
    .sort()
    .filter((_, i) => i % 5 === 4)
    .map((name) => path.join(imagenetDir, name));
}

export const readPhoto = (file: string): Buffer => readFileSync(file);

/**
 * A photo-like JPEG generated here (no fixture files): smooth gradients plus noise, so quality really changes its size.
 * `orientation` adds an EXIF orientation tag without rotating pixels.
 */
export async function syntheticJpeg(
  options: { width?: number; height?: number; quality?: number; orientation?: number } = {},
): Promise<Buffer> {
  const { width = 400, height = 300, quality = 92, orientation } = options;
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const n = ((x * 7919 + y * 104729) % 61) - 30; // deterministic texture
      raw[i] = clamp((255 * x) / width + n);
      raw[i + 1] = clamp((255 * y) / height - n);
      raw[i + 2] = clamp(128 + 60 * Math.sin(x / 9) * Math.cos(y / 13) + n);
    }
  }
  let image = sharp(raw, { raw: { width, height, channels: 3 } });
  if (orientation) image = image.withMetadata({ orientation });
  return image.jpeg({ quality }).toBuffer();
}

const clamp = (v: number) => Math.max(0, Math.min(255, Math.round(v)));
