/**
 * `npm run emulator:curve`: the environment's ground truth. For each emulated API, how often the answer at JPEG quality q
 * agrees with the answer at quality 75 (the paper's metric: the q75 top-1 label is among the returned labels; faces:
 * recall of the q75 faces at IoU >= 0.5), on the 200 validation photos (faces: the face photos), and the mean bytes.
 * Runs the emulator's own models and answer functions in-process (identical to the HTTP answers, see the tests).
 *
 *   npm run emulator:curve -- [--data ../shared/data] [--workers 2] [--limit N] [--set option=value ...]
 *                             [--sections labels,faces,text]
 *
 * The text section (scripts/curve-text.ts): Rekognition DetectText and Baidu general_basic / accurate_basic on the
 * photos whose original gets a text answer and on rendered cards, per longer side and quality, against the answer to
 * the original by the reward spec's text measure.
 *
 * --set takes any emulator option, e.g. `--set baiduAdvancedGeneral=mobilenet-v3-small` or
 * `--set rekognitionDetectFaces=yunet@native`: the curve of a backend the shipped policies were never trained on.
 */
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { backendCatalog } from '../src/emulator/backends/engines.ts';
import { type EmulatorConfig, emulatorConfig } from '../src/emulator/config.ts';
import { agreement, type CurveAnswer, curveAnswer, type LabelApi, labelAnswers } from '../src/emulator/curve.ts';
import { createInference } from '../src/emulator/inference.ts';
import { checkStartBindings } from '../src/emulator/knobs.ts';
import { emulatorSpecs } from '../src/emulator/server.ts';
import { imagesOfSplit } from '../src/trainer/data.ts';
import { textCurve } from './curve-text.ts';

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: fileURLToPath(new URL('../../shared/data', import.meta.url)) },
    workers: { type: 'string', default: '2' },
    limit: { type: 'string', default: '0' },
    set: { type: 'string', multiple: true, default: [] },
    sections: { type: 'string', default: 'labels,faces,text' },
  },
});
const sections = new Set(values.sections.split(',').map((s) => s.trim()));
for (const section of sections) {
  if (!['labels', 'faces', 'text'].includes(section)) {
    console.error(`emulator-curve: unknown section ${section} (labels, faces, text)`);
    process.exit(2);
  }
}
const dataDir = values.data;
const imagenetDir = join(dataDir, 'images', 'imagenet-sample');
const facesDir = join(dataDir, 'images', 'faces');
if (!existsSync(join(dataDir, 'models')) || !existsSync(imagenetDir) || !existsSync(facesDir)) {
  console.error(`emulator-curve: ${dataDir} lacks models/ or images/ (pass --data)`);
  process.exit(2);
}
const limit = Number(values.limit);
const take = <T>(xs: T[]) => (limit > 0 ? xs.slice(0, limit) : xs);
const validation = sections.has('labels') ? take(imagesOfSplit(imagenetDir, 'validation')) : [];
const facePhotos = sections.has('faces') ? take(readdirSync(facesDir).sort()) : [];
const QUALITIES = [5, 15, 25, 35, 45, 55, 65, 75, 85, 95];
const LABEL_APIS: LabelApi[] = ['rekognition', 'baidu', 'facepp'];

const overrides = Object.fromEntries(
  values.set.map((kv) => {
    const cut = kv.indexOf('=');
    return [kv.slice(0, cut), kv.slice(cut + 1)];
  }),
) as Partial<EmulatorConfig>;
const config = emulatorConfig({ ...overrides, modelDir: join(dataDir, 'models') });
const specs = emulatorSpecs(config);
checkStartBindings(config, backendCatalog(specs));
const inference = await createInference(specs, config.modelDir, Number(values.workers));
const started = Date.now();

/** Per quality: summed agreement per API and summed bytes. */
const sums = new Map(
  QUALITIES.map((q) => [q, { rekognition: 0, baidu: 0, facepp: 0, faces: 0, bytes: 0, faceBytes: 0 }]),
);

/** Run `work` over `items` with a fixed number in flight (the pool's width). */
async function forEach<T>(items: T[], width: number, work: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}
const width = Math.max(2, Number(values.workers) * 2);

await forEach(validation, width, async (name) => {
  const original = await readFile(join(imagenetDir, name));
  const encoded = await Promise.all(QUALITIES.map((q) => sharp(original).jpeg({ quality: q }).toBuffer()));
  const answers = await Promise.all(encoded.map((bytes) => labelAnswers(inference, bytes, config)));
  const reference = answers[QUALITIES.indexOf(75)]!;
  QUALITIES.forEach((q, i) => {
    const s = sums.get(q)!;
    s.bytes += encoded[i]!.length;
    for (const api of LABEL_APIS) s[api] += agreement(reference[api], answers[i]![api]);
  });
});

await forEach(facePhotos, width, async (name) => {
  const original = await readFile(join(facesDir, name));
  const encoded = await Promise.all(QUALITIES.map((q) => sharp(original).jpeg({ quality: q }).toBuffer()));
  const answers: CurveAnswer[] = await Promise.all(
    encoded.map((bytes) => curveAnswer(inference, 'faces', bytes, config)),
  );
  const reference = answers[QUALITIES.indexOf(75)]!;
  QUALITIES.forEach((q, i) => {
    const s = sums.get(q)!;
    s.faceBytes += encoded[i]!.length;
    s.faces += agreement(reference, answers[i]!);
  });
});
const textTable = sections.has('text')
  ? await textCurve({ inference, config, photosDir: join(dataDir, 'images', 'photos'), width, limit })
  : '';
await inference.close();

const n = validation.length;
const f = facePhotos.length;
const ref = sums.get(75)!;
const fixed = (v: number, d = 3) => v.toFixed(d);
const labelLines = [
  `Agreement with the answer at quality 75 (${n} validation photos; faces: ${f} face photos), sharp JPEG encoder.`,
  `Backends: DetectLabels ${config.rekognitionDetectLabels}, advanced_general ${config.baiduAdvancedGeneral}, detectsceneandobject ${config.faceppDetectsceneandobject}, faces (DetectFaces) ${config.rekognitionDetectFaces}.`,
  '',
  '| q | Rekognition DetectLabels | Baidu advanced_general | Face++ detectsceneandobject | faces (recall IoU>=0.5) | mean KiB (rel. q75) | faces mean KiB (rel. q75) |',
  '|---|---|---|---|---|---|---|',
  ...QUALITIES.map((q) => {
    const s = sums.get(q)!;
    return `| ${q} | ${fixed(s.rekognition / n)} | ${fixed(s.baidu / n)} | ${fixed(s.facepp / n)} | ${fixed(s.faces / f)} | ${fixed(s.bytes / n / 1024, 1)} (${fixed(s.bytes / ref.bytes, 2)}) | ${fixed(s.faceBytes / f / 1024, 1)} (${fixed(s.faceBytes / ref.faceBytes, 2)}) |`;
  }),
  '',
  `(${((Date.now() - started) / 1000).toFixed(0)} s)`,
];
if (sections.has('labels') || sections.has('faces')) console.log(labelLines.join('\n'));
if (textTable) console.log(textTable);
