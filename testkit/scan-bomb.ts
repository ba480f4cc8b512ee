/**
 * Crafted progressive JPEGs for the scan-bomb tests and benchmark (issue 11, item 2), written here byte by byte so no
 * binary is committed. Each file is a *valid* JPEG: a flat grey image (every AC coefficient zero) coded as one DC scan
 * followed by as many AC scans as asked for, each a legal step of the progression (spectral selection one coefficient
 * at a time, successive approximation from a high bit down). Zero coefficients code as end-of-band runs of up to 32,767
 * blocks, so a scan costs the file a few dozen bytes while the decoder still walks every block of the image for it:
 * a 4096x4096 file with 883 scans is about 60 KB and costs seconds of CPU to decode.
 */

export interface ScanBombOptions {
  width: number;
  height: number;
  /** Total scans, the DC scan included (at least 1). */
  scans: number;
  /** 1 (greyscale) or 3 (YCbCr, 4:2:0 as cameras write it). Default 1. */
  components?: 1 | 3;
}

/** The two files of the issue's report: 10000x10000 with hundreds of scans, and 4096x4096 with 883. */
export const ISSUE_SCAN_BOMBS = {
  large: { width: 10_000, height: 10_000, scans: 400, components: 3 },
  small: { width: 4096, height: 4096, scans: 883, components: 1 },
} as const satisfies Record<string, ScanBombOptions>;

/** The most successive-approximation bits an AC coefficient may have (ITU T.81 G.1.1.1.1: Al <= 13). */
const MAX_AL = 13;

export function scanBomb(options: ScanBombOptions): Buffer {
  const { width, height, scans } = options;
  const components = options.components ?? 1;
  if (scans < 1) throw new Error('a JPEG has at least one scan');
  // Luma samples 2x2 when there is colour (4:2:0); blocks per component in a scan of that component alone.
  const luma = components === 3 ? 2 : 1;
  const blocksOf = (factor: number) =>
    Math.ceil(Math.ceil((width * factor) / luma) / 8) * Math.ceil(Math.ceil((height * factor) / luma) / 8);
  const componentBlocks = Array.from({ length: components }, (_, i) => blocksOf(i === 0 ? luma : 1));
  const mcus = Math.ceil(width / (8 * luma)) * Math.ceil(height / (8 * luma));
  const out: Buffer[] = [Buffer.from([0xff, 0xd8])];
  const segment = (marker: number, body: number[]) =>
    out.push(Buffer.from([0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 0xff, ...body]));

  segment(0xdb, [0x00, ...Array<number>(64).fill(1)]); // one quantisation table, every entry 1
  const componentIds = Array.from({ length: components }, (_, i) => i + 1);
  segment(0xc2, [
    8,
    height >> 8,
    height & 0xff,
    width >> 8,
    width & 0xff,
    components,
    ...componentIds.flatMap((id) => [id, id === 1 ? luma * 0x11 : 0x11, 0]),
  ]);
  // DC table 0: one symbol (difference category 0) with the 1-bit code `0`.
  segment(0xc4, [0x00, 1, ...Array<number>(15).fill(0), 0x00]);
  // AC table 0: the 15 end-of-band-run symbols EOB0..EOB14 (r << 4), 4-bit codes 0000..1110.
  segment(0xc4, [0x10, 0, 0, 0, 15, ...Array<number>(12).fill(0), ...EOB_SYMBOLS]);

  // The DC scan, every component interleaved: one `0` bit per block.
  segment(0xda, [components, ...componentIds.flatMap((id) => [id, 0x00]), 0, 0, 0]);
  out.push(entropy(new BitWriter().zeros(mcus * (luma * luma + components - 1))));

  let remaining = scans - 1;
  for (const id of componentIds) {
    for (let k = 1; k <= 63 && remaining > 0; k++) {
      for (let al = MAX_AL; al >= 0 && remaining > 0; al--, remaining--) {
        const ah = al === MAX_AL ? 0 : al + 1;
        segment(0xda, [1, id, 0x00, k, k, (ah << 4) | al]);
        out.push(entropy(endOfBandRuns(componentBlocks[id - 1]!)));
      }
    }
  }
  if (remaining > 0)
    throw new Error(`at most ${1 + components * 63 * (MAX_AL + 1)} scans with ${components} component(s)`);
  out.push(Buffer.from([0xff, 0xd9]));
  return Buffer.concat(out);
}

const EOB_SYMBOLS = Array.from({ length: 15 }, (_, r) => r << 4);

/** `blocks` blocks of zeros as end-of-band runs: EOBr (4-bit code r) then r bits of the run length beyond 2^r. */
function endOfBandRuns(blocks: number): BitWriter {
  const bits = new BitWriter();
  for (let left = blocks; left > 0; ) {
    const run = Math.min(left, 32_767);
    const r = Math.floor(Math.log2(run));
    bits.write(r, 4).write(run - (1 << r), r);
    left -= run;
  }
  return bits;
}

/** Entropy-coded bytes: padded with 1 bits, every 0xFF followed by a stuffed 0x00. */
function entropy(bits: BitWriter): Buffer {
  const bytes = bits.finish();
  const stuffed: number[] = [];
  for (const byte of bytes) {
    stuffed.push(byte);
    if (byte === 0xff) stuffed.push(0x00);
  }
  return Buffer.from(stuffed);
}

class BitWriter {
  #bytes: number[] = [];
  #current = 0;
  #used = 0;

  write(value: number, count: number): this {
    for (let i = count - 1; i >= 0; i--) this.#bit((value >> i) & 1);
    return this;
  }

  zeros(count: number): this {
    // Whole zero bytes at once: the DC scan of a 100-megapixel image is millions of bits.
    while (count > 0 && this.#used !== 0) {
      this.#bit(0);
      count--;
    }
    const whole = Math.floor(count / 8);
    for (let i = 0; i < whole; i++) this.#bytes.push(0);
    for (let i = 0; i < count % 8; i++) this.#bit(0);
    return this;
  }

  finish(): number[] {
    if (this.#used > 0) this.write((1 << (8 - this.#used)) - 1, 8 - this.#used);
    return this.#bytes;
  }

  #bit(bit: number): void {
    this.#current = (this.#current << 1) | bit;
    if (++this.#used === 8) {
      this.#bytes.push(this.#current);
      this.#current = 0;
      this.#used = 0;
    }
  }
}
