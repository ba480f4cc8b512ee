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
  /** Colour channels plus alpha, as sharp reports them (1 = greyscale). Absent when unknown. */
  channels?: number;
  /** JPEG header facts (present for JPEGs whose header parsed): read without decoding any pixel. */
  jpeg?: JpegHeaderFacts;
}

/** What a JPEG's marker segments say, for the policy's header-only features. */
export interface JpegHeaderFacts {
  /** Byte offset of the first SOS marker: everything before it is header (tables, EXIF, ICC, ...). */
  scanOffset: number;
  /** Mean entry of the luminance quantisation table (table 0), 1..255 (65535 for 16-bit tables). */
  lumaQuantMean: number;
  /** Mean entry of the chrominance table (table 1), absent for greyscale / single-table files. */
  chromaQuantMean?: number;
  progressive: boolean;
  /** sharp's notation, e.g. '4:2:0', '4:4:4' (absent when sharp does not say, e.g. greyscale may say '4:4:4'). */
  chromaSubsampling?: string;
}

/**
 * What the policy may ask the encoder for: a JPEG quality, and optionally a resolution, as the longest side in pixels
 * of what is sent (the image is never enlarged; absent = the stored size). More knobs may be added; quality is always
 * there.
 */
export interface EncodeAction {
  quality: number;
  maxSide?: number;
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
  /**
   * Refuse to decode JPEGs with more scans than this (progressive scan bombs: each scan walks every block of the
   * image, and a crafted scan costs a few bytes). Default SCAN_LIMITS.maxJpegScans.
   */
  maxJpegScans?: number;
  /** Refuse to decode JPEGs whose width x height x scans is over this: the decode's cost. Default SCAN_LIMITS. */
  maxScanPixels?: number;
}
