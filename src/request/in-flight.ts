import type { ProxyError } from '../providers/types.ts';
import type { Exchange } from './exchange.ts';

/**
 * The client exchanges being handled right now, each with the controller that stops it. Shutdown waits for them (the
 * last steps of an exchange, which log its decisions and start its reference upload, run after its answer is sent),
 * and when the grace runs out stops each with an error its client is answered with.
 */
export class InFlight {
  readonly #stops = new Map<Exchange, AbortController>();
  #idle: Array<() => void> = [];

  get size(): number {
    return this.#stops.size;
  }

  add(exchange: Exchange, stop: AbortController): void {
    this.#stops.set(exchange, stop);
  }

  delete(exchange: Exchange): void {
    this.#stops.delete(exchange);
    if (this.#stops.size > 0) return;
    for (const resolve of this.#idle.splice(0)) resolve();
  }

  /** Resolves true once none is in flight, or false at `deadline` (performance.now()). */
  settled(deadline: number): Promise<boolean> {
    if (this.#stops.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), Math.max(0, deadline - performance.now()));
      timer.unref();
      this.#idle.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** Stop every exchange in flight with `reason` (each still unanswered gets it in its API's shape). */
  stopAll(reason: ProxyError): void {
    for (const stop of this.#stops.values()) stop.abort(reason);
  }
}
