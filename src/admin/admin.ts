import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Registry } from 'prom-client';

export interface AdminDeps {
  logger: FastifyBaseLogger;
  registry: Registry;
  /** Ready = models warm and not shutting down; `detail` is shown to operators (policy, controller state). */
  readiness: () => { ready: boolean; detail: Record<string, unknown> };
}

/**
 * The admin listener: its own port, so no admin path can ever shadow an upstream API path. Health for orchestrators
 * (/livez, /healthz alias, /readyz) and Prometheus metrics. Callers add their own routes (reload, status page).
 */
export function buildAdmin(deps: AdminDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger,
    logController: new LogController({ disableRequestLogging: true }),
  });
  const alive = async () => ({ status: 'ok' });
  app.get('/livez', alive);
  app.get('/healthz', alive);
  app.get('/readyz', async (_request, reply) => {
    const { ready, detail } = deps.readiness();
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not-ready', ...detail });
  });
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', deps.registry.contentType);
    return deps.registry.metrics();
  });
  return app;
}
