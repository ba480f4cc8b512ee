/**
 * Bounded concurrency for CPU-bound image work. When every slot is busy and the queue is full, the caller is told at once
 * (so it forwards the original) instead of queueing without bound: under overload the proxy degrades to a plain proxy.
 */
export type LimitedResult<T> = { ok: true; value: T } | { ok: false; reason: 'overload' | 'deadline' };

export class WorkLimiter {
  readonly concurrency: number;
  readonly maxQueue: number;
  #active = 0;
  #waiting: Array<() => void> = [];

  constructor(options: { concurrency: number; maxQueue: number }) {
    this.concurrency = options.concurrency;
    this.maxQueue = options.maxQueue;
  }

  get active(): number {
    return this.#active;
  }
  get queued(): number {
    return this.#waiting.length;
  }
  /** Every slot busy and the queue full: new work would be refused. */
  get saturated(): boolean {
    return this.#active >= this.concurrency && this.#waiting.length >= this.maxQueue;
  }

  /**
   * Run `work` when a slot is free, giving up after `deadlineMs` (waiting included). Work that passes its deadline keeps
   * its slot until it really ends, so the CPU accounting stays honest; only the caller stops waiting for it.
   */
  async run<T>(work: () => Promise<T>, deadlineMs: number): Promise<LimitedResult<T>> {
    if (this.#active >= this.concurrency && this.#waiting.length >= this.maxQueue)
      return { ok: false, reason: 'overload' };
    let timer: NodeJS.Timeout | undefined;
    let expired = false;
    const deadline = new Promise<LimitedResult<T>>((resolve) => {
      timer = setTimeout(() => {
        expired = true;
        resolve({ ok: false, reason: 'deadline' });
      }, deadlineMs);
      timer.unref();
    });
    const job = (async (): Promise<LimitedResult<T>> => {
      await this.#acquire();
      if (expired) {
        // Timed out while queued: hand the slot straight on rather than start work nobody waits for.
        this.#release();
        return { ok: false, reason: 'deadline' };
      }
      try {
        return { ok: true, value: await work() };
      } finally {
        this.#release();
      }
    })();
    try {
      return await Promise.race([job, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  #acquire(): Promise<void> {
    if (this.#active < this.concurrency) {
      this.#active++;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.#waiting.push(() => {
        this.#active++;
        resolve();
      });
    });
  }

  #release(): void {
    this.#active--;
    const next = this.#waiting.shift();
    if (next) next();
  }
}
