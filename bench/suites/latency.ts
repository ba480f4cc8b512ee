import { Pool } from 'undici';
import { startFakeUpstream } from '../../testkit/fake-upstream.ts';
import { DETECT_LABELS_HEADERS, detectLabelsBody, loadPhotos } from '../lib/photos.ts';
import { REFERENCES_OFF, spawnProxy } from '../lib/processes.ts';
import { atMost, type BenchReport } from '../lib/report.ts';
import { fmt, percentile } from '../lib/stats.ts';

const LABELS = JSON.stringify({ Labels: [{ Name: 'Dog', Confidence: 97 }] });

/**
 * Added latency at c=1: each photo is sent straight to the upstream and then through the proxy, back to back, so both
 * see the same machine state; the difference per photo is what the proxy adds. First pass over the photos warms up.
 */
export async function run(): Promise<BenchReport> {
  const bodies = loadPhotos().map(detectLabelsBody);
  const upstream = await startFakeUpstream(() => ({ body: LABELS }));
  const proxy = await spawnProxy({
    ADACOMPRESS_REKOGNITION_ENDPOINT: upstream.url,
    ...REFERENCES_OFF,
  });
  const direct = new Pool(upstream.url, { connections: 1 });
  const proxied = new Pool(proxy.url, { connections: 1 });
  try {
    const call = async (pool: Pool, body: Buffer) => {
      const start = performance.now();
      const res = await pool.request({ method: 'POST', path: '/', headers: DETECT_LABELS_HEADERS, body });
      await res.body.arrayBuffer();
      if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
      return performance.now() - start;
    };
    const times = { direct: [] as number[], proxied: [] as number[], added: [] as number[] };
    for (let pass = 0; pass < 2; pass++) {
      for (const body of bodies) {
        const d = await call(direct, body);
        const p = await call(proxied, body);
        if (pass === 0) continue;
        times.direct.push(d);
        times.proxied.push(p);
        times.added.push(p - d);
      }
    }
    const row = (name: string, samples: number[]) => [
      name,
      fmt(percentile(samples, 50)),
      fmt(percentile(samples, 90)),
      fmt(percentile(samples, 99)),
    ];
    const p50 = percentile(times.added, 50);
    const p99 = percentile(times.added, 99);
    return {
      title: 'Added latency at c=1 (ms): direct to the upstream vs through the proxy',
      columns: ['what', 'p50 ms', 'p90 ms', 'p99 ms'],
      rows: [row('direct', times.direct), row('through the proxy', times.proxied), row('added (paired)', times.added)],
      targets: [atMost('added latency p50', p50, 8, ' ms'), atMost('added latency p99', p99, 30, ' ms')],
      notes: [
        `${bodies.length} photos x 2 passes (first discarded), shipped ONNX policy, references off; proxy in its own process, fake upstream answering at once.`,
      ],
    };
  } finally {
    await direct.close();
    await proxied.close();
    await proxy.stop();
    await upstream.close();
  }
}
