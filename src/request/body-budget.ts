/**
 * A bound on the request bodies held in memory at once (--max-buffered-bytes). Without one, 64 concurrent 9.9 MB
 * uploads took the process to 1.43 GB (issue 11, item 17). A body reserves its bytes before a byte of it is read;
 * past the limit it waits (--buffer-wait-ms) for others to finish, and when the wait runs out the caller decides
 * what it gets (the buffer step: streamed through as sent, or BUSY where the API's signature needs the whole body).
 * A body larger than the whole limit is still taken when nothing else is held, so no request is refused for size
 * alone (the body limit does that).
 */
export class BodyBudget {
  /** 0: no limit. */
  readonly limit: number;
  #held = 0;
  readonly #waiting: Array<{ bytes: number; grant: () => void }> = [];

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Bytes held by bodies now. */
  get held(): number {
    return this.#held;
  }
  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * Reserve `bytes`, waiting at most `waitMs` (in arrival order) or until `signal` aborts. Undefined when the wait ran
   * out or was abandoned.
   */
  async reserve(bytes: number, waitMs: number, signal?: AbortSignal): Promise<BodyLease | undefined> {
    if (this.limit === 0) return new BodyLease(this, 0);
    if (this.#waiting.length === 0 && this.#fits(bytes)) return this.#grant(bytes);
    if (waitMs <= 0 || signal?.aborted) return undefined;
    return new Promise((resolve) => {
      const entry = {
        bytes,
        grant: () => {
          cleanup();
          resolve(this.#grant(bytes));
        },
      };
      const giveUp = () => {
        cleanup();
        const at = this.#waiting.indexOf(entry);
        if (at !== -1) this.#waiting.splice(at, 1);
        resolve(undefined);
        this.#wake(); // the head of the queue may have been the one blocking others
      };
      const timer = setTimeout(giveUp, waitMs);
      timer.unref();
      signal?.addEventListener('abort', giveUp, { once: true });
      const cleanup = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', giveUp);
      };
      this.#waiting.push(entry);
    });
  }

  /** @internal a lease gives bytes back (or changes its size to what the body really was). */
  adjust(delta: number): void {
    this.#held += delta;
    if (delta < 0) this.#wake();
  }

  #fits(bytes: number): boolean {
    return this.#held === 0 || this.#held + bytes <= this.limit;
  }

  #grant(bytes: number): BodyLease {
    this.#held += bytes;
    return new BodyLease(this, bytes);
  }

  #wake(): void {
    while (this.#waiting.length > 0 && this.#fits(this.#waiting[0]!.bytes)) this.#waiting.shift()!.grant();
  }
}

/** Bytes reserved for one body, until released (at the end of its exchange). */
export class BodyLease {
  readonly #budget: BodyBudget;
  #bytes: number;

  constructor(budget: BodyBudget, bytes: number) {
    this.#budget = budget;
    this.#bytes = bytes;
  }

  /** The body turned out to be `bytes` long (it was reserved at the body limit: no Content-Length). */
  resize(bytes: number): void {
    if (this.#budget.limit === 0) return;
    this.#budget.adjust(bytes - this.#bytes);
    this.#bytes = bytes;
  }

  release(): void {
    if (this.#bytes === 0) return;
    this.#budget.adjust(-this.#bytes);
    this.#bytes = 0;
  }
}
