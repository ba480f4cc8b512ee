import { pathOf } from '../providers/headers.ts';
import type { Step } from './steps.ts';
import { NoRouteError } from './steps.ts';

/**
 * Which configured API the request is for, found by its shape (path, headers), and which image operation if any. The
 * upstream is never taken from the request itself: a request no API claims is answered 404 (no open relay). Neither is
 * a path with dot-segments: the providers' prefix checks see `/facepp/../secret` as a Face++ path, while the upstream
 * (or any URL parser on the way) resolves it to `/secret`. The path that is checked is the path that is sent.
 */
export const route: Step = {
  name: 'route',
  run(exchange, { providers }) {
    if (hasDotSegment(pathOf(exchange.head.url))) {
      throw new NoRouteError('a path with dot-segments is never forwarded');
    }
    const provider = providers.find((p) => p.matches(exchange.head));
    if (!provider) throw new NoRouteError('no configured upstream API matches this request');
    exchange.provider = provider;
    const operation = provider.imageOperation(exchange.head);
    if (operation) exchange.operation = operation;
  },
};

/**
 * A `.` or `..` segment, also percent-encoded (`%2e`, any case) or between separators some servers decode or accept
 * (`%2f`, `\`, `%5c`): every spelling a URL parser or an origin server may resolve.
 */
export function hasDotSegment(path: string): boolean {
  return path
    .replace(/%2f|%5c|\\/gi, '/')
    .split('/')
    .some((segment) => /^(?:\.|%2e){1,2}$/i.test(segment));
}
