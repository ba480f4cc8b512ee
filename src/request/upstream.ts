import type { Readable } from 'node:stream';
import { Agent, errors, request } from 'undici';
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
 * Send one request upstream. Transport failures become ProxyErrors the provider turns into its own error shape:
 * connection failures 502, timeouts 504. Upstream HTTP errors are not failures: they reach the client as sent.
 */
export async function sendUpstream(
  agent: Agent,
  origin: string,
  req: { method: string; url: string; headers: Record<string, string>; body?: Buffer | Readable },
  signal?: AbortSignal,
): Promise<UpstreamResponse> {
  try {
    const res = await request(new URL(req.url, origin), {
      method: req.method as 'POST',
      headers: req.headers,
      body: req.body ?? null,
      dispatcher: agent,
      ...(signal ? { signal } : {}),
    });
    return { status: res.statusCode, headers: res.headers, body: res.body };
  } catch (error) {
    throw toProxyError(error);
  }
}

export function toProxyError(error: unknown): ProxyError {
  if (error instanceof ProxyError) return error;
  if (error instanceof errors.HeadersTimeoutError || error instanceof errors.BodyTimeoutError) {
    return new ProxyError('UPSTREAM_TIMEOUT', 504, 'The upstream service did not answer in time');
  }
  return new ProxyError('UPSTREAM_UNREACHABLE', 502, 'The upstream service could not be reached');
}
