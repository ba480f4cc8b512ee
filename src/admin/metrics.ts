import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CalibrationSnapshot } from '../feedback/calibration.ts';
import type { ControllerSnapshot } from '../feedback/controller.ts';
import type { ReferenceSamplerCounters } from '../feedback/reference-sampler.ts';

/** The proxy's Prometheus metrics, on a registry of its own so several servers (tests) never share counters. */
export function createMetrics() {
  const registry = new Registry();
  const labelNames = ['provider', 'operation'] as const;
  return {
    registry,
    requests: new Counter({
      name: 'adacompress_requests_total',
      help: 'Requests handled, by provider, operation and outcome (encoded, original, passthrough, error).',
      labelNames: [...labelNames, 'outcome'] as const,
      registers: [registry],
    }),
    originals: new Counter({
      name: 'adacompress_original_forwarded_total',
      help: 'Images forwarded as the client sent them, by reason (not-smaller, overload, deadline, corrupt, ...).',
      labelNames: ['provider', 'reason'] as const,
      registers: [registry],
    }),
    imageBytesIn: new Counter({
      name: 'adacompress_image_bytes_in_total',
      help: 'Image bytes received from clients (decoded, before recompression).',
      labelNames,
      registers: [registry],
    }),
    imageBytesOut: new Counter({
      name: 'adacompress_image_bytes_out_total',
      help: 'Image bytes sent upstream (decoded, after recompression or as sent).',
      labelNames,
      registers: [registry],
    }),
    actions: new Counter({
      name: 'adacompress_actions_total',
      help: 'JPEG quality chosen per image, by provider and operation.',
      labelNames: [...labelNames, 'quality'] as const,
      registers: [registry],
    }),
    upstreamSeconds: new Histogram({
      name: 'adacompress_upstream_duration_seconds',
      help: 'Time from sending upstream to the full answer, by provider and status class.',
      labelNames: ['provider', 'status'] as const,
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    imageWorkSeconds: new Histogram({
      name: 'adacompress_image_work_seconds',
      help: 'Time spent on one image: inspect, decide, encode (queue wait included).',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
    references: new Counter({
      name: 'adacompress_reference_uploads_total',
      help: 'Reference uploads (a second, paid call with the reference image): sent, reused (sent image was the reference) or failed.',
      labelNames: ['provider', 'result'] as const,
      registers: [registry],
    }),
    inFlight: new Gauge({
      name: 'adacompress_in_flight_requests',
      help: 'Requests being handled now.',
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Gauges read at scrape time from the learning loop: controller state per provider/operation and the reference budget. */
export function observeLearningLoop(
  metrics: Metrics,
  read: () => {
    controllers: Record<string, ControllerSnapshot>;
    sampler: ReferenceSamplerCounters;
    calibration: Record<string, CalibrationSnapshot>;
  },
): void {
  const registers = [metrics.registry];
  new Gauge({
    name: 'adacompress_calibration_floor_pixels',
    help: 'Calibrated smallest longest side images are sent at, per provider/operation (0 = the stored size).',
    labelNames: ['key'] as const,
    registers,
    collect() {
      for (const [key, s] of Object.entries(read().calibration)) this.set({ key }, s.point.floor ?? 0);
    },
  });
  new Gauge({
    name: 'adacompress_calibration_level',
    help: "Calibrated level of the policy's ladder (0 = safest), per provider/operation.",
    labelNames: ['key'] as const,
    registers,
    collect() {
      for (const [key, s] of Object.entries(read().calibration)) this.set({ key }, s.point.level);
    },
  });
  new Gauge({
    name: 'adacompress_calibration_agreement_lower_bound',
    help: 'Lower confidence bound of agreement at the calibrated point (its own references; absent until one).',
    labelNames: ['key'] as const,
    registers,
    collect() {
      for (const [key, s] of Object.entries(read().calibration)) if (s.estimate) this.set({ key }, s.estimate.low);
    },
  });
  new Gauge({
    name: 'adacompress_calibration_exploring',
    help: '1 while calibration probes a cheaper candidate with boosted references, per provider/operation.',
    labelNames: ['key'] as const,
    registers,
    collect() {
      for (const [key, s] of Object.entries(read().calibration)) this.set({ key }, s.calibrating ? 1 : 0);
    },
  });
  new Gauge({
    name: 'adacompress_controller_fallback',
    help: '1 while the controller for this provider/operation sends the safe quality because agreement dropped.',
    labelNames: ['key'] as const,
    registers,
    collect() {
      for (const [key, s] of Object.entries(read().controllers)) this.set({ key }, s.state === 'fallback' ? 1 : 0);
    },
  });
  new Gauge({
    name: 'adacompress_controller_agreement',
    help: 'Mean agreement with the reference answer over the controller window (absent until the first sample).',
    labelNames: ['key'] as const,
    registers,
    collect() {
      for (const [key, s] of Object.entries(read().controllers))
        if (s.windowMean !== null) this.set({ key }, s.windowMean);
    },
  });
  new Gauge({
    name: 'adacompress_policy_needs_retraining',
    help: '1 when the controller saw agreement drop: the trainer should produce a new model.',
    labelNames: ['key'] as const,
    registers,
    collect() {
      for (const [key, s] of Object.entries(read().controllers)) this.set({ key }, s.needsRetraining ? 1 : 0);
    },
  });
  new Gauge({
    name: 'adacompress_reference_sampler',
    help: 'Reference sampler counters since start: granted, refused by the per-minute budget, not drawn.',
    labelNames: ['result'] as const,
    registers,
    collect() {
      const c = read().sampler;
      this.set({ result: 'granted' }, c.granted);
      this.set({ result: 'refused_budget' }, c.refusedByBudget);
      this.set({ result: 'not_drawn' }, c.notDrawn);
    },
  });
}
