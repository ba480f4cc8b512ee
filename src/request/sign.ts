import { forwardableHeaders } from '../providers/headers.ts';
import { type OutgoingRequest, ProxyError } from '../providers/types.ts';
import type { Step } from './steps.ts';

/**
 * The last touch before sending a buffered request: Content-Length final, then the provider's signature (Rekognition
 * re-signs with the proxy's key), so the signature covers exactly what goes. The client's bytes when nothing was
 * rebuilt.
 */
export const sign: Step = {
  name: 'sign',
  when: (exchange) => exchange.body !== undefined,
  async run(exchange, context) {
    const provider = exchange.provider!;
    const outgoing = exchange.outgoing ?? {
      method: exchange.head.method,
      url: exchange.head.url,
      headers: forwardableHeaders(exchange.head.headers),
      body: exchange.body!,
    };
    const final: OutgoingRequest = {
      ...outgoing,
      headers: { ...outgoing.headers, 'content-length': String(outgoing.body.length) },
    };
    if (!provider.sign) {
      exchange.outgoing = final;
      return;
    }
    try {
      exchange.outgoing = await provider.sign(final, exchange.head);
    } catch (error) {
      if (error instanceof ProxyError) throw error;
      context.logger.error({ err: error, provider: provider.name }, 'signing the upstream request failed');
      // Usually: the proxy has no credentials of its own. The client is told in the API's shape; the log says why.
      throw new ProxyError('INTERNAL', 502, 'The proxy could not sign the request for the upstream service');
    }
  },
};
