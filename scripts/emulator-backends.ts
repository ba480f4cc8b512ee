/**
 * The emulator's backends checked against what their models are known to do, and timed at their working resolution.
 *
 *   node scripts/emulator-backends.ts [--data ../shared/data] [--limit N]
 *
 * 1. Classifiers: top-1 against the true class of the 200 validation photos (file name = synset, sorted = class index;
 *    the data README measured MobileNetV3-Small at 0.77), and how often MobileNetV2 and V3 agree on top-1.
 * 2. Object detectors: FastestDet and YOLOX-nano on the phone photos: the COCO names each finds (score >= 0.5).
 * 3. Face detectors: faces found on the face photos and the phone photos, UltraFace at 320x240 vs YuNet at 1920x1080.
 * 4. Time per image (decode + working resolution + model + decoding), in-process, one thread, per backend at the working
 *    resolution of the operation it serves by default, on the phone photos (1-12 MP) and the imagenet photos.
 */
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseResolution, type WorkingResolution } from '../src/emulator/backends/pixels.ts';
import { BackendSet } from '../src/emulator/backends/runner.ts';
import { loadSpecs } from '../src/emulator/backends/spec.ts';
import type { ClassScore, Detection } from '../src/emulator/models.ts';
import { imagesOfSplit } from '../src/trainer/data.ts';

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: fileURLToPath(new URL('../../shared/data', import.meta.url)) },
    limit: { type: 'string', default: '0' },
  },
});
const dataDir = values.data;
const dirs = {
  imagenet: join(dataDir, 'images', 'imagenet-sample'),
  faces: join(dataDir, 'images', 'faces'),
  photos: join(dataDir, 'images', 'photos'),
};
for (const dir of Object.values(dirs)) {
  if (!existsSync(dir)) {
    console.error(`emulator-backends: ${dir} is missing (pass --data)`);
    process.exit(2);
  }
}
const limit = Number(values.limit);
const take = <T>(xs: T[]) => (limit > 0 ? xs.slice(0, limit) : xs);
const list = (dir: string, filter: (f: string) => boolean = () => true) =>
  readdirSync(dir)
    .filter((f) => /\.(jpe?g|png)$/i.test(f) && filter(f))
    .sort();

const modelDir = join(dataDir, 'models');
const set = await BackendSet.load(loadSpecs(modelDir), modelDir);
const run = async (backend: string, image: Buffer, resolution: WorkingResolution = 'native') => {
  const started = performance.now();
  const answer = await set.run({ image, backends: [backend], resolution, orientation: 'exif' });
  return { ms: performance.now() - started, value: answer.results[0]!.value };
};
const pct = (x: number, n: number) => `${((100 * x) / Math.max(1, n)).toFixed(1)}%`;
const lines: string[] = [];
const out = (line = '') => {
  lines.push(line);
  console.log(line);
};

// 1. Classifiers.
const allImagenet = list(dirs.imagenet);
const validation = take(imagesOfSplit(dirs.imagenet, 'validation'));
let v2Right = 0;
let v3Right = 0;
let agree = 0;
for (const name of validation) {
  const truth = allImagenet.indexOf(name);
  const image = await readFile(join(dirs.imagenet, name));
  const v2 = (await run('mobilenetv2-12-int8', image)).value as ClassScore[];
  const v3 = (await run('mobilenet-v3-small', image)).value as ClassScore[];
  if (v2[0]!.index === truth) v2Right++;
  if (v3[0]!.index === truth) v3Right++;
  if (v2[0]!.name === v3[0]!.name) agree++;
}
out(`## Classifiers (${validation.length} validation photos)`);
out(
  `top-1 = true class: MobileNetV2-int8 ${pct(v2Right, validation.length)}, MobileNetV3-Small ${pct(v3Right, validation.length)}`,
);
out(`V2 and V3 give the same top-1 name: ${pct(agree, validation.length)}`);

// 2. Object detectors.
const photos = take(list(dirs.photos));
out('');
out(`## Object detectors on ${photos.length} phone photos (COCO names with score >= 0.5)`);
out('| photo | FastestDet | YOLOX-nano |');
out('|---|---|---|');
let both = 0;
let either = 0;
for (const name of photos) {
  const image = await readFile(join(dirs.photos, name));
  const names = async (backend: string) =>
    new Set(((await run(backend, image)).value as Detection[]).filter((d) => d.score >= 0.5).map((d) => d.name));
  const a = await names('fastestdet');
  const b = await names('yolox-nano');
  for (const n of new Set([...a, ...b])) {
    either++;
    if (a.has(n) && b.has(n)) both++;
  }
  out(`| ${name} | ${[...a].sort().join(', ')} | ${[...b].sort().join(', ')} |`);
}
out(`names found by both, of names found by either: ${both}/${either}`);

// 3. Face detectors.
const facePhotos = take([
  ...list(dirs.faces).map((f) => join(dirs.faces, f)),
  ...list(dirs.photos, (f) => f.startsWith('faces-group')).map((f) => join(dirs.photos, f)),
]);
let ultra = 0;
let yunet = 0;
for (const path of facePhotos) {
  const image = await readFile(path);
  ultra += ((await run('ultraface-rfb-320', image)).value as Detection[]).length;
  yunet += ((await run('yunet', image, parseResolution('1920x1080'))).value as Detection[]).length;
}
out('');
out(`## Face detectors on ${facePhotos.length} face photos: faces found`);
out(`UltraFace RFB-320 (320x240): ${ultra}; YuNet at 1920x1080: ${yunet}`);

// 4. Time per image at the default working resolution of the operation each backend serves.
const timed: [string, string, WorkingResolution, string[]][] = [
  ['mobilenetv2-12-int8', 'classifier crop 224', 'native', []],
  ['mobilenet-v3-small', 'classifier crop 224', 'native', []],
  ['fastestdet', '352x352', 'native', []],
  ['yolox-nano', '416x416 letterbox', 'native', []],
  ['ultraface-rfb-320', '320x240', 'native', []],
  ['yunet', 'working 1920x1080 (+640 level)', parseResolution('1920x1080')!, []],
  ['yunet', 'working 2048 (+640 level)', parseResolution('2048')!, []],
  ['yunet', 'working 640', parseResolution('640')!, []],
];
const sets = {
  'phone photos': photos.map((f) => join(dirs.photos, f)),
  'imagenet photos': take(validation.slice(0, 40)).map((f) => join(dirs.imagenet, f)),
};
out('');
out('## Time per image, ms (median / mean), one thread, in-process: decode + working resolution + model + decode');
out(`| backend | input | ${Object.keys(sets).join(' | ')} |`);
out(
  `|---|---|${Object.keys(sets)
    .map(() => '---|')
    .join('')}`,
);
for (const [backend, input, resolution] of timed) {
  const cells: string[] = [];
  for (const paths of Object.values(sets)) {
    const ms: number[] = [];
    for (const path of paths) ms.push((await run(backend, await readFile(path), resolution)).ms);
    ms.sort((a, b) => a - b);
    const median = ms[Math.floor(ms.length / 2)]!;
    const mean = ms.reduce((a, b) => a + b, 0) / ms.length;
    cells.push(`${median.toFixed(0)} / ${mean.toFixed(0)}`);
  }
  out(`| ${backend} | ${input} | ${cells.join(' | ')} |`);
}
await set.release();
