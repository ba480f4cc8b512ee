import sharp from 'sharp';
import { z } from 'zod';

/**
 * Codec settings (set from the proxy config: --max-input-pixels; libvips concurrency is fixed at 1 by the runtime).
 *
 * Threads: each sharp call runs on a libuv worker thread (UV_THREADPOOL_SIZE, default 4) and libvips may use
 * `concurrency` threads inside one call. For a proxy, parallelism should come from concurrent requests, not from
 * splitting one small image: keep concurrency 1 and give libuv about one thread per core plus one for file/DNS work
 * (e.g. UV_THREADPOOL_SIZE=3 on 2 cores). Set MALLOC_ARENA_MAX=2 (or use jemalloc) in the container, as sharp advises.
 */
export const codecConfigSchema = z.object({
  /** Largest width x height the codec will touch; bigger images pass through untouched. 40 MP by default. */
  maxInputPixels: z.coerce.number().int().positive().default(40_000_000),
  /** libvips threads per sharp operation (sharp.concurrency). 0 = libvips' default (one per core). */
  concurrency: z.coerce.number().int().min(0).max(64).default(1),
});
export type CodecConfig = z.infer<typeof codecConfigSchema>;

/**
 * Apply process-wide sharp settings once at start-up. The operation cache is off: a proxy never sees the same input
 * twice, so caching only holds memory.
 */
export function configureSharp(config: CodecConfig): void {
  sharp.concurrency(config.concurrency);
  sharp.cache(false);
}
