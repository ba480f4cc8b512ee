/**
 * The agent's cost per image with a trained model: features (v1: 16x16 shrink-on-load thumbnail + header) and ONNX
 * inference + greedy choice, against the header-only alternative (the 5 header scalars, no decode) measured for the
 * FEATURE_VERSION 2 decision (docs/TRAINING.md). 200 validation photos, sequential.
 * Usage: node bench/agent.bench.ts [model=models/rekognition-detectlabels.onnx] [repeats=3]
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { configureSharp } from '../src/codec/config.ts';
import { inspectImage } from '../src/codec/inspect.ts';
import { extractFeatures, featureHeaderOf, featureNames } from '../src/policy/features.ts';
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
/** Header-only features: the first 5 of v1, computed without any decode. */
function headerFeatures(image: (typeof images)[number]): Float32Array {
  const h = featureHeaderOf(image);
  const out = new Float32Array(featureNames.length);
  const pixels = Math.max(1, h.width * h.height);
  const jpeg = h.format === 'jpeg';
  out[0] = Math.log((8 * h.bytes) / pixels);
  out[1] = jpeg ? (h.sourceQuality ?? 75) / 100 : 1;
  out[2] = jpeg ? 1 : 0;
  out[3] = Math.log(pixels / 1e6);
  out[4] = Math.log(Math.max(h.width, h.height) / Math.max(1, Math.min(h.width, h.height)));
  return out;
}

const timings: Record<string, number[]> = {
  'v1 features': [],
  inference: [],
  'v1 features+inference': [],
  'header-only features+inference': [],
};
for (let r = 0; r < repeats; r++) {
  for (const image of images) {
    let t = performance.now();
    const f = await extractFeatures(image);
    const mid = performance.now();
    argmax(await policy.scores(f));
    const end = performance.now();
    timings['v1 features']!.push(mid - t);
    timings.inference!.push(end - mid);
    timings['v1 features+inference']!.push(end - t);
    t = performance.now();
    argmax(await policy.scores(headerFeatures(image)));
    timings['header-only features+inference']!.push(performance.now() - t);
  }
}
const q = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
console.log(`model ${model} (${readFileSync(model).length} bytes), ${images.length} photos x ${repeats}`);
console.log('| step | median ms | p99 ms |\n|---|---|---|');
for (const [name, xs] of Object.entries(timings))
  console.log(`| ${name} | ${q(xs, 0.5).toFixed(3)} | ${q(xs, 0.99).toFixed(3)} |`);
await policy.release();
