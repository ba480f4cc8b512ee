import { DetectLabelsCommand, RekognitionClient } from '@aws-sdk/client-rekognition';
import { startEmulator } from '../../src/emulator/main.ts';
import { loadPhotos } from '../lib/photos.ts';
import { metricSum, REFERENCES_OFF, spawnProxy } from '../lib/processes.ts';
import { atMost, type BenchReport } from '../lib/report.ts';
import { fmt, percentile } from '../lib/stats.ts';

const PHOTOS = 30;
const UPLINK_BYTES_PER_SECOND = 1_250_000; // 10 Mbit/s

/**
 * What a user on a 10 Mbit/s uplink sees: the AWS SDK calling DetectLabels on the Rekognition emulator (real models)
 * directly vs through the proxy running beside the client. Calls alternate so both paths see the same machine state.
 */
export async function run(): Promise<BenchReport> {
  const photos = loadPhotos().slice(0, PHOTOS);
  const emulator = await startEmulator({ port: 0, uplinkBytesPerSecond: UPLINK_BYTES_PER_SECOND, logLevel: 'warn' });
  const proxy = await spawnProxy({
    ADACOMPRESS_REKOGNITION_ENDPOINT: emulator.url,
    ...REFERENCES_OFF,
  });
  const client = (endpoint: string) =>
    new RekognitionClient({
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDEMULATOR', secretAccessKey: 'emulator-secret' },
      maxAttempts: 1,
    });
  const direct = client(emulator.url);
  const proxied = client(proxy.url);
  try {
    const call = async (c: RekognitionClient, photo: Buffer) => {
      const start = performance.now();
      await c.send(new DetectLabelsCommand({ Image: { Bytes: photo }, MaxLabels: 10 }));
      return performance.now() - start;
    };
    for (const photo of photos.slice(0, 2)) {
      await call(direct, photo);
      await call(proxied, photo);
    }
    const bytesIn0 = await metricSum(proxy.adminUrl!, 'adacompress_image_bytes_in_total');
    const bytesOut0 = await metricSum(proxy.adminUrl!, 'adacompress_image_bytes_out_total');
    const times = { direct: [] as number[], proxied: [] as number[] };
    for (const photo of photos) {
      times.direct.push(await call(direct, photo));
      times.proxied.push(await call(proxied, photo));
    }
    const bytesIn = (await metricSum(proxy.adminUrl!, 'adacompress_image_bytes_in_total')) - bytesIn0;
    const bytesOut = (await metricSum(proxy.adminUrl!, 'adacompress_image_bytes_out_total')) - bytesOut0;
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    const ratio = sum(times.proxied) / sum(times.direct);
    return {
      title: 'End-to-end time through the Rekognition emulator on a 10 Mbit/s uplink: proxy vs direct',
      columns: ['path', 'total s', 'p50 ms', 'p99 ms', 'ratio vs direct'],
      rows: [
        [
          'direct',
          fmt(sum(times.direct) / 1000),
          fmt(percentile(times.direct, 50), 0),
          fmt(percentile(times.direct, 99), 0),
          '1.00',
        ],
        [
          'through the proxy',
          fmt(sum(times.proxied) / 1000),
          fmt(percentile(times.proxied, 50), 0),
          fmt(percentile(times.proxied, 99), 0),
          fmt(ratio),
        ],
      ],
      targets: [atMost('end-to-end time, proxy / direct', ratio, 0.6, 'x')],
      notes: [
        `${photos.length} photos, c=1, AWS SDK v3, emulator uplinkBytesPerSecond=${UPLINK_BYTES_PER_SECOND}, shipped ONNX policy, references off. Image bytes sent upstream: ${fmt((100 * bytesOut) / Math.max(1, bytesIn), 0)}% of the originals.`,
      ],
    };
  } finally {
    direct.destroy();
    proxied.destroy();
    await proxy.stop();
    await emulator.close();
  }
}
