import { responseHeaders } from '../providers/headers.ts';
import type { ErrorReply, ProxyError } from '../providers/types.ts';
import { describeExchange } from './describe.ts';
import { type Exchange, stopReason } from './exchange.ts';
import type { Step } from './steps.ts';

/**
 * Answer the client: the upstream's status, end-to-end headers and body as it sent them, plus `x-adacompress`; or the
 * proxy's own error in the API's error shape; or 404 for a request no API claims.
 */
export const respond: Step = {
  name: 'respond',
  always: true,
  async run(exchange, context) {
    const reply = context.reply;
    // A client that went away gets nothing; one stopped by the proxy (its body stalled, shutdown) gets the error.
    if (!reply || reply.sent || (exchange.signal.aborted && !stopReason(exchange))) return;
    const adacompress = describeExchange(exchange);
    if (exchange.noRoute) {
      exchange.replied = { status: 404, adacompress: 'error;reason=no_route' };
      await reply.send(404, { 'content-type': 'application/json; charset=utf-8' }, NO_ROUTE);
      return;
    }
    const { error, response, provider } = exchange;
    if (error || !response) {
      const shaped = provider ? provider.errorReply(error!) : unrouted(error!);
      exchange.replied = { status: shaped.status, adacompress };
      const headers = { ...shaped.headers, ...closeIfUnread(exchange), 'x-adacompress': adacompress };
      await reply.send(shaped.status, headers, shaped.body);
      return;
    }
    exchange.replied = { status: response.status, adacompress };
    await reply.send(
      response.status,
      { ...responseHeaders(response.headers), ...closeIfUnread(exchange), 'x-adacompress': adacompress },
      response.raw ?? response.body,
    );
  },
};

/**
 * `Connection: close` when the answer goes before the client's body was read to its end (a stalled body, a body
 * refused as BUSY, an upstream that answered early): reading megabytes only to throw them away, so the connection
 * could be reused, would cost more than a new connection.
 */
function closeIfUnread(exchange: Exchange): Record<string, string> {
  const incomplete = (exchange.bodyStream as { complete?: boolean } | undefined)?.complete === false;
  return incomplete || stopReason(exchange) ? { connection: 'close' } : {};
}

/** An error before any API claimed the request (stopped during routing): the proxy's own plain shape. */
const unrouted = (error: ProxyError): ErrorReply => ({
  status: error.status,
  headers: { 'content-type': 'application/json; charset=utf-8' },
  body: JSON.stringify({ message: `adacompress-proxy: ${error.message}` }),
});

const NO_ROUTE = JSON.stringify({ message: 'adacompress-proxy: no configured upstream API matches this request' });
