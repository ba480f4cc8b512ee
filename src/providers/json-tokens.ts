/**
 * The primitive values of a JSON text with where they sit, so that a few of them can be replaced in place and every
 * other byte (white space, key order, escapes, number spellings, duplicate keys) stays exactly as the API wrote it.
 * JSON.parse cannot do that: it gives values, not their positions, and re-serialising changes the text.
 */

/** An object key or an array index. */
export type PathSegment = string | number;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** Characters that end a number or a literal (true, false, null): structure and white space. */
const ENDS_VALUE = new Uint8Array(128);
for (const c of ',]}: \t\n\r') ENDS_VALUE[c.charCodeAt(0)] = 1;

// What the scanner is in, per level: an object before a key, an object before a value, an array.
const KEY = 0;
const VALUE = 1;
const ARRAY = 2;

/**
 * Calls `visit` for every primitive value of `text`, in document order, with the path to it (a live array, valid only
 * during the call: copy it to keep it) and its span [start, end). Throws SyntaxError when `text` is not JSON: JSON.parse
 * checks it first, so the scan itself only has to split valid JSON.
 */
export function visitJsonValues(
  text: string,
  visit: (path: readonly PathSegment[], start: number, end: number) => void,
): void {
  JSON.parse(text);
  const levels: number[] = [];
  const path: PathSegment[] = [];
  const length = text.length;
  let i = 0;
  while (i < length) {
    const c = text.charCodeAt(i);
    const depth = levels.length - 1;
    switch (c) {
      case 0x7b: // {
        levels.push(KEY);
        path.push('');
        i++;
        continue;
      case 0x5b: // [
        levels.push(ARRAY);
        path.push(0);
        i++;
        continue;
      case 0x7d: // }
      case 0x5d: // ]
        levels.pop();
        path.pop();
        i++;
        continue;
      case 0x3a: // :
        levels[depth] = VALUE;
        i++;
        continue;
      case 0x2c: // ,
        if (levels[depth] === ARRAY) path[depth] = (path[depth] as number) + 1;
        else levels[depth] = KEY;
        i++;
        continue;
      case 0x20:
      case 0x09:
      case 0x0a:
      case 0x0d:
        i++;
        continue;
    }
    let end = i + 1;
    if (c === QUOTE) {
      for (;;) {
        const d = text.charCodeAt(end);
        if (d === QUOTE) break;
        end += d === BACKSLASH ? 2 : 1;
      }
      end += 1;
    } else {
      while (end < length && ENDS_VALUE[text.charCodeAt(end)] !== 1) end++;
    }
    if (c === QUOTE && levels[depth] === KEY) {
      const raw = text.slice(i, end);
      path[depth] = raw.includes('\\') ? (JSON.parse(raw) as string) : raw.slice(1, -1);
    } else {
      visit(path, i, end);
    }
    i = end;
  }
}

/** `text` with some spans replaced (`replacements` in document order, not overlapping). */
export function spliceTokens(
  text: string,
  replacements: readonly { start: number; end: number; raw: string }[],
): string {
  const parts: string[] = [];
  let at = 0;
  for (const { start, end, raw } of replacements) {
    parts.push(text.slice(at, start), raw);
    at = end;
  }
  parts.push(text.slice(at));
  return parts.join('');
}
