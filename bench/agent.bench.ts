/**
 * The agent's cost per image with a trained model: features (version 2: header arithmetic over what inspectImage
 * already read, no decode) and ONNX inference + greedy choice, beside sharp's q75 encode of the same image (the work
 * the decision steers). 200 validation photos, sequential. (Version 1's thumbnail decode is gone from the code; it
 * measured 1.954 ms median, docs/TRAINING.md.)
 * Usage: node bench/agent.bench.ts [model=models/rekognition-detectlabels.onnx] [repeats=3]
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { configureSharp } from '../src/codec/config.ts';
import { encodeJpeg } from '../src/codec/encode.ts';
import { inspectImage } from '../src/codec/inspect.ts';
import { extractFeatures } from '../src/policy/features.ts';
import { OnnxPolicy } from '../src/policy/onnx-policy.ts';

const model = process.argv[2] ?? fileURLToPath(new URL('../models/rekognition-detectlabels.onnx', import.meta.url));
const repeats = Number(process.argv[3] ?? 3);
const dir = fileURLToPath(new URL('../../shared/data/images/imagenet-sample/', import.meta.url));
if (!existsSync(dir)) {
  console.error(`images not found: ${dir}`);
  process.exit(2);
}
configureSharp({ concurrency: 1, maxInputPixels: 40_000_000 });
const limits = { maxInputPixels: 40_000_000 };
const files = readdirSync(dir)
  .sort()
  .filter((_, i) => i % 5 === 4);
const images = await Promise.all(files.map((f) => inspectImage(readFileSync(`${dir}/${f}`), limits)));
const policy = await OnnxPolicy.load(model, { exploration: { kind: 'epsilon-greedy', epsilon: 0 } });

const argmax = (s: Float32Array) => s.indexOf(Math.max(...s));
const timings: Record<string, number[]> = {
  'v2 features': [],
  'inference + argmax': [],
  'v2 features + inference': [],
  'sharp encode q75 (same image)': [],
};
for (let r = 0; r < repeats; r++) {
  for (const image of images) {
    const t = performance.now();
    const f = await extractFeatures(image);
    const mid = performance.now();
    argmax(await policy.scores(f));
    const end = performance.now();
    timings['v2 features']!.push(mid - t);
    timings['inference + argmax']!.push(end - mid);
    timings['v2 features + inference']!.push(end - t);
    const e = performance.now();
    await encodeJpeg(image, { quality: 75 }, limits);
    timings['sharp encode q75 (same image)']!.push(performance.now() - e);
  }
}
const q = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
console.log(`model ${model} (${readFileSync(model).length} bytes), ${images.length} photos x ${repeats}`);
console.log('| step | median ms | p99 ms |\n|---|---|---|');
for (const [name, xs] of Object.entries(timings))
  console.log(`| ${name} | ${q(xs, 0.5).toFixed(3)} | ${q(xs, 0.99).toFixed(3)} |`);
await policy.release();
