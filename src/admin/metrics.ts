import { Counter, Gauge, Histogram, Registry } from 'prom-client';

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
    inFlight: new Gauge({
      name: 'adacompress_in_flight_requests',
      help: 'Requests being handled now.',
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
