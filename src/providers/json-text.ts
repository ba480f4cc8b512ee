/**
 * Where string values sit in a JSON text, so a rebuild can replace one string and copy every other byte as the client
 * wrote it. Reparsing and reserialising would not: `JSON.stringify` turns `1e400` into `null`, drops white space,
 * rewrites numbers, and overflows the stack on deeply nested values (issue 11, items 9 and 14).
 *
 * The scan is iterative (no recursion, whatever the nesting) and byte-based: every structural character of JSON is
 * ASCII and UTF-8 never uses ASCII bytes inside a multi-byte character, so offsets are byte offsets into the body.
 * The text must already be known to be valid JSON (the caller parsed it); the scan does not validate it.
 */

/** A path from the root: member names, and indices for array elements. */
export type JsonPath = readonly (string | number)[];

/** A string value's content, between its quotes, as offsets into the body. */
export interface JsonStringSpan {
  start: number;
  end: number;
}

/**
 * The spans of the string values at `paths` (a path may match several times: a member repeated in one object). Only
 * names down to the longest path's depth are decoded; deeper structure is skipped over.
 */
export function findStrings(body: Buffer, paths: readonly JsonPath[]): Map<string, JsonStringSpan[]> {
  const wanted = new Set(paths.map(pathKey));
  const maxDepth = Math.max(0, ...paths.map((p) => p.length));
  const found = new Map<string, JsonStringSpan[]>();
  // One frame per open container: for objects the current member's name, for arrays the current index.
  const stack: { array: boolean; key: string | number | undefined; expectKey: boolean }[] = [];
  let pos = 0;
  while (pos < body.length) {
    const byte = body[pos]!;
    const top = stack[stack.length - 1];
    if (byte === QUOTE) {
      const end = stringEnd(body, pos + 1);
      if (top && !top.array && top.expectKey) {
        top.key = stack.length <= maxDepth ? memberName(body, pos + 1, end) : undefined;
        top.expectKey = false;
      } else if (stack.length <= maxDepth) {
        const key = pathKey(stack.map((frame) => frame.key ?? NaN));
        if (wanted.has(key)) {
          const spans = found.get(key) ?? [];
          spans.push({ start: pos + 1, end });
          found.set(key, spans);
        }
      }
      pos = end + 1;
      continue;
    }
    if (byte === OPEN_OBJECT || byte === OPEN_ARRAY) {
      stack.push({
        array: byte === OPEN_ARRAY,
        key: byte === OPEN_ARRAY ? 0 : undefined,
        expectKey: byte === OPEN_OBJECT,
      });
    } else if (byte === CLOSE_OBJECT || byte === CLOSE_ARRAY) {
      stack.pop();
    } else if (byte === COMMA && top) {
      if (top.array) top.key = (top.key as number) + 1;
      else top.expectKey = true;
    }
    pos++;
  }
  return found;
}

/** The body with some string values' contents replaced (already escaped for JSON); every other byte copied. */
export function spliceStrings(body: Buffer, replacements: ReadonlyMap<JsonStringSpan, string>): Buffer {
  const ordered = [...replacements].sort(([a], [b]) => a.start - b.start);
  const pieces: Buffer[] = [];
  let copied = 0;
  for (const [span, text] of ordered) {
    pieces.push(body.subarray(copied, span.start), Buffer.from(text, 'utf8'));
    copied = span.end;
  }
  pieces.push(body.subarray(copied));
  return Buffer.concat(pieces);
}

/**
 * Base64 as a JSON string in the client's own style: `/` escaped as `\/` when the client's value did that (PHP's
 * json_encode does), as is otherwise. No other base64 character needs escaping.
 */
export function base64AsJsonString(base64: string, body: Buffer, original: JsonStringSpan): string {
  const escapesSlash = body.subarray(original.start, original.end).includes('\\/');
  return escapesSlash ? base64.replaceAll('/', '\\/') : base64;
}

export const pathKey = (path: JsonPath): string => JSON.stringify(path);

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;

/** Offset of the quote that closes the string whose content starts at `from`. */
function stringEnd(body: Buffer, from: number): number {
  let quote = body.indexOf(QUOTE, from);
  while (quote !== -1) {
    let backslashes = 0;
    while (body[quote - 1 - backslashes] === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote;
    quote = body.indexOf(QUOTE, quote + 1);
  }
  return body.length;
}

function memberName(body: Buffer, start: number, end: number): string {
  const raw = body.subarray(start, end);
  return raw.includes(BACKSLASH) ? (JSON.parse(`"${raw.toString('utf8')}"`) as string) : raw.toString('utf8');
}
