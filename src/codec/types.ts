/** What the codec learns about an image from its header alone (sharp metadata, ~0.2 ms). */
export interface InspectedImage {
  bytes: Buffer;
  format: 'jpeg' | 'png' | 'webp' | 'gif' | 'tiff' | 'bmp' | 'other';
  /** Stored pixel size, before EXIF orientation. */
  width: number;
  height: number;
  /** EXIF orientation 1..8 (1 when absent). */
  orientation: number;
  hasAlpha: boolean;
  /** Colour space as sharp names it (srgb, cmyk, b-w, ...). */
  space: string;
  /** Estimated JPEG quality of the source (from its quantisation tables), when it is a JPEG. */
  sourceQuality?: number;
}

/** What the policy may ask the encoder for. More knobs (chroma, scale) can be added; quality is always there. */
export interface EncodeAction {
  quality: number;
}

export interface EncodeResult {
  bytes: Buffer;
  width: number;
  height: number;
}

/** Explicit, configurable limits of image work. */
export interface CodecLimits {
  /** Refuse to decode images with more pixels than this (decompression bombs). */
  maxInputPixels: number;
}
