/**
 * Estimate the quality a JPEG was saved at, from its quantisation tables (DQT marker), without decoding it.
 *
 * Encoders built on libjpeg (libjpeg-turbo, mozjpeg with standard tables, sharp/libvips, Pillow, most web tools) derive
 * their tables from the Annex K example tables scaled by `quality`:
 *   scale = quality < 50 ? floor(5000 / quality) : 200 - 2 * quality
 *   entry = clamp(floor((base * scale + 50) / 100), 1, 255)
 * We invert that by trying every quality 1..100 and keeping the one whose scaled tables are closest (sum of absolute
 * differences) to the file's. For libjpeg-made files the match is exact; for cameras with their own tables the result is
 * the nearest libjpeg quality, which is what the policy wants to know ("how much detail is left").
 */

/** Annex K luminance table, natural (row-major) order. */
const BASE_LUMA = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51,
  87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101,
  72, 92, 95, 98, 112, 100, 103, 99,
];
/** Annex K chrominance table, natural order. */
const BASE_CHROMA = [
  17,
  18,
  24,
  47,
  99,
  99,
  99,
  99,
  18,
  21,
  26,
  66,
  99,
  99,
  99,
  99,
  24,
  26,
  56,
  99,
  99,
  99,
  99,
  99,
  47,
  66,
  99,
  99,
  99,
  99,
  99,
  99,
  ...new Array<number>(32).fill(99),
];
/** DQT stores entries in zig-zag order: entry k belongs to natural position ZIGZAG[k]. */
const ZIGZAG = [
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
  35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47,
  55, 62, 63,
];

/** Quantisation tables by table id (0 = luminance by convention, 1 = chrominance), natural order. */
export type QuantTables = Map<number, number[]>;

/** Read every DQT table from the header (stops at the first SOS). Returns an empty map for non-JPEG or broken headers. */
export function parseQuantTables(bytes: Uint8Array): QuantTables {
  const tables: QuantTables = new Map();
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return tables;
  let pos = 2;
  while (pos + 4 <= bytes.length) {
    if (bytes[pos] !== 0xff) return tables; // lost sync: not a marker where one must be
    const marker = bytes[pos + 1]!;
    if (marker === 0xff) {
      pos += 1; // fill byte
      continue;
    }
    if (marker === 0xda || marker === 0xd9) return tables; // start of scan / end of image: header is over
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      pos += 2; // markers without a length
      continue;
    }
    const length = (bytes[pos + 2]! << 8) | bytes[pos + 3]!;
    const end = pos + 2 + length;
    if (length < 2 || end > bytes.length) return tables;
    if (marker === 0xdb) readDqtSegment(bytes, pos + 4, end, tables);
    pos = end;
  }
  return tables;
}

function readDqtSegment(bytes: Uint8Array, start: number, end: number, into: QuantTables): void {
  let p = start;
  while (p < end) {
    const precision = bytes[p]! >> 4; // 0: 8-bit entries, 1: 16-bit entries
    const id = bytes[p]! & 0x0f;
    p += 1;
    const entrySize = precision === 0 ? 1 : 2;
    if (p + 64 * entrySize > end) return;
    const table = new Array<number>(64);
    for (let k = 0; k < 64; k++) {
      table[ZIGZAG[k]!] = entrySize === 1 ? bytes[p + k]! : (bytes[p + 2 * k]! << 8) | bytes[p + 2 * k + 1]!;
    }
    into.set(id, table);
    p += 64 * entrySize;
  }
}

/** libjpeg's table for a quality (jcparam.c, force_baseline = true). */
export function scaledTable(base: readonly number[], quality: number): number[] {
  const q = Math.min(100, Math.max(1, Math.round(quality)));
  const scale = q < 50 ? Math.floor(5000 / q) : 200 - 2 * q;
  return base.map((b) => Math.min(255, Math.max(1, Math.floor((b * scale + 50) / 100))));
}

// Every quality's tables, built once: building them per call was 200 arrays (about 110 KB of garbage) per image on the
// request path (a heap profile of the proxy under load).
const LUMA_BY_QUALITY = Array.from({ length: 100 }, (_, i) => scaledTable(BASE_LUMA, i + 1));
const CHROMA_BY_QUALITY = Array.from({ length: 100 }, (_, i) => scaledTable(BASE_CHROMA, i + 1));

export interface QualityEstimate {
  /** 1..100, the libjpeg quality whose tables are closest. */
  quality: number;
  /** Mean absolute difference per entry at that quality: 0 means the file was made by a libjpeg-style encoder. */
  meanAbsError: number;
}

/** The libjpeg quality closest to these tables (luminance required, chrominance used when present). */
export function qualityFromTables(luma: readonly number[], chroma?: readonly number[]): QualityEstimate {
  let best: QualityEstimate = { quality: 100, meanAbsError: Number.POSITIVE_INFINITY };
  const entries = chroma ? 128 : 64;
  // From 100 down with a strict "<": where tables coincide (all ones near 100) the highest quality wins.
  for (let q = 100; q >= 1; q--) {
    let error = sumAbsDiff(LUMA_BY_QUALITY[q - 1]!, luma);
    if (chroma) error += sumAbsDiff(CHROMA_BY_QUALITY[q - 1]!, chroma);
    const meanAbsError = error / entries;
    if (meanAbsError < best.meanAbsError) best = { quality: q, meanAbsError };
  }
  return best;
}

function sumAbsDiff(a: readonly number[], b: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < 64; i++) sum += Math.abs(a[i]! - (b[i] ?? 0));
  return sum;
}

/** Quality estimate for a JPEG file, or undefined when it has no readable luminance table. */
export function estimateJpegQuality(bytes: Uint8Array): QualityEstimate | undefined {
  const tables = parseQuantTables(bytes);
  const luma = tables.get(0);
  if (!luma) return undefined;
  return qualityFromTables(luma, tables.get(1));
}
