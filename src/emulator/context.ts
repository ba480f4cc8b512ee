import type { FastifyRequest } from 'fastify';
import type { CatalogEntry } from './backends/engines.ts';
import type { LocatedSpec } from './backends/spec.ts';
import type { EmulatorConfig } from './config.ts';
import type { Inference } from './inference.ts';
import { type OperationResult, runOperation } from './operate.ts';
import type { OperationName } from './operations.ts';
import { type ApiName, type Gate, type Stats, sleep, type Uplink } from './runtime.ts';

/** What every emulated API route shares. `config` is live: the admin route changes the run-time knobs in place. */
export interface EmulatorContext {
  config: EmulatorConfig;
  /** The spec'd models the workers loaded. */
  specs: readonly LocatedSpec[];
  /** Every backend an operation may name: those models and the engines. */
  catalog: readonly CatalogEntry[];
  inference: Inference;
  stats: Stats;
  gates: Record<ApiName, Gate>;
  uplink: Uplink;
  nextId(): number;
}

export const bodyOf = (request: FastifyRequest): Buffer =>
  Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);

/**
 * The common start of every API call: count it, make it pay its upload time and the configured latency, then take a
 * slot. Returns the release function, or undefined when the API must answer its throttling error. `request` gives the
 * body size when it was buffered; a streamed body (Face++ multipart) passes the bytes it read.
 */
export async function admit(
  ctx: EmulatorContext,
  api: ApiName,
  operation: string,
  request: FastifyRequest | number,
): Promise<(() => void) | undefined> {
  const bytes = typeof request === 'number' ? request : bodyOf(request).length;
  ctx.stats.call(api, operation, bytes);
  await ctx.uplink.transmit(bytes);
  await sleep(ctx.config.latencyMs);
  return ctx.gates[api].acquire();
}

/** Run `operation` on an uploaded image with its configured backends, working resolution and EXIF rule. */
export const infer = (ctx: EmulatorContext, operation: OperationName, image: Buffer): Promise<OperationResult> =>
  runOperation(ctx.inference, ctx.config, operation, image);
