import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { startFakeUpstream } from '../../testkit/fake-upstream.ts';
import { syntheticJpeg } from '../../testkit/images.ts';
import { ISSUE_SCAN_BOMBS, type ScanBombOptions, scanBomb } from '../../testkit/scan-bomb.ts';
import { REFERENCES_OFF, spawnProxy } from '../lib/processes.ts';
import { atMost, type BenchReport } from '../lib/report.ts';
import { fmt } from '../lib/stats.ts';

const MB = 1024 * 1024;

/** The scan limits switched off: what the proxy did before it counted scans (issue 11, item 2). */
const LIMITS_OFF = {
  ADACOMPRESS_MAX_JPEG_SCANS: '1000000',
  ADACOMPRESS_MAX_SCAN_PIXELS: String(Number.MAX_SAFE_INTEGER),
};

const detectLabels = (url: string, image: Buffer) =>
  request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'RekognitionService.DetectLabels' },
    body: JSON.stringify({ Image: { Bytes: image.toString('base64') } }),
  }).then(async (res) => {
    await res.body.dump();
    return String(res.headers['x-adacompress']);
  });

/** CPU seconds until the process goes quiet (work left running after the answer counts too), at most 90 s. */
async function cpuUntilIdle(cpuSeconds: () => number): Promise<number> {
  const start = cpuSeconds();
  let last = start;
  for (let quiet = 0, waited = 0; quiet < 3 && waited < 90_000; waited += 250) {
    await sleep(250);
    const now = cpuSeconds();
    quiet = now - last < 0.02 ? quiet + 1 : 0;
    last = now;
  }
  return last - start;
}

/**
 * What one crafted scan bomb costs the proxy process (CPU until it is idle again, RSS high-water mark), with the scan
 * limits off (the behaviour before) and at their defaults; and whether a photo sent while two bombs are in flight
 * is still re-encoded (two bombs used to fill both image slots). A fresh process per row, the shipped config.
 */
export async function run(): Promise<BenchReport> {
  const upstream = await startFakeUpstream(() => ({ body: '{"Labels":[]}' }));
  const photo = await syntheticJpeg({ width: 640, height: 480, quality: 92 });
  const rows: string[][] = [];
  const after: number[] = [];
  try {
    for (const [name, options] of Object.entries(ISSUE_SCAN_BOMBS) as [string, ScanBombOptions][]) {
      const bomb = scanBomb(options);
      for (const [label, env] of [
        ['scan limits off (before)', LIMITS_OFF],
        ['defaults (after)', {}],
      ] as const) {
        const proxy = await spawnProxy({
          ADACOMPRESS_REKOGNITION_ENDPOINT: upstream.url,
          ADACOMPRESS_UNVERIFIED_SIGNATURES: 'allow',
          ...REFERENCES_OFF,
          ...env,
        });
        try {
          await detectLabels(proxy.url, photo); // warm the pipeline up before measuring
          // What the photo sent meanwhile costs, to take out of the bombs' CPU.
          const beforePhoto = proxy.cpuSeconds();
          await detectLabels(proxy.url, photo);
          await cpuUntilIdle(proxy.cpuSeconds);
          const photoCpu = proxy.cpuSeconds() - beforePhoto;
          const idle = proxy.memory().hwm;
          const cpu = proxy.cpuSeconds();
          const started = performance.now();
          const bombs = [detectLabels(proxy.url, bomb), detectLabels(proxy.url, bomb)];
          await sleep(100);
          const bystander = await detectLabels(proxy.url, photo);
          const verdicts = await Promise.all(bombs);
          const answerMs = performance.now() - started;
          const sofar = proxy.cpuSeconds() - cpu;
          const cpuSeconds = Math.max(0, sofar + (await cpuUntilIdle(proxy.cpuSeconds)) - photoCpu);
          const growth = (proxy.memory().hwm - idle) / MB;
          if (label.startsWith('defaults')) after.push(cpuSeconds / 2);
          rows.push([
            `${name}: ${options.width}x${options.height}, ${options.scans} scans, ${fmt(bomb.length / 1024, 0)} KB`,
            label,
            fmt(cpuSeconds / 2, 2),
            fmt(idle / MB, 0),
            fmt(growth, 0),
            fmt(answerMs, 0),
            verdicts[0]!,
            bystander,
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
    title: 'Scan bombs: cost of one crafted progressive JPEG to the proxy process',
    columns: [
      'file',
      'limits',
      'CPU s per bomb',
      'VmHWM before (MB)',
      'VmHWM growth (MB)',
      'two bombs answered (ms)',
      'x-adacompress (bomb)',
      'x-adacompress (photo sent meanwhile)',
    ],
    rows,
    targets: after.map((cpu, i) =>
      atMost(`CPU per bomb at the defaults, ${Object.keys(ISSUE_SCAN_BOMBS)[i]}`, cpu, 0.05, ' s'),
    ),
    notes: [
      'two copies of the bomb sent at once (both image slots), then a 640x480 photo; CPU from /proc until the process is idle again, less the photo (measured alone first), halved: the request too (JSON, base64, SigV4), not only the image',
      'limits off: --max-jpeg-scans 1000000 --max-scan-pixels 2^53; the bombs are made by testkit/scan-bomb.ts',
    ],
  };
}
