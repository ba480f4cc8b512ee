import sharp from 'sharp';
import { z } from 'zod';

/**
 * Codec settings. Environment: ADACOMPRESS_CODEC_MAX_INPUT_PIXELS, ADACOMPRESS_CODEC_CONCURRENCY.
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

const envNames = {
  maxInputPixels: 'ADACOMPRESS_CODEC_MAX_INPUT_PIXELS',
  concurrency: 'ADACOMPRESS_CODEC_CONCURRENCY',
} as const;

/** Read the codec config from env; the error names the variable at fault. */
export function codecConfigFromEnv(env: NodeJS.ProcessEnv, overrides: Partial<CodecConfig> = {}): CodecConfig {
  const raw: Record<string, unknown> = {};
  for (const [key, name] of Object.entries(envNames)) if (env[name] !== undefined) raw[key] = env[name];
  const parsed = codecConfigSchema.safeParse({ ...raw, ...overrides });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = issue?.path[0] as keyof typeof envNames | undefined;
    throw new Error(`invalid ${key ? envNames[key] : 'codec config'}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

/**
 * Apply process-wide sharp settings once at start-up. The operation cache is off: a proxy never sees the same input
 * twice, so caching only holds memory.
 */
export function configureSharp(config: CodecConfig): void {
  sharp.concurrency(config.concurrency);
  sharp.cache(false);
}
