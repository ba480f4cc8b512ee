import sharp from 'sharp';

/** Per-API counters and admission, the shared uplink, and image inspection: the plumbing every emulated API uses. */

export type ApiName = 'rekognition' | 'facepp' | 'baidu';
export const apiNames: readonly ApiName[] = ['rekognition', 'facepp', 'baidu'];

export interface ApiCounters {
  /** Every request that reached the API's routes, answered or refused. */
  calls: number;
  /** Calls answered with an error (auth, limits, throttling, bad input). */
  errors: number;
  /** Request body bytes as received (what the uplink carried). */
  requestBytes: number;
  /** Decoded image bytes found in the requests (what the image itself weighed). */
  imageBytes: number;
  /** Calls by operation, e.g. DetectLabels, detect, advanced_general, token. */
  operations: Record<string, number>;
}

export class Stats {
  #counters = new Map<ApiName, ApiCounters>();

  constructor() {
    this.reset();
  }

  reset(): void {
    for (const api of apiNames)
      this.#counters.set(api, { calls: 0, errors: 0, requestBytes: 0, imageBytes: 0, operations: {} });
  }

  call(api: ApiName, operation: string, requestBytes: number): void {
    const c = this.#counters.get(api)!;
    c.calls++;
    c.requestBytes += requestBytes;
    c.operations[operation] = (c.operations[operation] ?? 0) + 1;
  }

  image(api: ApiName, bytes: number): void {
    this.#counters.get(api)!.imageBytes += bytes;
  }

  error(api: ApiName): void {
    this.#counters.get(api)!.errors++;
  }

  snapshot(): Record<ApiName, ApiCounters> {
    const out = {} as Record<ApiName, ApiCounters>;
    for (const [api, c] of this.#counters) out[api] = { ...c, operations: { ...c.operations } };
    return out;
  }
}

/** At most `concurrency` calls at once, `queue` more waiting; beyond that the API refuses (its throttling error). */
export class Gate {
  readonly concurrency: number;
  readonly queue: number;
  #active = 0;
  #waiting: (() => void)[] = [];

  constructor(concurrency: number, queue: number) {
    this.concurrency = concurrency;
    this.queue = queue;
  }

  /** A release function, or undefined when the call must be refused. */
  async acquire(): Promise<(() => void) | undefined> {
    if (this.#active >= this.concurrency) {
      if (this.#waiting.length >= this.queue) return undefined;
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#active++;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      if (next)
        next(); // the slot passes straight to the next waiter
      else this.#active--;
    };
  }
}

/**
 * One shared uplink: each body takes bytes/rate seconds and bodies go one after another, so concurrent uploads slow
 * each other down as on a real link. Applied after the body arrived (Fastify buffers it), which gives the same end time.
 */
export class Uplink {
  bytesPerSecond: number;
  #freeAt = 0;

  constructor(bytesPerSecond: number) {
    this.bytesPerSecond = bytesPerSecond;
  }

  async transmit(bytes: number): Promise<void> {
    if (this.bytesPerSecond <= 0 || bytes <= 0) return;
    const now = performance.now();
    const start = Math.max(now, this.#freeAt);
    this.#freeAt = start + (bytes / this.bytesPerSecond) * 1000;
    await sleep(this.#freeAt - now);
  }
}

export const sleep = (ms: number) => (ms > 0 ? new Promise<void>((r) => setTimeout(r, ms)) : Promise.resolve());

export interface ImageInfo {
  format: string;
  width: number;
  height: number;
}

/** Format and size from the header; undefined when sharp cannot read it as an image at all. */
export async function inspectImage(bytes: Buffer): Promise<ImageInfo | undefined> {
  if (bytes.length === 0) return undefined;
  try {
    const meta = await sharp(bytes).metadata();
    if (!meta.format || !meta.width || !meta.height) return undefined;
    return { format: meta.format, width: meta.width, height: meta.height };
  } catch {
    return undefined;
  }
}

/** Strict base64 (standard alphabet, optional padding, whitespace tolerated as the services do). */
export function decodeBase64(text: string): Buffer | undefined {
  const clean = text.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean)) return undefined;
  return Buffer.from(clean, 'base64');
}
