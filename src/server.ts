import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import type { Agent } from 'undici';
import { createMetrics, type Metrics } from './admin/metrics.ts';
import type { Answer } from './answer.ts';
import { readBody } from './body.ts';
import type { CodecLimits } from './codec/types.ts';
import type { ProxyConfig } from './config/proxy.ts';
import type { FinishedExchange, RequestPlan } from './feedback/loop.ts';
import { WorkLimiter } from './limiter.ts';
import { describeOutcomes, type ImageStepDeps, processSlot, type SlotOutcome } from './pipeline.ts';
import type { DecisionContext, Policy } from './policy/types.ts';
import { forwardableHeaders, headerValue, pathOf } from './providers/headers.ts';
import {
  type BufferedRequest,
  type OutgoingRequest,
  type Provider,
  ProxyError,
  type RequestHead,
} from './providers/types.ts';
import { createUpstreamAgent, forwardBuffered, sendUpstream, toProxyError, type UpstreamResponse } from './upstream.ts';

export interface ServerOptions {
  maxBodyBytes: number;
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
    codecLimits: { maxInputPixels: config.maxInputPixels },
    imageConcurrency: config.imageConcurrency,
    imageQueue: config.imageQueue,
    imageDeadlineMs: config.imageDeadlineMs,
    connectTimeoutMs: config.connectTimeoutMs,
    upstreamTimeoutMs: config.upstreamTimeoutMs,
    upstreamConnections: config.upstreamConnections,
  };
}

/**
 * The learning loop's two hooks (src/feedback/loop.ts): plan before the images are touched, record after the client has
 * its answer. Absent, the proxy is a plain recompressing proxy with its one policy.
 */
export interface LoopHooks {
  plan(context: DecisionContext): RequestPlan;
  record(exchange: FinishedExchange, plan: RequestPlan): void;
}

export interface ServerDeps {
  providers: readonly Provider[];
  policy: Policy;
  logger: FastifyBaseLogger;
  metrics?: Metrics;
  agent?: Agent;
  loop?: LoopHooks;
}

export interface ProxyServer {
  app: FastifyInstance;
  metrics: Metrics;
  limiter: WorkLimiter;
  agent: Agent;
}

const decompressors: Record<string, (b: Buffer) => Promise<Buffer>> = {
  gzip: promisify(zlib.gunzip),
  deflate: promisify(zlib.inflate),
  br: promisify(zlib.brotliDecompress),
};

