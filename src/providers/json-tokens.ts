/**
 * The primitive values of a JSON text with where they sit, so that a few of them can be replaced in place and every
 * other byte (white space, key order, escapes, number spellings, duplicate keys) stays exactly as the API wrote it.
 * JSON.parse cannot do that: it gives values, not their positions, and re-serialising changes the text.
 */

/** An object key or an array index. */
export type PathSegment = string | number;

export interface ValueToken {
  /** Keys and indices from the root to the value. */
  path: PathSegment[];
  /** The token's span in the text, [start, end). */
  start: number;
  end: number;
  /** The token as written: a number, a string with its quotes, true, false or null. */
  raw: string;
}

// One JSON token after optional white space (the text is validated by JSON.parse first, so this only has to split it).
const TOKEN =
  /[ \t\n\r]*(?:([{}[\]:,])|("[^"\\]*(?:\\.[^"\\]*)*")|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null))/y;

type Frame = { array: true; index: number } | { array: false; key: PathSegment | undefined; expectKey: boolean };

/** Every primitive value of `text`, in document order. Throws SyntaxError when `text` is not JSON. */
export function jsonValueTokens(text: string): ValueToken[] {
  JSON.parse(text);
  const tokens: ValueToken[] = [];
  const stack: Frame[] = [];
  const path = (): PathSegment[] => stack.map((frame) => (frame.array ? frame.index : (frame.key ?? '')));
  TOKEN.lastIndex = 0;
  for (;;) {
    const match = TOKEN.exec(text);
    if (!match) break;
    const [, punctuation, string, literal] = match;
    const top = stack.at(-1);
    if (punctuation !== undefined) {
      if (punctuation === '{') stack.push({ array: false, key: undefined, expectKey: true });
      else if (punctuation === '[') stack.push({ array: true, index: 0 });
      else if (punctuation === '}' || punctuation === ']') stack.pop();
      else if (punctuation === ':' && top && !top.array) top.expectKey = false;
      else if (punctuation === ',' && top) {
        if (top.array) top.index += 1;
        else top.expectKey = true;
      }
      continue;
    }
    const raw = (string ?? literal)!;
    if (string !== undefined && top && !top.array && top.expectKey) {
      top.key = JSON.parse(string) as string;
      continue;
    }
    tokens.push({ path: path(), start: match.index + match[0].length - raw.length, end: TOKEN.lastIndex, raw });
  }
  return tokens;
}

/** `text` with some tokens replaced (`replacements` in document order, not overlapping). */
export function spliceTokens(text: string, replacements: readonly { token: ValueToken; raw: string }[]): string {
  let out = '';
  let at = 0;
  for (const { token, raw } of replacements) {
    out += text.slice(at, token.start) + raw;
    at = token.end;
  }
  return out + text.slice(at);
}
