/**
 * The text section of `npm run emulator:curve`: how the text operations' answers hold up when the proxy sends an image
 * at a lower JPEG quality and resolution. For every photo whose original gets a text answer, and every rendered card
 * (testkit/text-card-set.ts), each action (longer side x quality, encoded by the proxy's own codec with its
 * never-larger rule, EXIF orientation tag kept) is sent to Rekognition DetectText, Baidu general_basic and
 * accurate_basic in-process; the answer, normalised by the proxy's own readers, is compared with the answer to the
 * original by the reward spec's text measure (what calibration, the controller and the trainer use), and with the
 * q75 full-size answer (the proxy's default reference upload) too.
 */
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Answer } from '../src/answer.ts';
import { recompress } from '../src/codec/encode.ts';
import { inspectImage } from '../src/codec/inspect.ts';
import type { EmulatorConfig } from '../src/emulator/config.ts';
import type { Inference } from '../src/emulator/inference.ts';
import { runOperation } from '../src/emulator/operate.ts';
import { TEXT_CURVE_OPERATIONS, type TextCurveOperation, textAnswers } from '../src/emulator/text-curve.ts';
import { calibrationDefaults } from '../src/feedback/calibration.ts';
import { rewardSpec } from '../src/feedback/reward-spec.ts';
import { textSimilarity, wordAgreement } from '../src/feedback/rewards.ts';
import { renderNamedCard, TEXT_CARDS } from '../testkit/text-card-set.ts';

export const TEXT_SIDES: readonly (number | null)[] = [null, 1536, 1024, 768, 512];
export const TEXT_QUALITIES: readonly number[] = [35, 55, 75, 85, 95];
const LIMITS = { maxInputPixels: 100_000_000 };

interface Item {
  name: string;
  set: 'photos' | 'cards';
  original: Buffer;
}

interface Cell {
  side: number | null;
  quality: number;
  /** Per set and operation: sums of the spec's agreement, of word and character agreement, and vs the q75 answer. */
  sums: Record<string, { spec: number; words: number; chars: number; q75: number }>;
  /** Per set: summed bytes sent relative to the original, and summed KiB. */
  bytes: Record<string, { relative: number; kib: number }>;
}

const label = (side: number | null, quality: number) => `${side ?? 'full'} q${quality}`;
const fixed = (v: number, d = 3) => v.toFixed(d);

