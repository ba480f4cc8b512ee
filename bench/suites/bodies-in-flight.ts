import { randomBytes } from 'node:crypto';
import { Agent, request } from 'undici';
import { startSinkUpstream } from '../../testkit/sink-upstream.ts';
import { spawnProxy } from '../lib/processes.ts';
import { atMost, type BenchReport } from '../lib/report.ts';
import { fmt } from '../lib/stats.ts';

const MB = 1024 * 1024;
const CONCURRENT = 64;
const BODY_BYTES = Math.round(9.9 * 1e6);

/** The two request shapes of issue 11, item 17: base64 in JSON (Rekognition) and a binary multipart part (Face++). */
export function largeBodies() {
  // Random bytes: no image, so the proxy reads and forwards them without decoding (the memory is the buffering).
  const binary = randomBytes(Math.floor(((BODY_BYTES - 100) * 3) / 4));
  const rekognition = Buffer.from(JSON.stringify({ Image: { Bytes: binary.toString('base64') } }));
  const multipart = Buffer.concat([
    Buffer.from(
      '--b\r\nContent-Disposition: form-data; name="api_key"\r\n\r\nk\r\n--b\r\nContent-Disposition: form-data; name="image_file"; filename="big.jpg"\r\nContent-Type: image/jpeg\r\n\r\n',
    ),
    randomBytes(BODY_BYTES - 200),
    Buffer.from('\r\n--b--\r\n'),
  ]);
  return [
    {
      name: 'Rekognition DetectLabels, base64 JSON',
      path: '/',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'RekognitionService.DetectLabels' },
      body: rekognition,
    },
    {
      name: 'Face++ detect, multipart file part',
      path: '/facepp/v3/detect',
      headers: { 'content-type': 'multipart/form-data; boundary=b' },
      body: multipart,
    },
  ];
}

/** Send `count` copies of one request at once; the statuses, counted. */
export async function burst(url: string, shape: ReturnType<typeof largeBodies>[number], count: number) {
  const agent = new Agent({ connections: count });
  try {
    const statuses = await Promise.all(
      Array.from({ length: count }, async () => {
        const res = await request(url + shape.path, {
          method: 'POST',
          headers: shape.headers,
          body: shape.body,
          dispatcher: agent,
        });
        await res.body.dump();
        return res.statusCode;
      }),
    );
    const counted = new Map<number, number>();
    for (const status of statuses) counted.set(status, (counted.get(status) ?? 0) + 1);
    return counted;
  } finally {
    await agent.close();
  }
}

/**
 * Resident memory of the proxy process while 64 uploads of 9.9 MB each arrive at once (634 MB in flight): without a
 * bound on bodies held at once, and with the default --max-buffered-bytes (128 MiB). A fresh process per row.
 */
export async function run(): Promise<BenchReport> {
  const upstream = await startSinkUpstream();
  const rows: string[][] = [];
  const peaks: number[] = [];
  try {
    for (const shape of largeBodies()) {
      for (const [label, env] of [
        ['no bound (--max-buffered-bytes 0)', { ADACOMPRESS_MAX_BUFFERED_BYTES: '0' }],
        ['default (128 MiB)', {}],
      ] as const) {
        const proxy = await spawnProxy({
          ADACOMPRESS_REKOGNITION_ENDPOINT: upstream.url,
          ADACOMPRESS_FACEPP_ENDPOINT: upstream.url,
          ADACOMPRESS_UNVERIFIED_SIGNATURES: 'allow',
          ...env,
        });
        try {
          const idle = proxy.memory().rss;
          const cpu = proxy.cpuSeconds();
          const started = performance.now();
          const statuses = await burst(proxy.url, shape, CONCURRENT);
          const seconds = (performance.now() - started) / 1000;
          const { hwm } = proxy.memory();
          if (label.startsWith('default')) peaks.push(hwm / MB);
          rows.push([
            shape.name,
            label,
            fmt(idle / MB, 0),
            fmt(hwm / MB, 0),
            fmt((hwm - idle) / (CONCURRENT * BODY_BYTES), 2),
            [...statuses].map(([status, n]) => `${n}x${status}`).join(' '),
            fmt(seconds, 1),
            fmt(proxy.cpuSeconds() - cpu, 1),
          ]);
        } finally {
          await proxy.stop();
        }
      }
    }
  } finally {
    await upstream.close();
  }
  return {
    title: `RSS of the proxy with ${CONCURRENT} concurrent ${BODY_BYTES / 1e6} MB uploads (MB)`,
    columns: ['request', 'bodies held at once', 'idle', 'VmHWM', 'growth / bytes in flight', 'answers', 's', 'CPU s'],
    rows,
    targets: peaks.map((peak, i) =>
      atMost(`VmHWM with the default bound, ${['Rekognition', 'Face++'][i]}`, peak, 700, ' MB'),
    ),
    notes: [
      'the image bytes are random (no decode): what is measured is holding and forwarding the bodies',
      'Rekognition bodies that find no room within --buffer-wait-ms (2 s) get 503 ServiceUnavailableException (its signature needs the whole body); Face++ ones stream through as sent',
    ],
  };
}
