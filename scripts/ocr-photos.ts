/**
 * What the OCR engine reads on the text-bearing photos, and how long a read takes (decode to result, one thread, after
 * the engine's warm-up). A look, not a benchmark: the photos have no ground truth.
 *
 *   node scripts/ocr-photos.ts [--photos ../shared/data/images/photos] [--max-side 960] [--runs 3] [--threads 1]
 *
 * Photos: every text_*.jpg and night_japanese-shopfront-signs.jpg in the folder (or the files named after the options).
 */
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { loadOcrEngine } from '../src/emulator/ocr/engine.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    photos: { type: 'string', default: fileURLToPath(new URL('../../shared/data/images/photos', import.meta.url)) },
    'max-side': { type: 'string', default: '960' },
    runs: { type: 'string', default: '3' },
    threads: { type: 'string', default: '1' },
  },
});
if (!existsSync(values.photos)) {
  console.error(`ocr-photos: ${values.photos} not found (pass --photos)`);
  process.exit(2);
}
const files =
  positionals.length > 0
    ? positionals
    : readdirSync(values.photos)
        .filter((f) => /^text_.*\.jpe?g$/.test(f) || f === 'night_japanese-shopfront-signs.jpg')
        .sort();
const maxSide = Number(values['max-side']);
const runs = Math.max(1, Number(values.runs));

const engine = await loadOcrEngine({ intraOpNumThreads: Number(values.threads) });
console.log(`maxSide ${maxSide}, ${values.threads} thread(s), median of ${runs} run(s)\n`);
const medians: number[] = [];
for (const file of files) {
  const bytes = await readFile(join(values.photos, file));
  const meta = await sharp(bytes).metadata();
  const times: number[] = [];
  let result = await engine.read(bytes, { maxSide });
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    result = await engine.read(bytes, { maxSide });
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)]!;
  medians.push(median);
  const words = result.lines.reduce((n, l) => n + l.words.length, 0);
  console.log(
    `${file}  ${meta.width}x${meta.height} ori ${meta.orientation ?? 1} -> frame ${result.width}x${result.height}: ` +
      `${result.lines.length} lines, ${words} words, ${median.toFixed(0)} ms`,
  );
  for (const line of result.lines) console.log(`    ${(line.confidence * 100).toFixed(0).padStart(3)}%  ${line.text}`);
}
medians.sort((a, b) => a - b);
console.log(
  `\nmedian time per photo ${medians[Math.floor(medians.length / 2)]!.toFixed(0)} ms over ${files.length} photos`,
);
await engine.release();
