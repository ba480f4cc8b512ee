// A stand-in for any application using the AWS SDK: it knows nothing about the proxy. The only change is the endpoint,
// which the SDK takes from AWS_ENDPOINT_URL_REKOGNITION (pointed at the sidecar in compose.yaml).
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DetectLabelsCommand, RekognitionClient } from '@aws-sdk/client-rekognition';

const imagesDir = process.env.IMAGES_DIR ?? '/images';
const everyMs = Number(process.env.INTERVAL_MS ?? 2000);
const client = new RekognitionClient({ maxAttempts: 3 });

// Show what the proxy did with each call (the SDK hides response headers; a middleware reads them).
client.middlewareStack.add(
  (next) => async (args) => {
    const result = await next(args);
    const header = result.response?.headers?.['x-adacompress'];
    if (header) console.log(`  x-adacompress: ${header}`);
    return result;
  },
  { step: 'deserialize', name: 'showAdacompressHeader' },
);

const files = (await readdir(imagesDir)).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort();
if (files.length === 0) throw new Error(`no images in ${imagesDir}`);
for (let i = 0; ; i = (i + 1) % files.length) {
  const file = files[i];
  try {
    const bytes = await readFile(path.join(imagesDir, file));
    const { Labels = [] } = await client.send(new DetectLabelsCommand({ Image: { Bytes: bytes }, MaxLabels: 3 }));
    console.log(`${file}: ${Labels.map((l) => `${l.Name} ${l.Confidence?.toFixed(0)}%`).join(', ')}`);
  } catch (error) {
    // The sidecar may still be starting; an application would retry the same way.
    console.error(`${file}: ${error.name}: ${error.message}`);
  }
  await sleep(everyMs);
}
