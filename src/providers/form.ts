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
 * Percent-encode base64 the way the Baidu SDK (request + qs, RFC 3986) and Python's urlencode do: `+`, `/` and `=`
 * escaped. The result decodes to the same text under every form parser, whatever the client's own style was.
 */
export const encodeFormValue = (value: string): string => encodeURIComponent(value);

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
