import type { Readable } from 'node:stream';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type HTTPMethods,
  LogController,
} from 'fastify';
import type { Agent } from 'undici';
import { createMetrics, type Metrics } from './admin/metrics.ts';
import type { CodecLimits } from './codec/types.ts';
import type { ProxyConfig } from './config/proxy.ts';
import { WorkLimiter } from './limiter.ts';
import type { Policy } from './policy/types.ts';
import type { Provider } from './providers/types.ts';
import { createExchange } from './request/exchange.ts';
import { clientPath } from './request/paths.ts';
import { type ClientReply, type PathContext, runPath } from './request/steps.ts';
import { createUpstreamAgent } from './request/upstream.ts';

export interface ServerOptions {
  maxBodyBytes: number;
  maxResponseBytes: number;
  codecLimits: CodecLimits;
  imageConcurrency: number;
  imageQueue: number;
  imageDeadlineMs: number;
  connectTimeoutMs: number;
  upstreamTimeoutMs: number;
  upstreamConnections: number;
}

/** The server's options, taken from the proxy config. */
export function serverOptionsFrom(config: ProxyConfig): ServerOptions {
  return {
    maxBodyBytes: config.maxBodyBytes,
    maxResponseBytes: config.maxResponseBytes,
    codecLimits: { maxInputPixels: config.maxInputPixels },
    imageConcurrency: config.imageConcurrency,
    imageQueue: config.imageQueue,
    imageDeadlineMs: config.imageDeadlineMs,
    connectTimeoutMs: config.connectTimeoutMs,
    upstreamTimeoutMs: config.upstreamTimeoutMs,
    upstreamConnections: config.upstreamConnections,
  };
}

export interface ServerDeps {
  providers: readonly Provider[];
  policy: Policy;
  logger: FastifyBaseLogger;
  metrics?: Metrics;
  agent?: Agent;
}

/** Everything the request path shares, built once per server: the upstream pool, the image work limiter, metrics. */
export function createPathContext(options: ServerOptions, deps: ServerDeps): PathContext {
  return {
    providers: deps.providers,
    agent:
      deps.agent ??
      createUpstreamAgent({
        connections: options.upstreamConnections,
        connectTimeoutMs: options.connectTimeoutMs,
        timeoutMs: options.upstreamTimeoutMs,
      }),
    limiter: new WorkLimiter({ concurrency: options.imageConcurrency, maxQueue: options.imageQueue }),
    codecLimits: options.codecLimits,
    imageDeadlineMs: options.imageDeadlineMs,
    maxResponseBytes: options.maxResponseBytes,
    policy: deps.policy,
    metrics: deps.metrics ?? createMetrics(),
    logger: deps.logger,
  };
}

export interface ProxyServer {
  app: FastifyInstance;
  context: PathContext;
}

/**
 * The Fastify wiring of the proxy, without listening (tests use inject or port 0; cli.ts is the only place that
 * listens): every method and path goes to one handler that runs the client path (src/request/paths.ts) on an
 * exchange. `loop` plugs the learning loop in; without it the proxy is a plain recompressing proxy with its policy.
 */
export function buildServer(context: PathContext, options: { maxBodyBytes: number; ownsAgent?: boolean }): ProxyServer {
  const app = Fastify({
    loggerInstance: context.logger,
    logController: new LogController({ disableRequestLogging: true }),
    // Bodies are read by the buffer step with per-provider limits; Fastify never parses them.
    bodyLimit: options.maxBodyBytes,
    return503OnClosing: true,
    // HEAD is forwarded like any method, not answered from a GET route.
    exposeHeadRoutes: false,
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    // The client going away (the socket closes before the answer is written) stops the exchange.
    const gone = new AbortController();
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) gone.abort();
    });
    const head = { method: request.method, url: request.url, headers: request.headers };
    const body = (request.body as Readable | undefined) ?? request.raw;
    const exchange = createExchange(head, gone.signal, body);
    context.metrics.inFlight.inc();
    try {
      await runPath(clientPath, exchange, { ...context, reply: clientReply(reply) });
    } finally {
      context.metrics.inFlight.dec();
    }
    return reply;
  };
  const methods: HTTPMethods[] = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];
  app.route({ method: methods, url: '/', handler });
  app.route({ method: methods, url: '/*', handler });

  // Draining: answers given after close() began tell keep-alive clients to go, so the listener can finish closing
  // once in-flight requests are done instead of waiting on idle sockets.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });
  if (options.ownsAgent) app.addHook('onClose', async () => context.agent.close());
  return { app, context };
}

function clientReply(reply: FastifyReply): ClientReply {
  return {
    get sent() {
      return reply.sent;
    },
    async send(status, headers, body) {
      await reply.code(status).headers(headers).send(body);
    },
  };
}
