import { startFakeUpstream } from '../../testkit/fake-upstream.ts';
import { type LoadRequest, load } from '../lib/load.ts';
import { DETECT_LABELS_HEADERS, detectLabelsBody, loadPhotos } from '../lib/photos.ts';
import { CONTAINER_ENV, metricSum, spawnProxy } from '../lib/processes.ts';
import { atMost, type BenchReport } from '../lib/report.ts';
import { fmt } from '../lib/stats.ts';

const SECONDS = 8;
const CONNECTIONS = 64;
const MB = 1024 * 1024;

/**
 * Resident memory of the proxy process (shipped config, container env) while 64 uploads are in flight at all times.
 * Two orders of the same photos: name order (the mix, what the other benchmarks send) and largest first, where all 64
 * connections start with the two photos over 400 KB at once (the worst case for buffered bodies).
 */
export async function run(): Promise<BenchReport> {
  const photos = loadPhotos();
  const toRequests = (list: Buffer[]): LoadRequest[] =>
    list.map((photo) => ({ method: 'POST', path: '/', headers: DETECT_LABELS_HEADERS, body: detectLabelsBody(photo) }));
  const scenarios = [
    { name: 'imagenet-sample photos, name order', requests: toRequests(photos) },
    {
      name: 'largest photos first (worst case)',
      requests: toRequests([...photos].sort((a, b) => b.length - a.length)),
    },
  ];
  const upstream = await startFakeUpstream(() => ({ body: JSON.stringify({ Labels: [] }) }));
  const rows: string[][] = [];
  const hwms: number[] = [];
  try {
    for (const scenario of scenarios) {
      const proxy = await spawnProxy({ ADACOMPRESS_REKOGNITION_ENDPOINT: upstream.url });
      try {
        const idle = proxy.memory().rss;
        let peakSampled = 0;
        const sampler = setInterval(() => {
          peakSampled = Math.max(peakSampled, proxy.memory().rss);
        }, 50);
        const result = await load(proxy.url, scenario.requests, { connections: CONNECTIONS, seconds: SECONDS });
        clearInterval(sampler);
        const { rss: after, hwm } = proxy.memory();
        hwms.push(hwm / MB);
        const count = (name: string, match: string) => metricSum(proxy.adminUrl!, name, match);
        rows.push([
          scenario.name,
          fmt(idle / MB, 0),
          fmt(peakSampled / MB, 0),
          fmt(hwm / MB, 0),
          fmt(after / MB, 0),
          fmt(result.rps, 1),
          String(await count('adacompress_requests_total', 'outcome="encoded"')),
          String(await count('adacompress_original_forwarded_total', 'reason="overload"')),
          String(await count('adacompress_original_forwarded_total', 'reason="deadline"')),
          String(result.errors),
        ]);
      } finally {
        await proxy.stop();
      }
    }
  } finally {
    await upstream.close();
  }
  return {
    title: `RSS of the proxy process with ${CONNECTIONS} concurrent uploads (MB)`,
    columns: [
      'photos',
      'idle',
      'peak (sampled 50 ms)',
      'high-water mark (VmHWM)',
      'after',
      'req/s',
      're-encoded',
      'overload',
      'deadline',
      'errors',
    ],
    rows,
    targets: [
      atMost('RSS high-water mark, 64 uploads, photo mix', hwms[0]!, 300, ' MB'),
      atMost('RSS high-water mark, 64 uploads, largest first', hwms[1]!, 300, ' MB'),
    ],
    notes: [
      `shipped config (ONNX policies, decision log on, references 2%), env ${Object.entries(CONTAINER_ENV)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}; ${SECONDS} s of autocannon at c=${CONNECTIONS}; a fresh proxy process per row.`,
      'overload / deadline: images forwarded as sent because the re-encode slots and queue were full or the 1 s image deadline passed (by design: the proxy degrades to a plain proxy rather than queue).',
    ],
  };
}
