import { ProxyError } from './types.ts';

/**
 * A multipart/form-data reader that keeps every byte where it was. Off-the-shelf parsers (busboy) stream parts out and
 * forget the framing; the proxy must instead send back everything but the replaced images byte-identical: the same
 * boundary, preamble, part headers (names, file names, content types, their spelling and order) and epilogue. So parts
 * are recorded as offsets into the original body and a rebuild splices new content into those ranges only.
 */

export interface MultipartPart {
  /** `name` of the Content-Disposition header; empty when the part has none. */
  name: string;
  filename?: string;
  contentType?: string;
  /** The part's content (a view into the original body, not a copy). */
  content: Buffer;
  /** Offsets of `content` in the original body. */
  start: number;
  end: number;
}

export interface MultipartBody {
  boundary: string;
  parts: MultipartPart[];
}

const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');

const malformed = (why: string): ProxyError => new ProxyError('BAD_REQUEST', 400, `Malformed multipart body: ${why}`);

/** The boundary parameter of a multipart Content-Type (RFC 2046 5.1.1: 1..70 characters, may be quoted). */
export function boundaryOf(contentType: string): string | undefined {
  const match = /;\s*boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundary = match?.[1] ?? match?.[2];
  return boundary !== undefined && boundary.length <= 70 ? boundary : undefined;
}

/** Parse a whole multipart body. Throws ProxyError('BAD_REQUEST') when the framing is broken or unterminated. */
export function parseMultipart(body: Buffer, boundary: string): MultipartBody {
  const delimiter = Buffer.from(`--${boundary}`, 'latin1');
  const nextDelimiter = Buffer.concat([CRLF, delimiter]);

  // The first delimiter may open the body or follow a preamble (which then ends with CRLF).
  let at = body.subarray(0, delimiter.length).equals(delimiter) ? 0 : body.indexOf(nextDelimiter);
  if (at === -1) throw malformed('no boundary found');
  if (at > 0) at += CRLF.length;

  const parts: MultipartPart[] = [];
  for (;;) {
    let cursor = at + delimiter.length;
    if (body[cursor] === 0x2d && body[cursor + 1] === 0x2d) break; // `--`: the close delimiter, epilogue follows
    while (body[cursor] === 0x20 || body[cursor] === 0x09) cursor++; // transport padding
    if (body[cursor] !== 0x0d || body[cursor + 1] !== 0x0a) throw malformed('boundary line not ended by CRLF');
    const partStart = cursor + CRLF.length;
    const partEnd = body.indexOf(nextDelimiter, partStart);
    if (partEnd === -1) throw malformed('missing close delimiter');

    // A part with no headers starts straight with the blank line.
    let contentStart: number;
    let headerText: string;
    if (body[partStart] === 0x0d && body[partStart + 1] === 0x0a) {
      headerText = '';
      contentStart = partStart + CRLF.length;
    } else {
      const headerEnd = body.indexOf(HEADER_END, partStart);
      if (headerEnd === -1 || headerEnd >= partEnd) throw malformed('part headers not terminated');
      headerText = body.toString('utf8', partStart, headerEnd);
      contentStart = headerEnd + HEADER_END.length;
    }
    parts.push({
      ...describePart(headerText),
      content: body.subarray(contentStart, partEnd),
      start: contentStart,
      end: partEnd,
    });
    at = partEnd + CRLF.length;
  }
  return { boundary, parts };
}

/** The original body with the content of some parts replaced; every other byte is copied as it was. */
export function spliceParts(body: Buffer, replacements: ReadonlyMap<MultipartPart, Buffer>): Buffer {
  const ordered = [...replacements].sort(([a], [b]) => a.start - b.start);
  const pieces: Buffer[] = [];
  let copied = 0;
  for (const [part, content] of ordered) {
    pieces.push(body.subarray(copied, part.start), content);
    copied = part.end;
  }
  pieces.push(body.subarray(copied));
  return Buffer.concat(pieces);
}

function describePart(headerText: string): { name: string; filename?: string; contentType?: string } {
  const headers = new Map<string, string>();
  // Obsolete line folding (RFC 5322): a line starting with white space continues the previous header.
  const lines = headerText === '' ? [] : headerText.replace(/\r\n(?=[ \t])/g, '').split('\r\n');
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw malformed(`bad part header line ${JSON.stringify(line.slice(0, 40))}`);
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  const disposition = headers.get('content-disposition');
  const params = disposition === undefined ? new Map<string, string>() : dispositionParams(disposition);
  const description: { name: string; filename?: string; contentType?: string } = { name: params.get('name') ?? '' };
  const filename = params.get('filename');
  if (filename !== undefined) description.filename = filename;
  const contentType = headers.get('content-type');
  if (contentType !== undefined) description.contentType = contentType;
  return description;
}

/** `form-data; name="a"; filename="b"`: quoted strings may hold `;` and backslash escapes (as curl writes them). */
function dispositionParams(value: string): Map<string, string> {
  const params = new Map<string, string>();
  const param = /;\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/g;
  for (const match of value.matchAll(param)) {
    const key = match[1]!.toLowerCase();
    const raw = match[2] !== undefined ? match[2].replace(/\\(.)/g, '$1') : match[3]!.trim();
    if (!params.has(key)) params.set(key, raw);
  }
  return params;
}
