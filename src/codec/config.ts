import sharp from 'sharp';

/**
 * Process-wide sharp settings. The pixel limit is per call (CodecLimits, from --max-input-pixels); libvips concurrency
 * is set here once (1 by the runtime).
 *
 * Threads: each sharp call runs on a libuv worker thread (UV_THREADPOOL_SIZE, default 4) and libvips may use
 * `concurrency` threads inside one call. For a proxy, parallelism should come from concurrent requests, not from
 * splitting one small image: keep concurrency 1 and give libuv about one thread per core plus one for file/DNS work
 * (e.g. UV_THREADPOOL_SIZE=3 on 2 cores). Set MALLOC_ARENA_MAX=2 (or use jemalloc) in the container, as sharp advises.
 *
 * Applied once at start-up. The operation cache is off: a proxy never sees the same input
 * twice, so caching only holds memory.
 */
export function configureSharp(config: { concurrency: number }): void {
  sharp.concurrency(config.concurrency);
  sharp.cache(false);
}
