import { headerValue } from '../providers/headers.ts';
import { readBody } from './read-body.ts';
import type { Step } from './steps.ts';

/**
 * Read the whole body of an image request (and of every request of an API whose signature covers the body), within
 * the API's body limit. Everything else keeps streaming. The work deadline starts here: a slow upload is the
 * client's time, not the proxy's.
 */
export const buffer: Step = {
  name: 'buffer',
  when: (exchange) => exchange.operation !== undefined || exchange.provider!.bufferAll,
  async run(exchange, context) {
    const { provider, bodyStream, head } = exchange;
    exchange.body = bodyStream
      ? await readBody(bodyStream, provider!.maxBodyBytes, headerValue(head.headers, 'content-length'))
      : Buffer.alloc(0);
    delete exchange.bodyStream;
    exchange.workDeadline = performance.now() + context.imageDeadlineMs;
  },
};
