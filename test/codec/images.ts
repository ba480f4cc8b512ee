import sharp from 'sharp';

/** A deterministic photo-like test image: smooth gradients plus seeded noise (texture), raw RGB. */
export function syntheticRgb(width: number, height: number, seed = 1): Buffer {
  const data = Buffer.alloc(width * height * 3);
  let state = seed >>> 0 || 1;
  const noise = (): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return ((state >>> 0) % 61) - 30;
  };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = clamp((255 * x) / width + noise());
      data[i + 1] = clamp((255 * y) / height + noise());
      data[i + 2] = clamp(128 + 100 * Math.sin((x + y) / 9) + noise());
    }
  }
  return data;
}

function clamp(v: number): number {
  return Math.max(0, Math.min(255, Math.round(v)));
}

export function syntheticJpeg(width: number, height: number, quality: number, seed = 1): Promise<Buffer> {
  return sharp(syntheticRgb(width, height, seed), { raw: { width, height, channels: 3 } })
    .jpeg({ quality })
    .toBuffer();
}

/** Left half pure red, right half pure blue: orientation and colour are easy to check after re-encoding. */
export function twoColourJpeg(width: number, height: number, orientation?: number): Promise<Buffer> {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      if (x < width / 2) data[i] = 255;
      else data[i + 2] = 255;
    }
  }
  let pipeline = sharp(data, { raw: { width, height, channels: 3 } });
  if (orientation) pipeline = pipeline.withMetadata({ orientation });
  return pipeline.jpeg({ quality: 90 }).toBuffer();
}

/** Rewrite the frame size in a JPEG's SOF0/SOF2 header: a tiny file that claims to be huge (decompression bomb). */
export function withClaimedSize(jpeg: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(jpeg);
  for (let i = 2; i < out.length - 9; i++) {
    if (out[i] === 0xff && (out[i + 1] === 0xc0 || out[i + 1] === 0xc2)) {
      out.writeUInt16BE(height, i + 5);
      out.writeUInt16BE(width, i + 7);
      return out;
    }
  }
  throw new Error('no SOF marker');
}

export const sharedImagesDir = new URL('../../../shared/data/images/', import.meta.url);