/** Builds the proxy app without listening: tests use inject or listen on port 0; cli.ts is the only place that listens. */
export function buildServer(options: ServerOptions, deps: ServerDeps): ProxyServer {
  const metrics = deps.metrics ?? createMetrics();
  const agent =
    deps.agent ??
    createUpstreamAgent({
      connections: options.upstreamConnections,
      connectTimeoutMs: options.connectTimeoutMs,
      timeoutMs: options.upstreamTimeoutMs,
    });
  const limiter = new WorkLimiter({ concurrency: options.imageConcurrency, maxQueue: options.imageQueue });
  const imageDeps: ImageStepDeps = {
    codecLimits: options.codecLimits,
    limiter,
    deadlineMs: options.imageDeadlineMs,
  };

  const app = Fastify({
    loggerInstance: deps.logger,
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    // Bodies are read by the handler with per-provider limits; Fastify never parses them.
    bodyLimit: options.maxBodyBytes,
    return503OnClosing: true,
    // HEAD is forwarded like any method, not answered from a GET route.
    exposeHeadRoutes: false,
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

  const handle = async (request: FastifyRequest, reply: FastifyReply) => {
    const head: RequestHead = { method: request.method, url: request.url, headers: request.headers };
    const provider = deps.providers.find((p) => p.matches(head));
    if (!provider) {
      // No upstream is ever taken from the request itself: no open relay.
      return reply.code(404).send({ message: 'adacompress-proxy: no configured upstream API matches this request' });
    }
    const operation = provider.imageOperation(head);
    const bodyStream = (request.body as Readable | undefined) ?? request.raw;
    const started = performance.now();
    metrics.inFlight.inc();
    try {
      if (!operation && !provider.bufferAll) {
        return await streamThrough(provider, head, bodyStream, reply);
      }
      const body = await readBody(
        bodyStream,
        Math.min(provider.maxBodyBytes, options.maxBodyBytes),
        headerValue(head.headers, 'content-length'),
      );
      const buffered: BufferedRequest = { ...head, body };
      await provider.authenticate?.(buffered);
      const plan = operation ? deps.loop?.plan({ provider: provider.name, operation }) : undefined;
      const outcomes = operation
        ? await recompressImages(provider, operation, buffered, request, plan?.policy ?? deps.policy)
        : undefined;
      const outgoing = outcomes?.outgoing ?? originalRequest(buffered);
      const upstream = await forwardBuffered(agent, provider, outgoing, head);
      const responseBody = upstream.body;
      const upstreamMs = upstream.ms;
      metrics.upstreamSeconds.observe({ provider: provider.name, status: String(upstream.status) }, upstreamMs / 1000);
      const adaHeader = outcomes ? describeOutcomes(outcomes.slots) : 'passthrough;reason=no-image-operation';
      reply.code(upstream.status).headers(responseHeaders(upstream)).header('x-adacompress', adaHeader);
      await reply.send(responseBody);

      const opLabel = operation ?? 'other';
      metrics.requests.inc({
        provider: provider.name,
        operation: opLabel,
        outcome: outcomes?.slots.some((s) => s.kind === 'encoded') ? 'encoded' : operation ? 'original' : 'passthrough',
      });
      request.log.info(
        {
          provider: provider.name,
          operation: opLabel,
          path: pathOf(head.url),
          bytesIn: body.length,
          bytesOut: upstream.sentBytes,
          images: outcomes?.slots.map(slotLogFields),
          upstreamStatus: upstream.status,
          upstreamMs: Math.round(upstreamMs * 10) / 10,
          totalMs: Math.round((performance.now() - started) * 10) / 10,
        },
        'proxied',
      );
      if (operation && outcomes?.extracted && plan && deps.loop) {
        const answer = await readAnswer(provider, operation, upstream, responseBody, outcomes.slots);
        deps.loop.record(
          {
            id: String(request.id),
            provider,
            operation,
            head,
            extracted: outcomes.extracted,
            outcomes: outcomes.slots,
            upstreamStatus: upstream.status,
            upstreamMs,
            answer,
          },
          plan,
        );
      }
    } catch (error) {
      const proxyError = toProxyError(error);
      metrics.requests.inc({ provider: provider.name, operation: operation ?? 'other', outcome: 'error' });
      request.log.warn(
        { provider: provider.name, operation, path: pathOf(head.url), code: proxyError.code, err: error },
        'proxy error',
      );
      if (reply.sent) return;
      const errorReply = provider.errorReply(proxyError);
      return reply
        .code(errorReply.status)
        .headers(errorReply.headers)
        .header('x-adacompress', `error;reason=${proxyError.code.toLowerCase()}`)
        .send(errorReply.body);
    } finally {
      metrics.inFlight.dec();
    }
  };

  /** Extract, decide, encode every image; a request that cannot be improved goes as the client sent it. */
  async function recompressImages(
    provider: Provider,
    operation: string,
    buffered: BufferedRequest,
    request: FastifyRequest,
    policy: Policy,
  ) {
    // Saturated: the original goes anyway, so skip parsing and decoding it; that CPU is what is short.
    if (limiter.saturated) {
      metrics.originals.inc({ provider: provider.name, reason: 'overload' });
      return { slots: [{ kind: 'original', field: '', inputBytes: 0, reason: 'overload' }] as SlotOutcome[] };
    }
    let extracted: ReturnType<Provider['extract']>;
    try {
      extracted = provider.extract(buffered, operation);
    } catch (error) {
      // Malformed for the proxy is malformed for the API too: forward the original and let the API answer in its words.
      const reason = error instanceof ProxyError ? 'bad-request' : 'extract-failed';
      request.log.debug({ err: error, provider: provider.name, operation }, 'extract failed; forwarding original');
      metrics.originals.inc({ provider: provider.name, reason });
      return { slots: [{ kind: 'original', field: '', inputBytes: 0, reason }] as SlotOutcome[], outgoing: undefined };
    }
    if (!extracted)
      return {
        slots: [{ kind: 'original', field: '', inputBytes: 0, reason: 'no-inline-image' }] as SlotOutcome[],
        outgoing: undefined,
      };
    const limits = provider.limits(operation);
    const context = { provider: provider.name, operation };
    const slots = await Promise.all(
      extracted.slots.map(async (slot) => {
        const t0 = performance.now();
        const outcome = await processSlot(slot, limits, context, policy, imageDeps);
        metrics.imageWorkSeconds.observe((performance.now() - t0) / 1000);
        return outcome;
      }),
    );
    const labels = { provider: provider.name, operation };
    const replacements = new Map<string, Buffer>();
    for (const outcome of slots) {
      metrics.imageBytesIn.inc(labels, outcome.inputBytes);
      if (outcome.kind === 'encoded') {
        replacements.set(outcome.field, outcome.bytes);
        metrics.imageBytesOut.inc(labels, outcome.bytes.length);
        metrics.actions.inc({ ...labels, quality: String(outcome.decision.action.quality) });
      } else {
        metrics.imageBytesOut.inc(labels, outcome.inputBytes);
        metrics.originals.inc({ provider: provider.name, reason: outcome.reason });
      }
    }
    return { slots, extracted, outgoing: replacements.size > 0 ? extracted.rebuild(replacements) : undefined };
  }

  async function streamThrough(provider: Provider, head: RequestHead, body: Readable, reply: FastifyReply) {
    const headers = forwardableHeaders(head.headers);
    const length = headerValue(head.headers, 'content-length');
    if (length !== undefined) headers['content-length'] = length;
    const hasBody = head.method !== 'GET' && head.method !== 'HEAD';
    const upstream = await sendUpstream(agent, provider.upstreamOrigin(head), {
      method: head.method,
      url: head.url,
      headers,
      ...(hasBody ? { body } : {}),
    });
    metrics.requests.inc({ provider: provider.name, operation: 'other', outcome: 'passthrough' });
    reply
      .code(upstream.status)
      .headers(responseHeaders(upstream))
      .header('x-adacompress', 'passthrough;reason=no-image-operation');
    return reply.send(upstream.body);
  }

  const methods = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];
  app.route({ method: methods, url: '/', handler: handle });
  app.route({ method: methods, url: '/*', handler: handle });
  // Draining: answers given after close() began tell keep-alive clients to go, so the listener can finish closing
  // once in-flight requests are done instead of waiting on idle sockets.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });
  app.addHook('onClose', async () => {
    if (!deps.agent) await agent.close();
  });
  return { app, metrics, limiter, agent };
}

function originalRequest(request: BufferedRequest): OutgoingRequest {
  return { method: request.method, url: request.url, headers: forwardableHeaders(request.headers), body: request.body };
}

function responseHeaders(upstream: { headers: UpstreamResponse['headers'] }): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const passthrough = forwardableHeaders(upstream.headers);
  for (const [name, value] of Object.entries(passthrough)) out[name] = value;
  const length = headerValue(upstream.headers, 'content-length');
  if (length !== undefined) out['content-length'] = length;
  return out;
}

async function readAnswer(
  provider: Provider,
  operation: string,
  upstream: { status: number; headers: UpstreamResponse['headers'] },
  body: Buffer,
  outcomes: readonly SlotOutcome[],
): Promise<Answer | undefined> {
  try {
    const encoding = headerValue(upstream.headers, 'content-encoding');
    const decode = encoding ? decompressors[encoding] : undefined;
    const plain = decode ? await decode(body) : body;
    // The answer's boxes refer to the last image of the request (CompareFaces: the target).
    const image = outcomes.at(-1)?.original;
    return provider.answer(
      operation,
      upstream.status,
      plain,
      image ? { width: image.width, height: image.height } : undefined,
    );
  } catch {
    return undefined;
  }
}

const slotLogFields = (outcome: SlotOutcome) => ({
  field: outcome.field,
  bytesIn: outcome.inputBytes,
  bytesOut: outcome.kind === 'encoded' ? outcome.bytes.length : outcome.inputBytes,
  quality: outcome.kind === 'encoded' ? outcome.decision.action.quality : undefined,
  reason: outcome.kind === 'original' ? outcome.reason : undefined,
  format: outcome.original?.format,
  width: outcome.original?.width,
  height: outcome.original?.height,
});
