/**
 * How exactly the OCR engine reads rendered text: cards of known lines in three DejaVu faces at several sizes, read at
 * the default working resolution. Prints, per face and size, lines read exactly, words read exactly, the character
 * error rate (edit distance / length), and how far word box edges are from the word's ink (in em).
 *
 *   node scripts/ocr-cards.ts [--sizes 14,18,24,32,48] [--max-side 960]
 */
import { parseArgs } from 'node:util';
import { loadOcrEngine } from '../src/emulator/ocr/engine.ts';
import { bounds, type Card, type CardLine, renderCard, wordInk } from '../testkit/text-cards.ts';

const PHRASES = [
  'Platform 9 closed today',
  'Use the north exit',
  'Fresh bread and milk',
  'Open daily until late',
  'No parking at any time',
  'Total due 42.50 EUR',
  'Please keep left',
  'Welcome to the museum',
  'Fire exit keep clear',
  'Room 214 is on the left',
  'Sale ends Sunday',
  'Push door to open',
];
const FONTS: CardLine['font'][] = ['DejaVu Sans', 'DejaVu Serif', 'DejaVu Sans Mono'];

const { values } = parseArgs({
  options: { sizes: { type: 'string', default: '14,18,24,32,48' }, 'max-side': { type: 'string', default: '960' } },
});
const sizes = values.sizes.split(',').map(Number);
const maxSide = Number(values['max-side']);

function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    row = next;
  }
  return row[b.length]!;
}

const engine = await loadOcrEngine();
const total = { lines: 0, exact: 0, words: 0, wordsExact: 0, chars: 0, edits: 0, edges: [] as number[] };
console.log('face              size  lines exact  words exact  CER     word edge error (em) median / max');
for (const font of FONTS) {
  for (const size of sizes) {
    const gap = Math.round(size * 1.8);
    const card: Card = {
      width: Math.round(size * 0.65 * Math.max(...PHRASES.map((p) => p.length)) + 2 * size),
      height: gap * PHRASES.length + size,
      lines: PHRASES.map((text, i) => ({ text, font, size, x: size, y: gap * (i + 1) })),
    };
    const result = await engine.read(await renderCard(card), { maxSide });
    const row = { exact: 0, words: 0, wordsExact: 0, chars: 0, edits: 0, edges: [] as number[] };
    for (const [i, phrase] of PHRASES.entries()) {
      // The line read nearest the phrase's baseline (a missed or split line then counts against it).
      const baseline = card.lines[i]!.y;
      const line = result.lines.find((l) => {
        const b = bounds(l.polygon);
        return b.top <= baseline && b.bottom >= baseline - size * 0.5;
      });
      const read = line?.text ?? '';
      row.chars += phrase.length;
      row.edits += editDistance(read, phrase);
      if (read === phrase) row.exact++;
      const truth = phrase.split(' ');
      row.words += truth.length;
      const got = line?.words.map((w) => w.text) ?? [];
      row.wordsExact += truth.filter((w, k) => got[k] === w).length;
      if (read !== phrase || !line) continue;
      for (const [k, word] of line.words.entries()) {
        const ink = await wordInk(card, i, k);
        const box = bounds(word.polygon);
        row.edges.push(Math.max(Math.abs(box.left - ink.left), Math.abs(box.right - ink.right)) / size);
      }
    }
    row.edges.sort((a, b) => a - b);
    const median = row.edges[Math.floor(row.edges.length / 2)] ?? Number.NaN;
    console.log(
      `${font.padEnd(17)} ${String(size).padStart(4)}  ${`${row.exact}/${PHRASES.length}`.padStart(11)}  ` +
        `${`${row.wordsExact}/${row.words}`.padStart(11)}  ${(row.edits / row.chars).toFixed(3)}   ` +
        `${median.toFixed(2)} / ${(row.edges.at(-1) ?? Number.NaN).toFixed(2)}`,
    );
    total.lines += PHRASES.length;
    total.exact += row.exact;
    total.words += row.words;
    total.wordsExact += row.wordsExact;
    total.chars += row.chars;
    total.edits += row.edits;
    total.edges.push(...row.edges);
  }
}
total.edges.sort((a, b) => a - b);
console.log(
  `\nall: lines ${total.exact}/${total.lines} exact, words ${total.wordsExact}/${total.words}, ` +
    `CER ${(total.edits / total.chars).toFixed(4)}, word edges median ${total.edges[Math.floor(total.edges.length / 2)]!.toFixed(2)} em, ` +
    `p90 ${total.edges[Math.floor(total.edges.length * 0.9)]!.toFixed(2)}, max ${total.edges.at(-1)!.toFixed(2)}`,
);
await engine.release();
