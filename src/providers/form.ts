import { ProxyError } from './types.ts';

/**
 * application/x-www-form-urlencoded, read as raw `key=value` segments with their offsets, so that a rebuild replaces one
 * value and copies every other byte (other fields, their order, their own escaping) as the client wrote it.
 */

export interface FormField {
  /** Decoded name. */
  name: string;
  /** The value exactly as on the wire (still percent-encoded). */
  rawValue: string;
  /** Offsets of the raw value in the body. */
  start: number;
  end: number;
}

/** Split a urlencoded body into fields. Names are decoded leniently; values are left raw until someone needs one. */
export function parseForm(body: Buffer): FormField[] {
  // Form bodies are ASCII once percent-encoded; latin1 keeps one character per byte, so string offsets are byte offsets.
  const text = body.toString('latin1');
  const fields: FormField[] = [];
  let segmentStart = 0;
  while (segmentStart <= text.length) {
    let segmentEnd = text.indexOf('&', segmentStart);
    if (segmentEnd === -1) segmentEnd = text.length;
    if (segmentEnd > segmentStart) {
      const eq = text.indexOf('=', segmentStart);
      const nameEnd = eq === -1 || eq > segmentEnd ? segmentEnd : eq;
      const valueStart = nameEnd === segmentEnd ? segmentEnd : nameEnd + 1;
      fields.push({
        name: decodeLenient(text.slice(segmentStart, nameEnd)),
        rawValue: text.slice(valueStart, segmentEnd),
        start: valueStart,
        end: segmentEnd,
      });
    }
    segmentStart = segmentEnd + 1;
  }
  return fields;
}

/** The field of that name; `repeated` when it occurs more than once (which one the API reads is not documented). */
export function singleField(fields: readonly FormField[], name: string): FormField | 'repeated' | undefined {
  const found = fields.filter((field) => field.name === name);
  if (found.length > 1) return 'repeated';
  return found[0];
}

/**
 * A base64 value as it travels in a form: percent-decoded, but a raw `+` stays `+` rather than becoming a space. A
 * client that forgot to escape its base64 sends `+` raw; space is not in the base64 alphabet, so the only faithful
 * reading of it is the `+` it was. Throws BAD_REQUEST on a broken percent escape.
 */
export function decodeFormBase64(rawValue: string, field: string): string {
  try {
    return decodeURIComponent(rawValue);
  } catch {
    throw new ProxyError('BAD_REQUEST', 400, `Field ${field} has a broken percent escape`);
  }
}

/**
 * Percent-encode base64 the way the client encoded its own value, so the API reads the new value exactly as it read
 * the client's and the body does not grow on the wire (raw base64 re-escaped grows by about 1/16, issue 11 item 8).
 * Each of `+ / =` is escaped when the client escaped it and left raw when the client left it raw; a character the
 * client's value never contained follows the others' style; with no evidence at all, or where the client mixed both
 * spellings, it is escaped (the Baidu SDK's and Python's urlencode style, read the same by every form parser). The hex
 * digits keep the client's case.
 */
export function encodeFormValueLike(base64: string, clientRawValue: string): string {
  const style = new Map<string, boolean | undefined>();
  for (const [char, hex] of BASE64_SPECIALS) {
    const escaped = clientRawValue.toUpperCase().includes(`%${hex}`);
    const raw = clientRawValue.includes(char);
    style.set(char, escaped === raw ? (escaped ? true : undefined) : escaped);
  }
  const seen = [...style.values()].filter((v) => v !== undefined);
  const fallback = seen.length === 0 || seen.some((v) => v);
  const lower = /%(2b|2f|3d)/.test(clientRawValue) && !/%(2B|2F|3D)/.test(clientRawValue);
  return base64.replace(/[+/=]/g, (char) => {
    if (!(style.get(char) ?? fallback)) return char;
    const hex = BASE64_SPECIALS.get(char)!;
    return `%${lower ? hex.toLowerCase() : hex}`;
  });
}

const BASE64_SPECIALS = new Map([
  ['+', '2B'],
  ['/', '2F'],
  ['=', '3D'],
]);

/** The body with some values replaced (already encoded for the wire); every other byte copied. */
export function spliceForm(body: Buffer, replacements: ReadonlyMap<FormField, string>): Buffer {
  const ordered = [...replacements].sort(([a], [b]) => a.start - b.start);
  const pieces: Buffer[] = [];
  let copied = 0;
  for (const [field, encoded] of ordered) {
    pieces.push(body.subarray(copied, field.start), Buffer.from(encoded, 'latin1'));
    copied = field.end;
  }
  pieces.push(body.subarray(copied));
  return Buffer.concat(pieces);
}

function decodeLenient(raw: string): string {
  const spaced = raw.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced;
  }
}
