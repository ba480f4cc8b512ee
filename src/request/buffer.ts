import { headerValue } from '../providers/headers.ts';
import { ProxyError } from '../providers/types.ts';
import { readBody } from './read-body.ts';
import type { Step } from './steps.ts';

/**
 * Read the whole body of an image request (and of every request of an API whose signature covers the body), within
 * the API's body limit and the memory bound on bodies held at once (--max-buffered-bytes). Everything else keeps
 * streaming. A body that finds no room within --buffer-wait-ms streams on as sent (the original goes,
 * reason=memory), or where the API's signature needs the whole body gets BUSY in the API's shape. The work deadline
 * starts here: a slow upload is the client's time, not the proxy's.
 */
export const buffer: Step = {
  name: 'buffer',
  when: (exchange) => exchange.operation !== undefined || exchange.provider!.bufferAll,
  async run(exchange, context) {
    const { provider, bodyStream, head } = exchange;
    const limit = provider!.maxBodyBytes;
    const declared = headerValue(head.headers, 'content-length');
    if (bodyStream && context.bodyBudget && !(Number(declared) > limit)) {
      // Reserved at the body limit when the length is not declared (chunked), then set to what it was.
      const length = Number(declared);
      const reserve = declared !== undefined && Number.isFinite(length) ? length : limit;
      const lease = await context.bodyBudget.reserve(reserve, context.bufferWaitMs ?? 0, exchange.signal);
      if (!lease) {
        exchange.signal.throwIfAborted();
        if (provider!.bufferAll) {
          throw new ProxyError('BUSY', 503, 'The proxy holds too many request bodies in memory; retry shortly');
        }
        exchange.originalReason = 'memory';
        return;
      }
      exchange.bodyLease = lease;
      exchange.body = await readBody(bodyStream, limit, declared, exchange.signal);
      lease.resize(exchange.body.length);
    } else {
      exchange.body = bodyStream ? await readBody(bodyStream, limit, declared, exchange.signal) : Buffer.alloc(0);
    }
    delete exchange.bodyStream;
    exchange.workDeadline = performance.now() + context.imageDeadlineMs;
  },
};
