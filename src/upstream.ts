import { Agent, errors, request } from 'undici';
import { type OutgoingRequest, type Provider, ProxyError, type RequestHead } from './providers/types.ts';

export interface UpstreamOptions {
  connections: number;
  connectTimeoutMs: number;
  timeoutMs: number;
}

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: import('node:stream').Readable & { arrayBuffer(): Promise<ArrayBuffer> };
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

/**
 * Send one request upstream. Transport failures become ProxyErrors the provider turns into its own error shape:
 * connection failures 502, timeouts 504. Upstream HTTP errors are not failures: they reach the client as sent.
 */
export async function sendUpstream(
  agent: Agent,
  origin: string,
  req: { method: string; url: string; headers: Record<string, string>; body?: Buffer | import('node:stream').Readable },
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

/**
 * Sign (where the provider signs) and send a buffered request, and read the whole answer: the path of image requests
 * and of reference uploads. Content-Length is set here, before signing, so the signature covers the final value.
 */
export async function forwardBuffered(agent: Agent, provider: Provider, outgoing: OutgoingRequest, head: RequestHead) {
  const final = { ...outgoing, headers: { ...outgoing.headers, 'content-length': String(outgoing.body.length) } };
  const signed = provider.sign ? await signOrFail(provider, final, head) : final;
  const started = performance.now();
  const response = await sendUpstream(agent, provider.upstreamOrigin(head), signed);
  let body: Buffer;
  try {
    body = Buffer.from(await response.body.arrayBuffer());
  } catch (error) {
    throw toProxyError(error);
  }
  return {
    status: response.status,
    headers: response.headers,
    body,
    ms: performance.now() - started,
    sentBytes: signed.body.length,
  };
}

async function signOrFail(provider: Provider, outgoing: OutgoingRequest, head: RequestHead): Promise<OutgoingRequest> {
  try {
    return await provider.sign!(outgoing, head);
  } catch (error) {
    if (error instanceof ProxyError) throw error;
    // Usually: the proxy has no credentials of its own. The client is told in the API's shape; the log says why.
    throw new ProxyError('UPSTREAM_UNREACHABLE', 502, 'The proxy could not sign the request for the upstream service');
  }
}
