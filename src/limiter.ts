/**
 * Bounded concurrency for CPU-bound image work. When every slot is busy and the queue is full, the caller is told at once
 * (so it forwards the original) instead of queueing without bound: under overload the proxy degrades to a plain proxy.
 */
export type LimitedResult<T> = { ok: true; value: T } | { ok: false; reason: 'overload' | 'deadline' | 'aborted' };

/** What the work is told: a signal that aborts at the deadline (or when the caller gives up), and when that is. */
export interface WorkBudget {
  signal: AbortSignal;
  /** performance.now() at which the deadline passes. */
  deadline: number;
}

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
   * Run `work` when a slot is free, giving up after `deadlineMs` (waiting included) or when `signal` aborts (the client
   * went away). Giving up stops the work, not only the wait: the work's budget signal aborts, and the work is expected
   * to stop at its next check and to bound what it cannot interrupt (the codec's decode-time limit). Work keeps its
   * slot until it really ends, so the CPU accounting stays honest; work still queued when its caller gives up never
   * starts.
   */
  async run<T>(
    work: (budget: WorkBudget) => Promise<T>,
    deadlineMs: number,
    signal?: AbortSignal,
  ): Promise<LimitedResult<T>> {
    if (signal?.aborted) return { ok: false, reason: 'aborted' };
    if (this.#active >= this.concurrency && this.#waiting.length >= this.maxQueue)
      return { ok: false, reason: 'overload' };
    const stop = new AbortController();
    const deadline = performance.now() + deadlineMs;
    let giveUp!: (result: LimitedResult<T>) => void;
    const givenUp = new Promise<LimitedResult<T>>((resolve) => {
      giveUp = resolve;
    });
    const end = (reason: 'deadline' | 'aborted') => {
      stop.abort(reason);
      giveUp({ ok: false, reason });
    };
    const timer = setTimeout(() => end('deadline'), deadlineMs);
    timer.unref();
    const onAbort = () => end('aborted');
    signal?.addEventListener('abort', onAbort, { once: true });
    const job = (async (): Promise<LimitedResult<T>> => {
      await this.#acquire();
      if (stop.signal.aborted) {
        // Gave up while queued: hand the slot straight on rather than start work nobody waits for.
        this.#release();
        return { ok: false, reason: stop.signal.reason as 'deadline' | 'aborted' };
      }
      try {
        return { ok: true, value: await work({ signal: stop.signal, deadline }) };
      } finally {
        this.#release();
      }
    })();
    try {
      return await Promise.race([job, givenUp]);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
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
