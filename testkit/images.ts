import sharp from 'sharp';

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
