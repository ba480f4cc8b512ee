import sharp from 'sharp';
import { startFakeUpstream } from '../../testkit/fake-upstream.ts';
import { type LoadRequest, load } from '../lib/load.ts';
import { DETECT_LABELS_HEADERS, detectLabelsBody, loadPhotos } from '../lib/photos.ts';
import { metricSum, REFERENCES_OFF, spawnProxy } from '../lib/processes.ts';
import { atLeast, type BenchReport } from '../lib/report.ts';
import { fmt } from '../lib/stats.ts';

const SECONDS = 8;
/** Images encoded at once on both sides: the proxy's --image-concurrency and the bare loop's workers (2 cores). */
const ENCODES_AT_ONCE = 2;
const QUALITY = 35;
const LABELS = JSON.stringify({ Labels: [{ Name: 'Dog', Confidence: 97 }] });

/**
 * Proxy throughput vs the floor it cannot beat: a bare sharp decode+encode loop over the same photos with the same
 * number of encodes at once. The proxy runs in its own process against a fake upstream that answers at once, so only
 * the proxy's own work (HTTP, base64, JSON, inspect, policy, encode, SigV4, forward) is measured.
 */
export async function run(): Promise<BenchReport> {
  const photos = loadPhotos();
  const requests: LoadRequest[] = photos.map((photo) => ({
    method: 'POST',
    path: '/',
    headers: DETECT_LABELS_HEADERS,
    body: detectLabelsBody(photo),
  }));
  const upstream = await startFakeUpstream(() => ({ body: LABELS }));
  try {
    sharp.concurrency(1); // as the proxy configures it: parallelism comes from concurrent images
    await bareLoop(photos, ENCODES_AT_ONCE, 1);
    const bareCpu0 = process.cpuUsage();
    const { rate: bare, kib: bareKiB } = await bareLoop(photos, ENCODES_AT_ONCE, SECONDS);
    const bareCpuMs = cpuMs(process.cpuUsage(bareCpu0)) / (bare * SECONDS);

    // With references off, calibration never leaves its safe rung (q75 at the stored size) and the model is never
    // asked: the policy rows turn calibration off, so the model decides at its trained level, as it does once
    // calibration has settled on one of the model's levels. The first-start row shows what calibrating costs meanwhile.
    const modelDecides = { ADACOMPRESS_CALIBRATION: 'false' };
    const variants: { name: string; env: Record<string, string>; connections: number }[] = [
      { name: `proxy, fixed q${QUALITY}, client c=8`, env: { ADACOMPRESS_POLICY_MODELS: '' }, connections: 8 },
      { name: 'proxy, shipped ONNX policy, client c=8', env: modelDecides, connections: 8 },
      { name: 'proxy, shipped ONNX policy, client c=2', env: modelDecides, connections: 2 },
      { name: 'proxy, first start: calibrating, no references yet (safe rung q75), c=8', env: {}, connections: 8 },
    ];
    const rows: string[][] = [
      [
        `bare sharp decode+encode q${QUALITY}, ${ENCODES_AT_ONCE} at once`,
        fmt(bare, 1),
        '1.00',
        fmt(bareCpuMs),
        '-',
        fmt(bareKiB, 1),
        '100%',
        '-',
      ],
    ];
    const cpuRatios: number[] = [];
    const measured: number[] = [];
    for (const variant of variants) {
      const proxy = await spawnProxy({
        ADACOMPRESS_REKOGNITION_ENDPOINT: upstream.url,
        ADACOMPRESS_IMAGE_CONCURRENCY: String(ENCODES_AT_ONCE),
        ADACOMPRESS_QUALITY: String(QUALITY),
        ...REFERENCES_OFF,
        ...variant.env,
      });
      try {
        await load(proxy.url, requests, { connections: variant.connections, seconds: 2 });
        const before = await metricSum(proxy.adminUrl!, 'adacompress_requests_total', 'outcome="encoded"');
        const bytesBefore = await metricSum(proxy.adminUrl!, 'adacompress_image_bytes_out_total');
        const proxyCpu0 = proxy.cpuSeconds();
        const benchCpu0 = process.cpuUsage();
        const result = await load(proxy.url, requests, { connections: variant.connections, seconds: SECONDS });
        const proxyCpuMs = ((proxy.cpuSeconds() - proxyCpu0) * 1000) / result.completed;
        const loadCpuMs = cpuMs(process.cpuUsage(benchCpu0)) / result.completed;
        cpuRatios.push(bareCpuMs / proxyCpuMs);
        const encoded = (await metricSum(proxy.adminUrl!, 'adacompress_requests_total', 'outcome="encoded"')) - before;
        // Every image sent in the measured seconds, over the answers that came back in them (a few in flight at
        // either end: close enough over thousands of requests).
        const sentKiB = ((await metricSum(proxy.adminUrl!, 'adacompress_image_bytes_out_total')) - bytesBefore) / 1024;
        measured.push(result.rps / bare);
        rows.push([
          variant.name,
          fmt(result.rps, 1),
          fmt(result.rps / bare),
          fmt(proxyCpuMs),
          fmt(loadCpuMs),
          fmt(sentKiB / Math.max(1, result.completed), 1),
          `${fmt(Math.min(100, (100 * encoded) / Math.max(1, result.completed)), 0)}%`,
          String(result.errors),
        ]);
      } finally {
        await proxy.stop();
      }
    }
    return {
      title: 'Throughput: proxy vs bare sharp loop (same photos, same encodes at once)',
      columns: [
        'what',
        'images/s',
        'ratio vs bare',
        'CPU ms/image (proxy or loop)',
        'CPU ms/image (load gen + upstream)',
        'KiB sent per image',
        're-encoded',
        'errors',
      ],
      rows,
      targets: [atLeast('throughput, shipped policy (c=8) / bare loop', measured[1]!, 0.85, 'x')],
      notes: [
        `${photos.length} imagenet-sample validation photos; ${SECONDS} s per row after a warm-up; proxy in its own process, fake upstream and autocannon in the benchmark process (they share the same 2 cores: the proxy pays for its load generator, the bare loop does not).`,
        `CPU per image, bare loop / proxy process (shipped policy, c=8): ${fmt(cpuRatios[1]!)}x: the proxy's own efficiency with the load generator's cost taken out. On 2 cores, images/s is bounded by 2000 / (proxy + load-gen CPU ms per image).`,
        're-encoded = share of answers the proxy re-encoded (the rest went as sent, e.g. not smaller); references off.',
        'Shipped policy rows: calibration off, so the model decides at its trained level (with references off, calibration would keep every image at its safe rung, the last row). Before 2026-12-03 the policy rows measured that safe rung.',
      ],
    };
  } finally {
    await upstream.close();
  }
}

const cpuMs = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1000;

/**
 * Decode + re-encode with the proxy's encoder settings (src/codec/encode.ts), `workers` at once, for `seconds`: images
 * per second, and the mean KiB each encode made.
 */
async function bareLoop(
  photos: readonly Buffer[],
  workers: number,
  seconds: number,
): Promise<{ rate: number; kib: number }> {
  const end = performance.now() + seconds * 1000;
  let done = 0;
  let bytes = 0;
  let next = 0;
  const worker = async () => {
    while (performance.now() < end) {
      const photo = photos[next++ % photos.length]!;
      const encoded = await sharp(photo, { failOn: 'warning' })
        .toColourspace('srgb')
        .jpeg({ quality: QUALITY, chromaSubsampling: '4:2:0', optimiseCoding: true, quantisationTable: 0 })
        .toBuffer();
      bytes += encoded.length;
      done++;
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: workers }, worker));
  return { rate: done / ((performance.now() - start) / 1000), kib: bytes / 1024 / done };
}
