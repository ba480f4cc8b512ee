import Fastify, { type FastifyInstance } from 'fastify';
import { providerDescriptors } from '../providers/registry.ts';
import { backendCatalog } from './backends/engines.ts';
import { type LocatedSpec, loadSpecs } from './backends/spec.ts';
import { type EmulatorConfig, emulatorConfig } from './config.ts';
import type { EmulatorContext } from './context.ts';
import { createInference, type Inference } from './inference.ts';
import { applyKnobs, backendList, checkStartBindings, publicKnobs } from './knobs.ts';
import { apiNames, Gate, Stats, Uplink } from './runtime.ts';

/** The whole emulator as one Fastify app (not listening): the three APIs plus the /__emulator admin routes. */

export interface EmulatorApp extends FastifyInstance {
  emulator: EmulatorContext;
}

/** Larger than any API accepts, so each API answers its own limit error instead of Fastify's. */
const BODY_LIMIT = 32 * 1024 * 1024;

/** The model specs: the shipped ones plus --model-specs files; weights are only required when models will load. */
export function emulatorSpecs(config: EmulatorConfig, checkFiles = true): LocatedSpec[] {
  const extra = config.modelSpecs
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  return loadSpecs(config.modelDir, extra, { checkFiles });
}

export async function buildEmulator(
  options: Partial<EmulatorConfig> = {},
  dependencies: { inference?: Inference } = {},
): Promise<EmulatorApp> {
  const config = emulatorConfig(options);
  const specs = emulatorSpecs(config, !dependencies.inference);
  // A binding naming an unknown backend, or one for the wrong task, stops the start naming the option.
  const catalog = backendCatalog(specs);
  checkStartBindings(config, catalog);
  const inference =
    dependencies.inference ?? (await createInference(specs, config.modelDir, config.workers, config.intraOpThreads));
  let id = Date.now() % 1e9;
  const ctx: EmulatorContext = {
    config,
    specs,
    catalog,
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

  // Each API's routes come from its provider descriptor (src/providers/registry.ts).
  for (const descriptor of providerDescriptors) if (descriptor.emulator) (await descriptor.emulator())(app, ctx);

  app.get('/__emulator/ready', async () => ({ ready: true }));
  app.get('/__emulator/stats', async () => ctx.stats.snapshot());
  app.post('/__emulator/stats/reset', async () => {
    ctx.stats.reset();
    return ctx.stats.snapshot();
  });
  app.get('/__emulator/config', async () => publicKnobs(ctx));
  app.get('/__emulator/backends', async () => backendList(ctx));
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
