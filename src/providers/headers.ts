import type { Headers } from './types.ts';

/**
 * Hop-by-hop headers (RFC 9110 7.6.1) never travel across a proxy; `host` is set to the upstream's. `expect` is
 * answered here: Node sends the client its `100 Continue` when the request arrives (curl asks for one on every body
 * over 1 MB), and the body then goes upstream as an ordinary one, buffered or streamed (RFC 9110 10.1.1 lets a proxy
 * do that; undici refuses to send the header at all).
 */
const HOP_BY_HOP = new Set([
  'expect',
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);

/** Copy of the end-to-end headers, flattened to strings, minus `drop` (lower-case names) and content-length. */
export function forwardableHeaders(headers: Headers, drop: ReadonlySet<string> = new Set()): Record<string, string> {
  const connectionListed = listedInConnection(headers);
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || connectionListed.has(lower) || drop.has(lower) || lower === 'content-length') continue;
    out[lower] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/**
 * The upstream's response headers for the client: end-to-end ones only, repeated ones kept as separate lines
 * (two `Set-Cookie` joined by a comma would be one broken cookie).
 */
export function responseHeaders(headers: Headers): Record<string, string | string[]> {
  const connectionListed = listedInConnection(headers);
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || connectionListed.has(lower)) continue;
    out[lower] = Array.isArray(value) ? [...value] : value;
  }
  return out;
}

const listedInConnection = (headers: Headers): Set<string> =>
  new Set(
    String(headers.connection ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean),
  );

export function headerValue(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The path without its query string: what logs may show (queries carry Baidu's access_token). */
export const pathOf = (url: string): string => {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
};
