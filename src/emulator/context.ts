import type { FastifyRequest } from 'fastify';
import type { EmulatorConfig } from './config.ts';
import type { Inference } from './inference.ts';
import { type ApiName, type Gate, type Stats, sleep, type Uplink } from './runtime.ts';

/** What every emulated API route shares. `config` is live: the admin route changes the run-time knobs in place. */
export interface EmulatorContext {
  config: EmulatorConfig;
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
