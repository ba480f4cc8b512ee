import autocannon from 'autocannon';

export interface LoadRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

export interface LoadResult {
  /** Completed 2xx responses per second over the run. */
  rps: number;
  latencyP50: number;
  /** Mean latency in ms (autocannon's percentiles are whole milliseconds; the mean is not). */
  latencyMean: number;
  latencyP99: number;
  completed: number;
  errors: number;
}

/**
 * autocannon through its programmatic API with Buffer bodies (its command line reads body files as UTF-8 and corrupts
 * binary bodies: FIELD-NOTES). Each connection cycles through `requests` in order.
 */
export async function load(
  url: string,
  requests: readonly LoadRequest[],
  options: { connections: number; seconds: number },
): Promise<LoadResult> {
  const result = await autocannon({
    url,
    connections: options.connections,
    duration: options.seconds,
    timeout: 30,
    requests: requests.map((r) => ({
      method: r.method,
      path: r.path,
      headers: r.headers,
      ...(r.body ? { body: r.body } : {}),
    })),
  });
  return {
    rps: result['2xx'] / result.duration,
    latencyP50: result.latency.p50,
    latencyMean: result.latency.average,
    latencyP99: result.latency.p99,
    completed: result['2xx'],
    errors: result.errors + result.timeouts + result.non2xx,
  };
}
