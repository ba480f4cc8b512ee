import { startFakeUpstream } from '../../testkit/fake-upstream.ts';
import { type LoadRequest, load } from '../lib/load.ts';
import { type ChildServer, spawnHttpProxy, spawnProxy } from '../lib/processes.ts';
import { atMost, type BenchReport } from '../lib/report.ts';
import { fmt, mean } from '../lib/stats.ts';

const SECONDS = 4;
const ROUNDS = 2;

/**
 * Non-image requests (a Face++ faceset call: no image, streamed through) through this proxy vs @fastify/http-proxy,
 * both in their own process in front of the same fake upstream. Rounds alternate so drift in machine load hits both.
 */
export async function run(): Promise<BenchReport> {
  const upstream = await startFakeUpstream(() => ({ body: JSON.stringify({ facesets: [], time_used: 1 }) }));
  const request: LoadRequest = {
    method: 'POST',
    path: '/facepp/v3/faceset/getfacesets',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: Buffer.from('api_key=bench-key&api_secret=bench-secret'),
  };
  const servers: Record<string, ChildServer> = {
    'adacompress-proxy': await spawnProxy({ ADACOMPRESS_FACEPP_ENDPOINT: upstream.url }),
    '@fastify/http-proxy': await spawnHttpProxy(upstream.url),
  };
  try {
    const results: Record<string, { rps: number[]; meanC1: number[] }> = {};
    for (const [name, server] of Object.entries(servers)) {
      await load(server.url, [request], { connections: 10, seconds: 1 });
      results[name] = { rps: [], meanC1: [] };
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, server] of Object.entries(servers)) {
        const busy = await load(server.url, [request], { connections: 10, seconds: SECONDS });
        const single = await load(server.url, [request], { connections: 1, seconds: 2 });
        if (busy.errors + single.errors > 0) throw new Error(`${name}: ${busy.errors + single.errors} errors`);
        results[name]!.rps.push(busy.rps);
        results[name]!.meanC1.push(single.latencyMean);
      }
    }
    const baseline = mean(results['@fastify/http-proxy']!.rps);
    const ours = mean(results['adacompress-proxy']!.rps);
    const rows = Object.entries(results).map(([name, r]) => [
      name,
      fmt(mean(r.rps), 0),
      fmt(baseline / mean(r.rps)),
      fmt(mean(r.meanC1)),
    ]);
    return {
      title: 'Pass-through overhead on non-image requests: adacompress-proxy vs @fastify/http-proxy',
      columns: ['proxy', 'req/s at c=10', 'time per request vs http-proxy', 'mean ms at c=1'],
      rows,
      targets: [atMost('pass-through time per request / @fastify/http-proxy', baseline / ours, 1.2, 'x')],
      notes: [
        `autocannon (programmatic API), ${ROUNDS} alternating rounds of ${SECONDS} s at c=10 and 2 s at c=1 each, after a warm-up. Load generator and upstream share the cores with the proxy under test.`,
      ],
    };
  } finally {
    for (const server of Object.values(servers)) await server.stop();
    await upstream.close();
  }
}
