import type { Readable } from 'node:stream';
import { Agent, errors } from 'undici';
import { ProxyError } from '../providers/types.ts';

export interface UpstreamOptions {
  connections: number;
  connectTimeoutMs: number;
  timeoutMs: number;
}

/** One keep-alive pool per upstream origin (undici's Agent keeps a Pool per origin). */
export function createUpstreamAgent(options: UpstreamOptions): Agent {
  return new Agent({
    connections: options.connections,
    connect: { timeout: options.connectTimeoutMs },
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
    keepAliveTimeout: 30_000,
  });
}

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
}

/**
 * Send one request upstream, the path exactly as the client sent it (the route step already refused dot-segments; a
 * WHATWG URL would normalise `/a/../b` into a path the routes never checked). Transport failures become ProxyErrors
 * that say what happened, in the provider's own error shape: no connection 502 UPSTREAM_UNREACHABLE, a connection
 * that broke 502 UPSTREAM_FAILED, timeouts 504, the proxy's own fault 502 INTERNAL. Upstream HTTP errors are not
 * failures: they reach the client as sent.
 */
export async function sendUpstream(
  agent: Agent,
  origin: string,
  req: { method: string; url: string; headers: Record<string, string>; body?: Buffer | Readable },
  signal?: AbortSignal,
): Promise<UpstreamResponse> {
  try {
    const res = await agent.request({
      origin,
      path: req.url,
      method: req.method as 'POST',
      headers: req.headers,
      body: req.body ?? null,
      ...(signal ? { signal } : {}),
    });
    return { status: res.statusCode, headers: res.headers, body: res.body };
  } catch (error) {
    throw toProxyError(error);
  }
}

/** System error codes that mean no connection was made. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN']);

/** What an upstream call's failure was, named for the client's `x-adacompress` and with its cause for the log. */
export function toProxyError(error: unknown): ProxyError {
  if (error instanceof ProxyError) return error;
  const cause = { cause: error };
  if (error instanceof errors.HeadersTimeoutError || error instanceof errors.BodyTimeoutError) {
    return new ProxyError('UPSTREAM_TIMEOUT', 504, 'The upstream service did not answer in time', cause);
  }
  const code = (error as { code?: unknown } | undefined)?.code;
  if (error instanceof errors.ConnectTimeoutError || (typeof code === 'string' && UNREACHABLE.has(code))) {
    return new ProxyError('UPSTREAM_UNREACHABLE', 502, 'The upstream service could not be reached', cause);
  }
  if (
    error instanceof errors.SocketError ||
    error instanceof errors.ResponseContentLengthMismatchError ||
    code === 'ECONNRESET' ||
    code === 'EPIPE'
  ) {
    return new ProxyError('UPSTREAM_FAILED', 502, 'The upstream service closed the connection before answering', cause);
  }
  if (error instanceof errors.RequestContentLengthMismatchError) {
    return new ProxyError('BAD_REQUEST', 400, 'The request body does not match its Content-Length', cause);
  }
  // Anything else is the proxy's own doing (a header undici refuses, a bug): said as such, never blamed upstream.
  return new ProxyError('INTERNAL', 502, 'The proxy could not send the request upstream', cause);
}
