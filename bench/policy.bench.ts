/**
 * Policy cost per image beside the encode it decides: features (version 2: header arithmetic, no decode) and ONNX
 * inference of models/default.onnx, vs sharp's q75 re-encode of the same image. Validation split of imagenet-sample
 * (sorted names, index % 5 == 4: 200 photos). Sequential, one at a time.
 * Usage: node bench/policy.bench.ts [imagesDir] [repeats=5]
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { configureSharp } from '../src/codec/config.ts';
import { encodeJpeg } from '../src/codec/encode.ts';
import { inspectImage } from '../src/codec/inspect.ts';
import { extractFeatures } from '../src/policy/features.ts';
import { OnnxPolicy } from '../src/policy/onnx-policy.ts';

const dir = process.argv[2] ?? fileURLToPath(new URL('../../shared/data/images/imagenet-sample/', import.meta.url));
const repeats = Number(process.argv[3] ?? 5);
if (!existsSync(dir)) {
  console.error(`images not found: ${dir} (pass a directory)`);
  process.exit(2);
}
configureSharp({ concurrency: 1, maxInputPixels: 40_000_000 });
const limits = { maxInputPixels: 40_000_000 };
const files = readdirSync(dir)
  .sort()
  .filter((_, i) => i % 5 === 4);
const images = await Promise.all(files.map(async (f) => inspectImage(readFileSync(`${dir}/${f}`), limits)));
const policy = await OnnxPolicy.load(fileURLToPath(new URL('../models/default.onnx', import.meta.url)), {
  exploration: { kind: 'epsilon-greedy', epsilon: 0.05 },
});

const timings: Record<string, number[]> = {
  inspect: [],
  features: [],
  inference: [],
  'features+inference': [],
  'encode q75': [],
};
const time = async <T>(name: string, fn: () => Promise<T> | T): Promise<T> => {
  const start = performance.now();
  const out = await fn();
  timings[name]!.push(performance.now() - start);
  return out;
};

for (let r = 0; r < repeats; r++) {
  for (const image of images) {
    await time('inspect', () => inspectImage(image.bytes, limits));
    const features = await time('features', () => extractFeatures(image));
    await time('inference', () => policy.decideFromFeatures(features));
    await time('features+inference', async () => policy.decideFromFeatures(await extractFeatures(image)));
    await time('encode q75', () => encodeJpeg(image, { quality: 75 }, limits));
  }
}

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};
const encodeMedian = quantile(timings['encode q75']!, 0.5);
console.log(`${images.length} images x ${repeats}, ${files[0]} .. ${files.at(-1)}; node ${process.version}`);
console.log(`${'step'.padEnd(20)} ${'median ms'.padStart(10)} ${'p99 ms'.padStart(10)} ${'/ encode'.padStart(10)}`);
for (const [name, xs] of Object.entries(timings)) {
  const median = quantile(xs, 0.5);
  console.log(
    `${name.padEnd(20)} ${median.toFixed(3).padStart(10)} ${quantile(xs, 0.99).toFixed(3).padStart(10)} ${(median / encodeMedian).toFixed(3).padStart(10)}`,
  );
}
