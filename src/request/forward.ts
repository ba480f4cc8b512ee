import { PassThrough, type Readable } from 'node:stream';
import { forwardableHeaders, headerValue } from '../providers/headers.ts';
import type { Step } from './steps.ts';
import { sendUpstream } from './upstream.ts';

/**
 * Send the request to the provider's configured origin with undici: the signed, buffered request, or the client's
 * body streamed as it arrives (pass-through routes). Stops when the client goes away (the exchange's signal).
 */
export const forward: Step = {
  name: 'forward',
  async run(exchange, context) {
    const { provider, head, outgoing } = exchange;
    const origin = provider!.upstreamOrigin(head);
    const started = performance.now();
    if (outgoing) {
      const response = await sendUpstream(context.agent, origin, outgoing, exchange.signal);
      exchange.response = { ...response, ms: performance.now() - started, sentBytes: outgoing.body.length };
      return;
    }
    const headers = forwardableHeaders(head.headers);
    const length = headerValue(head.headers, 'content-length');
    if (length !== undefined) headers['content-length'] = length;
    const hasBody = head.method !== 'GET' && head.method !== 'HEAD';
    const request = { method: head.method, url: head.url, headers };
    const body = hasBody && exchange.bodyStream ? detachable(exchange.bodyStream) : undefined;
    const response = await sendUpstream(context.agent, origin, body ? { ...request, body } : request, exchange.signal);
    exchange.response = { ...response, ms: performance.now() - started };
  },
};

/**
 * The client's body as undici gets it: through a pass-through stream, because undici destroys the body it was given
 * when the call stops, and destroying the client's request mid-body would destroy its socket, leaving no way to tell
 * the client why (a stalled body's 408, shutdown's 503).
 */
function detachable(body: Readable): Readable {
  const through = new PassThrough();
  body.on('error', (error) => through.destroy(error));
  return body.pipe(through);
}
