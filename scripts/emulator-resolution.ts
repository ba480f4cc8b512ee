/**
 * What resolution does to each emulated operation: the phone photos (1-12 MP, ../shared/data/images/photos) sent at a
 * ladder of longer sides (JPEG quality 90, EXIF orientation kept), each answer compared with the answer to the original
 * file. Labels: the paper's metric (the original's top-1 among the labels); faces: recall of the original's faces at
 * IoU >= 0.5 (faces photos and street photos only). Same operations and answer functions as the HTTP routes.
 *
 *   node scripts/emulator-resolution.ts [--data ../shared/data] [--workers 2] [--limit N] [--set option=value ...]
 */
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { answerLabels, baiduGeneral, faceppSceneAndObject, rekognitionLabels } from '../src/emulator/answers.ts';
import { backendCatalog } from '../src/emulator/backends/engines.ts';
import { type EmulatorConfig, emulatorConfig } from '../src/emulator/config.ts';
import { agreement, type CurveAnswer } from '../src/emulator/curve.ts';
import { createInference } from '../src/emulator/inference.ts';
import { checkStartBindings } from '../src/emulator/knobs.ts';
import { runOperation, runOperations } from '../src/emulator/operate.ts';
import type { OperationName } from '../src/emulator/operations.ts';
import { emulatorSpecs } from '../src/emulator/server.ts';

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: fileURLToPath(new URL('../../shared/data', import.meta.url)) },
    workers: { type: 'string', default: '2' },
    limit: { type: 'string', default: '0' },
    set: { type: 'string', multiple: true, default: [] },
  },
});
const photosDir = join(values.data, 'images', 'photos');
const limit = Number(values.limit);
const photos = readdirSync(photosDir)
  .filter((f) => f.endsWith('.jpg'))
  .sort()
  .slice(0, limit > 0 ? limit : undefined);
const overrides = Object.fromEntries(
  values.set.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
) as Partial<EmulatorConfig>;
const config = emulatorConfig({ ...overrides, modelDir: join(values.data, 'models') });
const specs = emulatorSpecs(config);
checkStartBindings(config, backendCatalog(specs));
const inference = await createInference(specs, config.modelDir, Number(values.workers));

/** 0 = the original file; -1 = re-encoded at full size (the encode's own effect, to read the rest against). */
const SIDES = [0, -1, 2048, 1280, 960, 640, 448, 320];
const LABEL_OPS = ['rekognitionDetectLabels', 'baiduAdvancedGeneral', 'faceppDetectsceneandobject'] as const;
const FACE_OPS = ['rekognitionDetectFaces', 'faceppDetect', 'baiduFaceDetect'] as const;
type Column = (typeof LABEL_OPS)[number] | (typeof FACE_OPS)[number];
const columns: Column[] = [...LABEL_OPS, ...FACE_OPS];

async function labelAnswers(image: Buffer): Promise<Record<(typeof LABEL_OPS)[number], CurveAnswer>> {
  const seen = await runOperations(inference, config, LABEL_OPS, image);
  const r = seen.rekognitionDetectLabels;
  const f = seen.faceppDetectsceneandobject;
  return {
    rekognitionDetectLabels: { labels: answerLabels('rekognition', rekognitionLabels(r.classify, r.objects)) },
    baiduAdvancedGeneral: { labels: answerLabels('baidu', baiduGeneral(seen.baiduAdvancedGeneral.classify, 0)) },
    faceppDetectsceneandobject: {
      labels: answerLabels('facepp', faceppSceneAndObject(f.objects ?? [], f.classify, '', '')),
    },
  };
}

