import { ProxyError } from '../providers/types.ts';
import type { Step } from './steps.ts';

/**
 * Take the request apart into its images, each with the operation it is sent to. A body the proxy cannot read is
 * forwarded as sent (the API answers it in its own words); so is every request while image work is saturated, since
 * the original goes anyway and parsing would spend the CPU that is short.
 */
export const extract: Step = {
  name: 'extract',
  improves: true,
  when: (exchange) => exchange.operation !== undefined && exchange.body !== undefined,
  run(exchange, context) {
    if (context.limiter.saturated) {
      exchange.originalReason = 'overload';
      return;
    }
    const provider = exchange.provider!;
    try {
      const extracted = provider.extract({ ...exchange.head, body: exchange.body! }, exchange.operation!);
      if (!extracted) {
        exchange.originalReason = 'no-inline-image';
        return;
      }
      exchange.extracted = extracted;
      exchange.slots = extracted.slots.map((slot) => ({
        field: slot.field,
        operation: slot.operation,
        key: `${provider.name}/${slot.operation.name}`,
        bytes: slot.bytes,
        ...(slot.keepSize ? { keepSize: true } : {}),
      }));
    } catch (error) {
      exchange.originalReason = error instanceof ProxyError ? 'bad-request' : 'extract-failed';
      context.logger.debug({ err: error, provider: provider.name }, 'extract failed; forwarding original');
    }
  },
};
