import type { Registry } from 'prom-client';
import type { ControllerSnapshot } from '../feedback/controller.ts';
import type { ReferenceSamplerCounters } from '../feedback/reference-sampler.ts';

/**
 * A short memory of the proxy's counters for the status page: every `intervalMs` a sample of the cumulative totals is
 * pushed into a ring of `capacity` samples. Read from the metrics registry (one source of truth with /metrics) and the
 * controllers; nothing is recorded on the request path. Lost on restart by design: Prometheus keeps the long history.
 */
export interface HistorySample {
  /** Epoch milliseconds. */
  t: number;
  /** Cumulative image bytes received from clients and sent upstream (all providers). */
  bytesIn: number;
  bytesOut: number;
  /** Cumulative images re-encoded per JPEG quality ("35": 120). */
  actions: Record<string, number>;
  /** Cumulative images forwarded as sent, per reason (overload, not-smaller, ...). */
  originals: Record<string, number>;
  /** Cumulative reference uploads per result (sent, reused, failed). */
  references: Record<string, number>;
  /** Reference uploads the per-minute budget refused, cumulative. */
  referenceRefusals: number;
  /** Per provider/operation: controller state and mean agreement with the reference over its window. */
  controllers: Record<string, { state: string; windowMean: number | null; samples: number; needsRetraining: boolean }>;
}

export interface HistoryOptions {
  registry: Registry;
  controllers: () => Record<string, ControllerSnapshot>;
  sampler?: () => ReferenceSamplerCounters;
  /** Sampling period; default 10 s. */
  intervalMs?: number;
  /** Samples kept; default 360 (an hour at 10 s). */
  capacity?: number;
  now?: () => number;
}

export interface History {
  /** Take a sample now without storing it (the status page's "live" point). */
  sample(): Promise<HistorySample>;
  /** The stored samples, oldest first. */
  samples(): HistorySample[];
  readonly intervalMs: number;
  stop(): void;
}

const METRIC = {
  bytesIn: 'adacompress_image_bytes_in_total',
  bytesOut: 'adacompress_image_bytes_out_total',
  actions: 'adacompress_actions_total',
  originals: 'adacompress_original_forwarded_total',
  references: 'adacompress_reference_uploads_total',
};

export function createHistory(options: HistoryOptions): History {
  const intervalMs = options.intervalMs ?? 10_000;
  const capacity = options.capacity ?? 360;
  const now = options.now ?? Date.now;
  const ring: HistorySample[] = [];

  const sample = async (): Promise<HistorySample> => {
    const metrics = await options.registry.getMetricsAsJSON();
    const values = (name: string) => metrics.find((m) => m.name === name)?.values ?? [];
    const total = (name: string) => values(name).reduce((sum, v) => sum + v.value, 0);
    const byLabel = (name: string, label: string) => {
      const out: Record<string, number> = {};
      for (const v of values(name)) {
        const key = String((v.labels as Record<string, string | number | undefined>)[label] ?? '');
        out[key] = (out[key] ?? 0) + v.value;
      }
      return out;
    };
    const controllers: HistorySample['controllers'] = {};
    for (const [key, s] of Object.entries(options.controllers())) {
      controllers[key] = {
        state: s.state,
        windowMean: s.windowMean,
        samples: s.samples,
        needsRetraining: s.needsRetraining,
      };
    }
    return {
      t: now(),
      bytesIn: total(METRIC.bytesIn),
      bytesOut: total(METRIC.bytesOut),
      actions: byLabel(METRIC.actions, 'quality'),
      originals: byLabel(METRIC.originals, 'reason'),
      references: byLabel(METRIC.references, 'result'),
      referenceRefusals: options.sampler?.().refusedByBudget ?? 0,
      controllers,
    };
  };

  const record = async () => {
    ring.push(await sample());
    if (ring.length > capacity) ring.shift();
  };
  void record();
  const timer = setInterval(() => void record(), intervalMs);
  // The status page must never keep a process alive that is otherwise done.
  timer.unref();

  return {
    sample,
    samples: () => [...ring],
    intervalMs,
    stop: () => clearInterval(timer),
  };
}
