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
import { BodyBudget } from './request/body-budget.ts';
import { watchClientBody } from './request/client-timeouts.ts';
import { createExchange } from './request/exchange.ts';
import { InFlight } from './request/in-flight.ts';
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
  /** 0: no bound on request bodies held at once. */
  maxBufferedBytes: number;
  bufferWaitMs: number;
  clientBodyTimeoutMs: number;
  clientRequestTimeoutMs: number;
}

/** The server's options, taken from the proxy config. */
export function serverOptionsFrom(config: ProxyConfig): ServerOptions {
  return {
    maxBodyBytes: config.maxBodyBytes,
    maxResponseBytes: config.maxResponseBytes,
    codecLimits: {
      maxInputPixels: config.maxInputPixels,
      maxJpegScans: config.maxJpegScans,
      maxScanPixels: config.maxScanPixels,
    },
    imageConcurrency: config.imageConcurrency,
    imageQueue: config.imageQueue,
    imageDeadlineMs: config.imageDeadlineMs,
    connectTimeoutMs: config.connectTimeoutMs,
    upstreamTimeoutMs: config.upstreamTimeoutMs,
    upstreamConnections: config.upstreamConnections,
    maxBufferedBytes: config.maxBufferedBytes,
    bufferWaitMs: config.bufferWaitMs,
    clientBodyTimeoutMs: config.clientBodyTimeoutMs,
    clientRequestTimeoutMs: config.clientRequestTimeoutMs,
  };
}

export interface ServerDeps {
  providers: readonly Provider[];
  policy: Policy;
  logger: FastifyBaseLogger;
  metrics?: Metrics;
  agent?: Agent;
}

/** What a server's request path has: everything a PathContext may have, the server's own parts always. */
export type ServerContext = PathContext & Required<Pick<PathContext, 'bodyBudget' | 'clientTimeouts' | 'inFlight'>>;

/** Everything the request path shares, built once per server: the upstream pool, the image work limiter, metrics. */
export function createPathContext(options: ServerOptions, deps: ServerDeps): ServerContext {
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
    bodyBudget: new BodyBudget(options.maxBufferedBytes),
    bufferWaitMs: options.bufferWaitMs,
    clientTimeouts: { bodyIdleMs: options.clientBodyTimeoutMs, requestMs: options.clientRequestTimeoutMs },
    inFlight: new InFlight(),
    policy: deps.policy,
    metrics: deps.metrics ?? createMetrics(),
    logger: deps.logger,
  };
}

export interface ProxyServer {
  app: FastifyInstance;
  context: ServerContext;
}

/**
 * The Fastify wiring of the proxy, without listening (tests use inject or port 0; cli.ts is the only place that
 * listens): every method and path goes to one handler that runs the client path (src/request/paths.ts) on an
 * exchange. `loop` plugs the learning loop in; without it the proxy is a plain recompressing proxy with its policy.
 */
export function buildServer(
  context: ServerContext,
  options: { maxBodyBytes: number; ownsAgent?: boolean },
): ProxyServer {
  const app = Fastify({
    loggerInstance: context.logger,
    logController: new LogController({ disableRequestLogging: true }),
    // The request path logs through the context's logger, one line per exchange with the exchange's own id. The pino
    // child Fastify makes per request by default (about 2 us of CPU each, measured in a loop of child calls) would
    // never be written to. Fastify's rare own lines (a handler error) go to the server's logger, without its req-N id.
    childLoggerFactory: (logger) => logger,
    // Bodies are read by the buffer step with per-provider limits; Fastify never parses them.
    bodyLimit: options.maxBodyBytes,
    return503OnClosing: true,
    // HEAD is forwarded like any method, not answered from a GET route.
    exposeHeadRoutes: false,
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    // What stops the exchange: the client going away (the socket closes before the answer is written), its body
    // stalling (a CLIENT_TIMEOUT it is answered with), or shutdown running out of grace (SHUTTING_DOWN).
    const stop = new AbortController();
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) stop.abort(new Error('the client went away'));
    });
    const head = { method: request.method, url: request.url, headers: request.headers };
    const body = (request.body as Readable | undefined) ?? request.raw;
    const exchange = createExchange(head, stop.signal, body);
    const unwatch = watchClientBody(request.raw, context.clientTimeouts, (error) => stop.abort(error));
    context.inFlight.add(exchange, stop);
    context.metrics.inFlight.inc();
    try {
      await runPath(clientPath, exchange, { ...context, reply: clientReply(reply) });
    } finally {
      unwatch();
      exchange.bodyLease?.release();
      context.metrics.inFlight.dec();
      context.inFlight.delete(exchange);
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
