import { readFile } from 'node:fs/promises';

/**
 * The recogniser's character set, as PaddleOCR's CTCLabelDecode builds it from ppocr_keys_v1.txt with
 * use_space_char: index 0 is the CTC blank, then one character per line of the file, then a space last. The
 * recogniser's output has exactly one class per entry (6625 for PP-OCRv4's Chinese/English model), which the engine
 * checks at load so a mismatched dictionary is refused rather than read as nonsense.
 */
export async function loadCharset(path: string): Promise<string[]> {
  const text = await readFile(path, 'utf8');
  // Only line breaks are stripped: a dictionary line is one character, and some of them are whitespace-like.
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  return ['', ...lines, ' '];
}

export const BLANK = 0;
