import type { Step } from './steps.ts';
import { NoRouteError } from './steps.ts';

/**
 * Which configured API the request is for, found by its shape (path, headers), and which image operation if any. The
 * upstream is never taken from the request itself: a request no API claims is answered 404 (no open relay).
 */
export const route: Step = {
  name: 'route',
  run(exchange, { providers }) {
    const provider = providers.find((p) => p.matches(exchange.head));
    if (!provider) throw new NoRouteError('no configured upstream API matches this request');
    exchange.provider = provider;
    const operation = provider.imageOperation(exchange.head);
    if (operation) exchange.operation = operation;
  },
};
