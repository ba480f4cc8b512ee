/**
 * The learning loop end to end, on one machine: photos go through the real proxy to the Rekognition emulator with
 * exploration on and a reference for every decision (so every line can be scored), the decision log is written, and
 * then the trainer fits a candidate from the logs alone, evaluates it off-policy against the logging policy, and the
 * promotion gate decides whether it may replace a copy of the live model.
 *
 *   npm run learn-from-logs -- [--photos 400] [--epsilon 0.3] [--dir .data/loop]
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DetectLabelsCommand, RekognitionClient } from '@aws-sdk/client-rekognition';
import { defaultProxyConfig } from '../src/config/proxy.ts';
import { startEmulator } from '../src/emulator/main.ts';
import { createLogger } from '../src/logger.ts';
import { createRuntime, packageRoot } from '../src/runtime.ts';
import { imagesOfSplit } from '../src/trainer/data.ts';
import { hasSharedData, imagenetDir, readPhoto } from '../testkit/shared-data.ts';

const { values } = parseArgs({
  options: {
    photos: { type: 'string', default: '400' },
    epsilon: { type: 'string', default: '0.3' },
    dir: { type: 'string', default: path.join(packageRoot, '.data', 'loop') },
  },
});
if (!hasSharedData) {
  console.error(`needs ${imagenetDir}`);
  process.exit(2);
}
const dir = values.dir;
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
const logPath = path.join(dir, 'decisions.jsonl');
const key = 'rekognition/DetectLabels';
const credentials = { accessKeyId: 'AKIDEMULATOR', secretAccessKey: 'emulator-secret' };

// 1. Serve: the training photos only (the validation split stays unseen), exploring, every decision referenced.
const emulator = await startEmulator({});
const runtime = await createRuntime(
  defaultProxyConfig({
    port: 0,
    adminPort: 0,
    rekognitionEndpoint: emulator.url,
    decisionLog: logPath,
    policyEpsilon: Number(values.epsilon),
    referenceProbability: 1,
    referenceBudgetPerMinute: 100_000,
  }),
  { logger: createLogger('silent'), credentials: async () => credentials },
);
const { url } = await runtime.listen();
const client = new RekognitionClient({ endpoint: url, region: 'us-east-1', credentials });
const photos = imagesOfSplit(imagenetDir, 'train').slice(0, Number(values.photos));
let refused = 0;
for (const name of photos) {
  try {
    await client.send(new DetectLabelsCommand({ Image: { Bytes: readPhoto(path.join(imagenetDir, name)) } }));
  } catch {
    refused++; // photos the API refuses (below its minimum side): its own answer, passed on
  }
}
client.destroy();
await runtime.shutdown();
await emulator.close();
console.log(`served ${photos.length} photos (${refused} refused by the API); decision log in ${dir}\n`);

// 2. Train from the logs alone, 3. evaluate off-policy, 4. the promotion gate against a copy of the live model.
const cli = (args: string[]) =>
  console.log(execFileSync(process.execPath, [path.join(packageRoot, 'src/cli.ts'), ...args], { encoding: 'utf8' }));
const candidate = path.join(dir, 'candidate.onnx');
const live = path.join(dir, 'live.onnx');
copyFileSync(path.join(packageRoot, 'models/rekognition-detectlabels.onnx'), live);
cli(['train', '--key', key, '--data', '', '--logs', logPath, '--out', candidate]);
cli(['evaluate', '--key', key, '--model', candidate, '--logs', logPath, '--out', path.join(dir, 'ope')]);
cli(['train', '--key', key, '--data', '', '--logs', logPath, '--promote-to', live]);