/** Face++ drops faces under 48 px or 1/48 of the short side of the upload, as its answer function does. */
async function faceAnswer(op: (typeof FACE_OPS)[number], image: Buffer): Promise<CurveAnswer> {
  const seen = await runOperation(inference, config, op, image);
  if (op !== 'faceppDetect') return { faces: seen.faces.map((f) => f.box) };
  const min = Math.max(48, Math.min(seen.frame.width, seen.frame.height) / 48);
  return {
    faces: seen.faces
      .filter((f) => f.box.width * seen.frame.width >= min && f.box.height * seen.frame.height >= min)
      .map((f) => f.box),
  };
}

const sums = new Map(SIDES.map((s) => [s, { bytes: 0, n: { labels: 0, faces: 0 }, ...zeros() }]));
function zeros(): Record<Column, number> {
  return Object.fromEntries(columns.map((c) => [c, 0])) as Record<Column, number>;
}
const started = Date.now();
let next = 0;
await Promise.all(
  Array.from({ length: Math.max(1, Number(values.workers)) }, async () => {
    while (next < photos.length) {
      const name = photos[next++]!;
      const original = await readFile(join(photosDir, name));
      const hasFaces = name.startsWith('faces-group') || name.startsWith('street');
      const { width = 0, height = 0 } = await sharp(original).metadata();
      let reference: Partial<Record<Column, CurveAnswer>> = {};
      for (const side of SIDES) {
        if (side >= Math.max(width, height)) continue;
        // Resize in stored orientation and keep the EXIF orientation, as a proxy must.
        const image =
          side === 0
            ? original
            : side === -1
              ? await sharp(original).keepMetadata().jpeg({ quality: 90 }).toBuffer()
              : await sharp(original)
                  .resize({ width: width >= height ? side : undefined, height: width >= height ? undefined : side })
                  .keepMetadata()
                  .jpeg({ quality: 90 })
                  .toBuffer();
        const answers: Partial<Record<Column, CurveAnswer>> = { ...(await labelAnswers(image)) };
        if (hasFaces) for (const op of FACE_OPS) answers[op] = await faceAnswer(op, image);
        if (side === 0) reference = answers;
        const s = sums.get(side)!;
        s.bytes += image.length;
        s.n.labels++;
        if (hasFaces) s.n.faces++;
        for (const c of columns) if (answers[c] && reference[c]) s[c] += agreement(reference[c]!, answers[c]!);
      }
    }
  }),
);
await inference.close();

const titles: Record<Column, string> = {
  rekognitionDetectLabels: 'Rek. labels',
  baiduAdvancedGeneral: 'Baidu labels',
  faceppDetectsceneandobject: 'Face++ scene',
  rekognitionDetectFaces: 'Rek. faces',
  faceppDetect: 'Face++ faces',
  baiduFaceDetect: 'Baidu faces',
};
const ref = sums.get(0)!;
console.log(
  `Agreement with the answer to the original file, ${photos.length} phone photos (faces: ${ref.n.faces} faces/street photos), JPEG q90 at each longer side.`,
);
console.log(`Bindings: ${columns.map((c) => `${c}=${config[c as OperationName]}`).join(', ')}`);
console.log('');
console.log(`| longer side | ${columns.map((c) => titles[c]).join(' | ')} | mean KiB (rel. original) |`);
console.log(`|---|${columns.map(() => '---|').join('')}---|`);
for (const side of SIDES) {
  const s = sums.get(side)!;
  if (s.n.labels === 0) continue;
  const cell = (c: Column) => {
    const n = (FACE_OPS as readonly string[]).includes(c) ? s.n.faces : s.n.labels;
    return n ? (s[c] / n).toFixed(3) : '-';
  };
  console.log(
    `| ${side === 0 ? 'original' : side === -1 ? 'full size, q90' : side} | ${columns.map(cell).join(' | ')} | ${(s.bytes / s.n.labels / 1024).toFixed(0)} (${(s.bytes / s.n.labels / (ref.bytes / ref.n.labels)).toFixed(2)}) |`,
  );
}
console.log(`\n(${((Date.now() - started) / 1000).toFixed(0)} s; a side is skipped for photos already smaller)`);
