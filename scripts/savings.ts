/**
 * Bytes saved on the 200 validation photos (../shared/data/images/imagenet-sample, sorted, index % 5 == 4), measured
 * through the real proxy: each photo goes as a Rekognition DetectLabels request with the AWS SDK, the upstream is a local
 * sink that records what it received. Compares the fixed quality with the configured policy models.
 *
 *   npm run savings                    # fixed quality 35 (the default without models) vs the shipped policies
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DetectLabelsCommand, RekognitionClient } from '@aws-sdk/client-rekognition';
import { defaultProxyConfig, type ProxyConfig } from '../src/config/proxy.ts';
import { createLogger } from '../src/logger.ts';
import { createRuntime } from '../src/runtime.ts';
import { hasSharedData, readPhoto, validationPhotos } from '../testkit/shared-data.ts';

if (!hasSharedData) {
  console.error('needs ../shared/data/images/imagenet-sample');
  process.exit(2);
}

let received = 0;
const sink = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString()) as { Image: { Bytes: string } };
    received += Buffer.from(body.Image.Bytes, 'base64').length;
    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' }).end('{"Labels":[]}');
  });
});
await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
const upstream = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
const photos = validationPhotos().map(readPhoto);
const originalBytes = photos.reduce((sum, p) => sum + p.length, 0);

async function measure(name: string, overrides: Partial<ProxyConfig>) {
  const runtime = await createRuntime(
    defaultProxyConfig({
      port: 0,
      adminPort: 0,
      rekognitionEndpoint: upstream,
      unverifiedSignatures: 'allow',
      decisionLog: '',
      referenceProbability: 0,
      policyEpsilon: 0,
      ...overrides,
    }),
    { logger: createLogger('silent'), credentials: async () => ({ accessKeyId: 'AKID', secretAccessKey: 'secret' }) },
  );
  const { url } = await runtime.listen();
  const client = new RekognitionClient({
    endpoint: url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' },
  });
  received = 0;
  for (const photo of photos) await client.send(new DetectLabelsCommand({ Image: { Bytes: photo } }));
  client.destroy();
  await runtime.shutdown();
  const saved = 1 - received / originalBytes;
  console.log(
    `| ${name} | ${(originalBytes / photos.length / 1024).toFixed(1)} KiB | ${(received / photos.length / 1024).toFixed(1)} KiB | ${(100 * saved).toFixed(1)}% |`,
  );
}

console.log(`${photos.length} validation photos through the proxy (Rekognition DetectLabels)\n`);
console.log('| policy | mean original | mean sent | saved |');
console.log('|---|---|---|---|');
await measure('fixed quality 35 (--policy-models "")', { policyModels: '' });
await measure('shipped policies (default --policy-models)', {});
sink.close();
