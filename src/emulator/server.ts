import Fastify, { type FastifyInstance } from 'fastify';
import { registerBaidu } from './baidu.ts';
import { type EmulatorConfig, emulatorConfig, labelsBackends } from './config.ts';
import type { EmulatorContext } from './context.ts';
import { registerFacepp } from './facepp.ts';
import { createInference, type Inference } from './inference.ts';
import { registerRekognition } from './rekognition.ts';
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
    // Never the URL in logs: Baidu's token request carries client_secret in its query string.
    logger: {
      level: config.logLevel,
      redact: ['req.headers.authorization'],
      serializers: { req: (req) => ({ method: req.method, path: pathOf(req.url) }) },
    },
    bodyLimit: BODY_LIMIT,
  }) as unknown as EmulatorApp;
  app.decorate('emulator', ctx);
  closeConnectionsWhenClosing(app);
  // Fastify's own 404 repeats the whole URL, query included; a query may hold a secret (Baidu's client_secret).
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({ error: 'Not Found', message: `no route ${request.method} ${pathOf(request.url)}` }),
  );
  // Every route needs the raw bytes: SigV4 covers them, and the APIs parse their own formats.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  if (!dependencies.inference) app.addHook('onClose', () => inference.close());

  registerRekognition(app, ctx);
  registerFacepp(app, ctx);
  registerBaidu(app, ctx);

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

const pathOf = (url: string): string => url.split('?')[0]!;

/**
 * Fastify's close() waits for every connection to end, and closes only those idle when it starts. A keep-alive
 * connection busy at that moment stays open after its answer until the client drops it: undici keeps it for the
 * server's advertised keep-alive (72 s) less a second, so closing an emulator with a call in flight took ~70 s (the
 * "silent hang" of a collect that failed mid-run). Answers sent while closing say `Connection: close`.
 */
function closeConnectionsWhenClosing(app: FastifyInstance): void {
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });
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
