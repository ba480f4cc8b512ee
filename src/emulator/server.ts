import Fastify, { type FastifyInstance } from 'fastify';
import { providerDescriptors } from '../providers/registry.ts';
import { type EmulatorConfig, emulatorConfig, labelsBackends } from './config.ts';
import type { EmulatorContext } from './context.ts';
import { createInference, type Inference } from './inference.ts';
import { apiNames, Gate, Stats, Uplink } from './runtime.ts';

/** The whole emulator as one Fastify app (not listening): the three APIs plus the /__emulator admin routes. */

export interface EmulatorApp extends FastifyInstance {
  emulator: EmulatorContext;
}

/** Larger than any API accepts, so each API answers its own limit error instead of Fastify's. */
const BODY_LIMIT = 32 * 1024 * 1024;

export async function buildEmulator(
  options: Partial<EmulatorConfig> = {},
  dependencies: { inference?: Inference } = {},
): Promise<EmulatorApp> {
  const config = emulatorConfig(options);
  const inference =
    dependencies.inference ?? (await createInference(config.modelDir, config.workers, config.intraOpThreads));
  let id = Date.now() % 1e9;
  const ctx: EmulatorContext = {
    config,
    inference,
    stats: new Stats(),
    gates: Object.fromEntries(
      apiNames.map((api) => [api, new Gate(config.concurrency, config.queue)]),
    ) as EmulatorContext['gates'],
    uplink: new Uplink(config.uplinkBytesPerSecond),
    nextId: () => ++id,
  };

  const app = Fastify({
    logger: { level: config.logLevel, redact: ['req.headers.authorization'] },
    bodyLimit: BODY_LIMIT,
  }) as unknown as EmulatorApp;
  app.decorate('emulator', ctx);
  // Every route needs the raw bytes: SigV4 covers them, and the APIs parse their own formats.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  if (!dependencies.inference) app.addHook('onClose', () => inference.close());

  // Each API's routes come from its provider descriptor (src/providers/registry.ts).
  for (const descriptor of providerDescriptors) if (descriptor.emulator) (await descriptor.emulator())(app, ctx);

  app.get('/__emulator/ready', async () => ({ ready: true }));
  app.get('/__emulator/stats', async () => ctx.stats.snapshot());
  app.post('/__emulator/stats/reset', async () => {
    ctx.stats.reset();
    return ctx.stats.snapshot();
  });
  app.get('/__emulator/config', async () => publicKnobs(ctx));
  app.post('/__emulator/config', async (request, reply) => {
    let patch: Record<string, unknown>;
    try {
      patch = JSON.parse(Buffer.isBuffer(request.body) ? request.body.toString('utf8') : '{}');
    } catch {
      return reply.status(400).send({ error: 'body must be JSON' });
    }
    const problem = applyKnobs(ctx, patch);
    if (problem) return reply.status(400).send({ error: problem });
    return publicKnobs(ctx);
  });
  return app;
}

const publicKnobs = (ctx: EmulatorContext) => ({
  labelsBackend: ctx.config.labelsBackend,
  latencyMs: ctx.config.latencyMs,
  uplinkBytesPerSecond: ctx.config.uplinkBytesPerSecond,
});

/** The run-time knobs (drift experiments, benchmarks); returns a problem description or undefined. */
function applyKnobs(ctx: EmulatorContext, patch: Record<string, unknown>): string | undefined {
  for (const key of Object.keys(patch)) {
    if (!['labelsBackend', 'latencyMs', 'uplinkBytesPerSecond'].includes(key)) return `unknown knob ${key}`;
  }
  const { labelsBackend, latencyMs, uplinkBytesPerSecond } = patch;
  if (labelsBackend !== undefined && !labelsBackends.includes(labelsBackend as never)) {
    return `labelsBackend must be one of ${labelsBackends.join(', ')}`;
  }
  const nonNegativeInt = (v: unknown) => v === undefined || (Number.isInteger(v) && (v as number) >= 0);
  if (!nonNegativeInt(latencyMs)) return 'latencyMs must be a non-negative integer';
  if (!nonNegativeInt(uplinkBytesPerSecond)) return 'uplinkBytesPerSecond must be a non-negative integer';
  if (labelsBackend !== undefined) ctx.config.labelsBackend = labelsBackend as EmulatorConfig['labelsBackend'];
  if (latencyMs !== undefined) ctx.config.latencyMs = latencyMs as number;
  if (uplinkBytesPerSecond !== undefined) {
    ctx.config.uplinkBytesPerSecond = uplinkBytesPerSecond as number;
    ctx.uplink.bytesPerSecond = uplinkBytesPerSecond as number;
  }
  return undefined;
}
