import { forwardableHeaders, headerValue } from '../providers/headers.ts';
import type { Headers } from '../providers/types.ts';
import { describeExchange } from './describe.ts';
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
    if (!reply || reply.sent || exchange.signal.aborted) return;
    const adacompress = describeExchange(exchange);
    if (exchange.noRoute) {
      exchange.replied = { status: 404, adacompress: 'error;reason=no_route' };
      await reply.send(404, { 'content-type': 'application/json; charset=utf-8' }, NO_ROUTE);
      return;
    }
    const { error, response, provider } = exchange;
    if (error || !response) {
      const shaped = provider!.errorReply(error!);
      exchange.replied = { status: shaped.status, adacompress };
      await reply.send(shaped.status, { ...shaped.headers, 'x-adacompress': adacompress }, shaped.body);
      return;
    }
    exchange.replied = { status: response.status, adacompress };
    await reply.send(
      response.status,
      { ...responseHeaders(response.headers), 'x-adacompress': adacompress },
      response.raw ?? response.body,
    );
  },
};

const NO_ROUTE = JSON.stringify({ message: 'adacompress-proxy: no configured upstream API matches this request' });

function responseHeaders(headers: Headers): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = { ...forwardableHeaders(headers) };
  const length = headerValue(headers, 'content-length');
  if (length !== undefined) out['content-length'] = length;
  return out;
}
