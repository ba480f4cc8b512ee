import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { startSinkUpstream } from '../../testkit/sink-upstream.ts';
import { spawnProxy } from '../lib/processes.ts';
import { atMost, type BenchReport } from '../lib/report.ts';
import { fmt } from '../lib/stats.ts';

/** How long the bench waits for anything: a client still unanswered then is "never". */
const CAP_MS = 20_000;
const POOL = 4;

/**
 * A client that sends its head and `first` bytes of a `length`-byte body, then a byte every `everyMs` (never, when
 * undefined). Resolves with the status it was answered and when, or undefined at the cap.
 */
function slowClient(url: string, path: string, length: number, first: number, everyMs?: number) {
  const { hostname, port } = new URL(url);
  const started = performance.now();
  return new Promise<{ status: number; ms: number } | undefined>((resolve) => {
    const socket = connect(Number(port), hostname);
    let timer: NodeJS.Timeout | undefined;
    const done = (answer: { status: number; ms: number } | undefined) => {
      clearInterval(timer);
      clearTimeout(cap);
      socket.destroy();
      resolve(answer);
    };
    const cap = setTimeout(() => done(undefined), CAP_MS);
    socket.on('connect', () => {
      socket.write(
        `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${length}\r\n\r\n`,
      );
      socket.write('a'.repeat(first));
      if (everyMs !== undefined) timer = setInterval(() => socket.write('a'), everyMs);
    });
    socket.on('data', (chunk: Buffer) => {
      const status = Number(/^HTTP\/1\.1 (\d+)/.exec(chunk.toString('latin1'))?.[1]);
      if (status) done({ status, ms: performance.now() - started });
    });
    socket.on('error', () => done(undefined));
  });
}

const show = (answer: { status: number; ms: number } | undefined) =>
  answer ? `${answer.status} after ${fmt(answer.ms / 1000, 1)} s` : `none in ${CAP_MS / 1000} s`;

/**
 * Slow clients against the proxy (issue 11, item 3): one whose body stalls on an image route, and four trickling a
 * byte every 500 ms on a pass-through route, holding every connection of a 4-connection upstream pool; then an
 * ordinary pass-through call. With the client timeouts effectively off (the behaviour before) and at 2 s idle / 5 s
 * whole request (the defaults are 15 s / 120 s; shorter here so the bench is short).
 */
export async function run(): Promise<BenchReport> {
  const upstream = await startSinkUpstream();
  const rows: string[][] = [];
  const ordinaryMs: number[] = [];
  try {
    for (const [label, idle, whole] of [
      ['timeouts off (before)', 1e9, 1e9],
      ['2 s idle, 5 s whole (after)', 2000, 5000],
    ] as const) {
      const proxy = await spawnProxy({
        ADACOMPRESS_FACEPP_ENDPOINT: upstream.url,
        ADACOMPRESS_UPSTREAM_CONNECTIONS: String(POOL),
        ADACOMPRESS_CLIENT_BODY_TIMEOUT_MS: String(idle),
        ADACOMPRESS_CLIENT_REQUEST_TIMEOUT_MS: String(whole),
      });
      try {
        const stalled = slowClient(proxy.url, '/facepp/v3/detect', 10_000, 100);
        const tricklers = Array.from({ length: POOL }, () =>
          slowClient(proxy.url, '/facepp/v3/faceset/create', 10_000, 100, 500),
        );
        await sleep(300);
        const started = performance.now();
        const ordinary = await Promise.race([
          request(`${proxy.url}/facepp/v3/faceset/getfacesets`, { method: 'POST', body: 'api_key=k' }).then(
            async (res) => {
              await res.body.dump();
              return { status: res.statusCode, ms: performance.now() - started };
            },
          ),
          sleep(CAP_MS).then(() => undefined),
        ]);
        ordinaryMs.push(ordinary ? ordinary.ms : CAP_MS);
        const trickled = await Promise.all(tricklers);
        rows.push([
          label,
          show(await stalled),
          trickled.map(show).join('; '),
          show(ordinary),
          fmt(proxy.memory().rss / 2 ** 20, 0),
        ]);
      } finally {
        await proxy.stop();
      }
    }
  } finally {
    await upstream.close();
  }
  return {
    title: `Slow clients: a stalled body, ${POOL} tricklers holding a ${POOL}-connection upstream pool, one ordinary call`,
    columns: ['client timeouts', 'stalled body (image route)', 'tricklers (pass-through)', 'ordinary call', 'RSS (MB)'],
    rows,
    targets: [atMost('ordinary call behind the tricklers, after', ordinaryMs[1]! / 1000, 6, ' s')],
    notes: [
      'answers are in the API shape: Face++ 408 {"error_message":"REQUEST_TIMEOUT"}, with Connection: close',
      `"none in ${CAP_MS / 1000} s": still unanswered when the bench stopped waiting and hung the slow clients up; before, the ordinary call got a pooled connection only then`,
    ],
  };
}
