import { encodeJpeg, inspectImage } from '../../src/codec/index.ts';
import { featuresOf } from '../../src/policy/features.ts';
import { OnnxPolicy } from '../../src/policy/onnx-policy.ts';
import { packageRoot } from '../../src/runtime.ts';
import { loadPhotos } from '../lib/photos.ts';
import { atMost, type BenchReport } from '../lib/report.ts';
import { fmt, percentile } from '../lib/stats.ts';

const MODEL = `${packageRoot}models/rekognition-detectlabels.onnx`;
const REPEATS = 3;

/**
 * The agent's cost per image with a shipped model: features (version 2, header arithmetic over what inspectImage
 * already read; no decode) and ONNX inference with the greedy choice, beside sharp's q75 encode of the same image,
 * the work the decision steers. Validation photos, sequential, interleaved so both see the same machine state.
 */
export async function run(): Promise<BenchReport> {
  const limits = { maxInputPixels: 40_000_000 };
  const images = await Promise.all(loadPhotos().map((photo) => inspectImage(photo, limits)));
  const policy = await OnnxPolicy.load(MODEL, { exploration: { kind: 'epsilon-greedy', epsilon: 0 } });
  const times = { features: [] as number[], inference: [] as number[], agent: [] as number[], encode: [] as number[] };
  try {
    for (let r = 0; r < REPEATS; r++) {
      for (const image of images) {
        const start = performance.now();
        const features = featuresOf(image);
        const featured = performance.now();
        await policy.decideFromFeatures(features, image);
        const decided = performance.now();
        await encodeJpeg(image, { quality: 75 }, limits);
        const encoded = performance.now();
        times.features.push(featured - start);
        times.inference.push(decided - featured);
        times.agent.push(decided - start);
        times.encode.push(encoded - decided);
      }
    }
  } finally {
    await policy.release();
  }
  const median = percentile(times.agent, 50);
  const encodeMedian = percentile(times.encode, 50);
  const row = (name: string, xs: number[]) => [
    name,
    fmt(percentile(xs, 50)),
    fmt(percentile(xs, 99)),
    fmt(percentile(xs, 50) / encodeMedian),
  ];
  return {
    title: 'Agent cost per image: features + inference vs the encode it steers',
    columns: ['step', 'median ms', 'p99 ms', 'median vs encode'],
    rows: [
      row('features (v2, header only)', times.features),
      row('inference + choice', times.inference),
      row('features + inference', times.agent),
      row('sharp encode q75, same image', times.encode),
    ],
    targets: [atMost('agent median (features + inference)', median, 1, ' ms')],
    notes: [`${images.length} photos x ${REPEATS}, model ${MODEL.replace(packageRoot, '')}`],
  };
}