async function forEach<T>(items: readonly T[], width: number, work: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

/** What the proxy would send for this action: the re-encode, or the original when that is not smaller. */
async function sent(original: Buffer, side: number | null, quality: number): Promise<Buffer> {
  const image = await inspectImage(original, LIMITS);
  const action = side === null ? { quality } : { quality, maxSide: side };
  const outcome = await recompress(image, action, LIMITS);
  return outcome.kind === 'encoded' ? outcome.bytes : original;
}

const hasText = (answers: Record<TextCurveOperation, Answer>) =>
  TEXT_CURVE_OPERATIONS.some((op) => (answers[op].text ?? '').trim().length > 0);

export async function textCurve(options: {
  inference: Inference;
  config: EmulatorConfig;
  photosDir: string;
  width: number;
  limit: number;
}): Promise<string> {
  const { inference, config, width } = options;
  const started = Date.now();
  const spec = rewardSpec('text');
  const photos = readdirSync(options.photosDir)
    .filter((f) => /\.jpe?g$/i.test(f))
    .sort();
  const items: Item[] = [];
  const references = new Map<string, Record<TextCurveOperation, Answer>>();
  await forEach(photos, width, async (name) => {
    const original = await readFile(join(options.photosDir, name));
    const answers = await textAnswers(inference, original, config);
    if (!hasText(answers)) return;
    items.push({ name, set: 'photos', original });
    references.set(name, answers);
  });
  for (const card of TEXT_CARDS) items.push({ name: card.name, set: 'cards', original: await renderNamedCard(card) });
  items.sort((a, b) => (a.set === b.set ? a.name.localeCompare(b.name) : a.set === 'photos' ? -1 : 1));
  const chosen = options.limit > 0 ? items.slice(0, options.limit) : items;

  const cells: Cell[] = TEXT_SIDES.flatMap((side) =>
    TEXT_QUALITIES.map((quality) => ({ side, quality, sums: {}, bytes: {} })),
  );
  const counts: Record<string, number> = {};
  const perImage: string[] = [];
  await forEach(chosen, width, async (item) => {
    const reference = references.get(item.name) ?? (await textAnswers(inference, item.original, config));
    const answers = await Promise.all(
      cells.map(async (cell) => {
        const bytes = await sent(item.original, cell.side, cell.quality);
        return { bytes, answers: await textAnswers(inference, bytes, config) };
      }),
    );
    const q75 = answers[cells.findIndex((c) => c.side === null && c.quality === 75)]!.answers;
    counts[item.set] = (counts[item.set] ?? 0) + 1;
    cells.forEach((cell, i) => {
      const { bytes, answers: got } = answers[i]!;
      cell.bytes[item.set] ??= { relative: 0, kib: 0 };
      const b = cell.bytes[item.set]!;
      b.relative += bytes.length / item.original.length;
      b.kib += bytes.length / 1024;
      for (const op of TEXT_CURVE_OPERATIONS) {
        const key = `${item.set}/${op}`;
        cell.sums[key] ??= { spec: 0, words: 0, chars: 0, q75: 0 };
        const s = cell.sums[key]!;
        s.spec += spec.agreement(reference[op], got[op]);
        s.words += wordAgreement(reference[op].text, got[op].text);
        s.chars += textSimilarity(reference[op].text, got[op].text);
        s.q75 += spec.agreement(q75[op], got[op]);
      }
    });
    const words = (reference.baiduGeneralBasic.text ?? '').split(/\s+/).filter(Boolean).length;
    perImage.push(`${item.set}/${item.name}: ${words} words (Baidu general_basic at the original)`);
  });

  const sets = (['photos', 'cards'] as const).filter((s) => counts[s]);
  const target = calibrationDefaults.target;
  const out: string[] = [
    '',
    `### Text operations (${counts.photos ?? 0} photos whose original gets a text answer, ${counts.cards ?? 0} rendered cards)`,
    `Bindings: DetectText ${config.rekognitionDetectText}, general_basic ${config.baiduGeneralBasic}, accurate_basic ${config.baiduAccurateBasic}.`,
    `Agreement with the answer to the original by the reward spec's text measure (${JSON.stringify(spec.weights)}); bytes as the proxy sends them (never larger than the original).`,
    '',
    `| action | ${sets.flatMap((s) => TEXT_CURVE_OPERATIONS.map((op) => `${s}: ${short(op)}`)).join(' | ')} | ${sets.map((s) => `${s}: bytes rel. original (KiB)`).join(' | ')} |`,
    `|---|${sets.flatMap(() => TEXT_CURVE_OPERATIONS.map(() => '---')).join('|')}|${sets.map(() => '---').join('|')}|`,
  ];
  for (const cell of cells) {
    const agreements = sets.flatMap((s) =>
      TEXT_CURVE_OPERATIONS.map((op) => fixed(cell.sums[`${s}/${op}`]!.spec / counts[s]!)),
    );
    const sizes = sets.map(
      (s) => `${fixed(cell.bytes[s]!.relative / counts[s]!, 2)} (${fixed(cell.bytes[s]!.kib / counts[s]!, 0)})`,
    );
    out.push(`| ${label(cell.side, cell.quality)} | ${agreements.join(' | ')} | ${sizes.join(' | ')} |`);
  }
  out.push(
    '',
    'Other measures, same actions (Baidu general_basic; words = word F1, chars = 1 - normalised edit distance; vs q75 = the spec measure against the q75 full-size answer):',
    '',
  );
  out.push(
    `| action | ${sets.map((s) => `${s}: words / chars / vs q75`).join(' | ')} |`,
    `|---|${sets.map(() => '---').join('|')}|`,
  );
  for (const cell of cells) {
    const row = sets.map((s) => {
      const v = cell.sums[`${s}/baiduGeneralBasic`]!;
      const n = counts[s]!;
      return `${fixed(v.words / n)} / ${fixed(v.chars / n)} / ${fixed(v.q75 / n)}`;
    });
    out.push(`| ${label(cell.side, cell.quality)} | ${row.join(' | ')} |`);
  }
  out.push(
    '',
    `Best fixed action: the fewest bytes whose mean agreement holds ${target} (the calibration target) on the photos, on the cards, and on both:`,
    '',
    '| operation | photos | cards | both |',
    '|---|---|---|---|',
  );
  for (const op of TEXT_CURVE_OPERATIONS) {
    const best = (within: readonly string[]) => {
      const cost = (cell: Cell) =>
        within.reduce((sum, s) => sum + cell.bytes[s]!.relative / counts[s]!, 0) / within.length;
      const holding = cells.filter((cell) => within.every((s) => cell.sums[`${s}/${op}`]!.spec / counts[s]! >= target));
      const cell = holding.sort((a, b) => cost(a) - cost(b))[0];
      return cell ? `${label(cell.side, cell.quality)} (bytes ${fixed(cost(cell), 2)})` : 'none of the grid';
    };
    const column = (set: 'photos' | 'cards') => (sets.includes(set) ? best([set]) : '-');
    out.push(`| ${short(op)} | ${column('photos')} | ${column('cards')} | ${best(sets)} |`);
  }
  // Time per OCR call: one at a time (nothing else queued), the original of each item through Baidu general_basic's
  // binding, as one emulator job: decode, working resolution, detection, direction, recognition.
  const times: Record<string, number[]> = {};
  for (const item of chosen) {
    const start = performance.now();
    await runOperation(inference, config, 'baiduGeneralBasic', item.original);
    times[item.set] ??= [];
    times[item.set]!.push(performance.now() - start);
  }
  out.push('', 'Time per OCR call (one at a time, the originals, general_basic binding), ms median / mean / max:');
  for (const set of sets) {
    const t = [...times[set]!].sort((a, b) => a - b);
    const mean = t.reduce((a, b) => a + b, 0) / t.length;
    out.push(`- ${set}: ${fixed(t[Math.floor(t.length / 2)]!, 0)} / ${fixed(mean, 0)} / ${fixed(t.at(-1)!, 0)}`);
  }
  out.push('', ...perImage.sort(), '', `(${((Date.now() - started) / 1000).toFixed(0)} s)`);
  return out.join('\n');
}

const short = (op: TextCurveOperation) =>
  ({ rekognitionDetectText: 'DetectText', baiduGeneralBasic: 'general_basic', baiduAccurateBasic: 'accurate_basic' })[
    op
  ];
