import { randomUUID } from 'node:crypto';
import { type Answer, emptyAnswer, type Face, type Label } from '../answer.ts';
import { decodeBase64Strict } from './base64.ts';
import { decodeFormBase64, encodeFormValue, type FormField, parseForm, singleField, spliceForm } from './form.ts';
import { forwardableHeaders, headerValue, pathOf } from './headers.ts';
import { asNumber, isObject, type Json, parseJsonObject } from './json.ts';
import { boundaryOf, type MultipartPart, parseMultipart, spliceParts } from './multipart.ts';
import {
  type BufferedRequest,
  type ErrorReply,
  type ExtractedRequest,
  type ImageLimits,
  type ImageSlot,
  type Provider,
  ProxyError,
  type RequestHead,
} from './types.ts';

/**
 * Face++ (Megvii): multipart or urlencoded forms with the image in `image_file*` (binary part) or `image_base64*`,
 * credentials as plain form fields (nothing signed, so the body may be rewritten freely). See PROVIDERS.md.
 */

export interface FaceppOptions {
  /** Upstream origin, e.g. `https://api-us.faceplusplus.com`. */
  origin: string;
  /** Largest body the proxy buffers for an image operation. */
  maxBodyBytes: number;
  /** Overrides of the documented limits (FACEPP_LIMITS). */
  limits?: Partial<ImageLimits>;
}

/**
 * Operations that take an image by the documented field names, named by their path without the leading slash. Other
 * paths under the Face++ prefixes (faceset management, face/analyze by token) pass through; an allowlist also keeps
 * operation names, which become log fields and metric labels, a bounded set whatever paths clients send.
 */
export const FACEPP_OPERATIONS: readonly string[] = [
  'facepp/v3/detect',
  'facepp/v3/compare',
  'facepp/v3/search',
  'facepp/v1/skinanalyze',
  'facepp/v1/skinanalyze_advanced',
  'facepp/v1/facialfeatures',
  'facepp/v2/beautify',
  'humanbodypp/v1/detect',
  'humanbodypp/v1/segment',
  'humanbodypp/v2/segment',
  'humanbodypp/v1/gesture',
  'humanbodypp/v1/skeleton',
  'imagepp/v1/recognizetext',
  'imagepp/beta/detectsceneandobject',
  'imagepp/v1/licenseplate',
];
const OPERATIONS = new Set(FACEPP_OPERATIONS);
const PREFIXES = ['/facepp/', '/imagepp/', '/humanbodypp/'];

const MB = 1024 * 1024;
/** Face++ caps the whole request body at 2 MB (over it: a plain-text 413). */
export const FACEPP_BODY_LIMIT = 2 * MB;
/**
 * Default limits. Face++ counts 2 MB of *body*: a binary part may be nearly that, but base64 grows the image by 4/3.
 * `limits()` cannot know which encoding a request uses, so the default fits both: (2 MB - 16 KiB for the other
 * fields) * 3/4 = 1,560,576 decoded bytes. Override with `limits.maxBytes` for multipart-only clients.
 */
export const FACEPP_LIMITS: ImageLimits = {
  minSide: 48,
  maxSide: 4096,
  maxBytes: Math.floor(((FACEPP_BODY_LIMIT - 16 * 1024) * 3) / 4),
};

const MULTIPART = 'multipart/form-data';
const URLENCODED = 'application/x-www-form-urlencoded';

/** Where one image may sit: compare numbers its two images, the others have one unnumbered image. */
interface SlotFields {
  file: string;
  base64: string;
}
const SINGLE: readonly SlotFields[] = [{ file: 'image_file', base64: 'image_base64' }];
const PAIR: readonly SlotFields[] = [
  { file: 'image_file1', base64: 'image_base64_1' },
  { file: 'image_file2', base64: 'image_base64_2' },
];
const slotFieldsFor = (operation: string): readonly SlotFields[] => (operation.endsWith('/compare') ? PAIR : SINGLE);

export function createFaceppProvider(options: FaceppOptions): Provider {
  const limits: ImageLimits = { ...FACEPP_LIMITS, ...options.limits };
  return {
    name: 'facepp',
    maxBodyBytes: options.maxBodyBytes,
    bufferAll: false,

    matches: (head: RequestHead) => {
      const path = pathOf(head.url);
      return PREFIXES.some((prefix) => path.startsWith(prefix));
    },

    imageOperation(head: RequestHead): string | undefined {
      if (head.method !== 'POST') return undefined;
      const mime = mimeOf(head);
      if (mime !== MULTIPART && mime !== URLENCODED) return undefined;
      const operation = pathOf(head.url).replace(/^\/+|\/+$/g, '');
      return OPERATIONS.has(operation) ? operation : undefined;
    },

    extract(request: BufferedRequest, operation: string): ExtractedRequest | undefined {
      const mime = mimeOf(request);
      const fields = slotFieldsFor(operation);
      let found: FoundImages | undefined;
      if (mime === MULTIPART) {
        const boundary = boundaryOf(headerValue(request.headers, 'content-type') ?? '');
        if (boundary === undefined) throw badRequest('multipart Content-Type without a boundary');
        found = multipartImages(request.body, boundary, fields);
      } else if (mime === URLENCODED) {
        found = formImages(request.body, fields);
      }
      if (found === undefined || found.slots.length === 0) return undefined;
      const { slots, rebuildBody } = found;
      return {
        operation,
        slots,
        rebuild: (replacements) => ({
          method: request.method,
          url: request.url,
          headers: forwardableHeaders(request.headers),
          body: rebuildBody(replacements),
        }),
      };
    },

    limits: () => limits,

    answer: (_operation, status, body) => readAnswer(status, body),

    errorReply: faceppError,

    upstreamOrigin: () => options.origin,
  };
}

interface FoundImages {
  slots: ImageSlot[];
  rebuildBody(replacements: ReadonlyMap<string, Buffer>): Buffer;
}

/**
 * Per slot, the field the API would read: a binary part first, then base64; an `image_url*` is never fetched, so a
 * slot given only by URL has nothing to recompress. A repeated image field is ambiguous (which one Face++ reads is
 * undocumented): the whole request then passes through untouched.
 */
function multipartImages(body: Buffer, boundary: string, slotFields: readonly SlotFields[]): FoundImages | undefined {
  const { parts } = parseMultipart(body, boundary);
  const chosen = new Map<string, { part: MultipartPart; base64: boolean }>();
  const slots: ImageSlot[] = [];
  for (const { file, base64 } of slotFields) {
    const fileParts = parts.filter((part) => part.name === file);
    const base64Parts = parts.filter((part) => part.name === base64);
    if (fileParts.length > 1 || base64Parts.length > 1) return undefined;
    const filePart = fileParts[0];
    if (filePart !== undefined) {
      // An empty file part is what the API reads (and refuses): there is nothing to recompress in it.
      if (filePart.content.length === 0) continue;
      chosen.set(file, { part: filePart, base64: false });
      slots.push({ field: file, bytes: filePart.content });
      continue;
    }
    const base64Part = base64Parts[0];
    if (base64Part === undefined) continue;
    const bytes = decodeImageBase64(base64Part.content.toString('latin1'), base64);
    if (bytes === undefined) continue;
    chosen.set(base64, { part: base64Part, base64: true });
    slots.push({ field: base64, bytes });
  }
  return {
    slots,
    rebuildBody(replacements) {
      const contents = new Map<MultipartPart, Buffer>();
      for (const [field, bytes] of replacements) {
        const target = chosen.get(field);
        if (target === undefined) continue;
        contents.set(target.part, target.base64 ? Buffer.from(bytes.toString('base64'), 'latin1') : bytes);
      }
      return spliceParts(body, contents);
    },
  };
}

/** Urlencoded bodies can only carry base64 (there are no file parts); same precedence otherwise. */
function formImages(body: Buffer, slotFields: readonly SlotFields[]): FoundImages | undefined {
  const fields = parseForm(body);
  const chosen = new Map<string, FormField>();
  const slots: ImageSlot[] = [];
  for (const { base64 } of slotFields) {
    const field = singleField(fields, base64);
    if (field === 'repeated') return undefined;
    if (field === undefined) continue;
    const bytes = decodeImageBase64(decodeFormBase64(field.rawValue, base64), base64);
    if (bytes === undefined) continue;
    chosen.set(base64, field);
    slots.push({ field: base64, bytes });
  }
  return {
    slots,
    rebuildBody(replacements) {
      const values = new Map<FormField, string>();
      for (const [name, bytes] of replacements) {
        const field = chosen.get(name);
        if (field !== undefined) values.set(field, encodeFormValue(bytes.toString('base64')));
      }
      return spliceForm(body, values);
    },
  };
}

/**
 * Standard base64 (line breaks tolerated). A `data:` URL prefix is not documented by Face++: such a slot is left
 * exactly as sent and the API decides. Anything else that is not base64 is a BAD_REQUEST.
 */
function decodeImageBase64(text: string, field: string): Buffer | undefined {
  if (/^\s*data:/i.test(text)) return undefined;
  const bytes = decodeBase64Strict(text);
  if (bytes === undefined) throw badRequest(`${field} is not valid base64`);
  return bytes;
}

const mimeOf = (head: RequestHead): string =>
  (headerValue(head.headers, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();

const badRequest = (message: string): ProxyError => new ProxyError('BAD_REQUEST', 400, message);

/**
 * The normalised answer, read from the response shape rather than the operation (the same shapes recur across
 * operations): `faces` (detect, search), `faces1` then `faces2` (compare: each box in its own image's pixels);
 * `scenes` and `objects` as labels (confidence 0-100 -> 0..1, best first); compare's `confidence` as the label `match`;
 * recognizetext's text lines as text. Face++ gives a face no confidence of its own, so each found face scores 1.
 * Boxes are in pixels of the image Face++ received; scaling back to the client's image is the pipeline's job.
 */
function readAnswer(status: number, body: Buffer): Answer | undefined {
  if (status >= 400) return undefined;
  const json = parseJsonObject(body);
  if (!json || json.error_message !== undefined) return undefined;
  const answer = emptyAnswer();
  for (const key of ['faces', 'faces1', 'faces2']) {
    const faces = json[key];
    if (Array.isArray(faces)) answer.faces.push(...faces.flatMap(faceOf));
  }
  const labels: Label[] = [];
  for (const key of ['scenes', 'objects']) {
    const items = json[key];
    if (Array.isArray(items)) labels.push(...items.flatMap(labelOf));
  }
  const match = asNumber(json.confidence);
  if (match !== undefined) labels.push({ name: 'match', score: match / 100 });
  answer.labels = labels.sort((a, b) => b.score - a.score);
  if (Array.isArray(json.result)) {
    const lines = json.result.filter(
      (item): item is Json => isObject(item) && item.type === 'textline' && typeof item.value === 'string',
    );
    if (lines.length > 0) answer.text = lines.map((line) => line.value).join('\n');
  }
  return answer;
}

function faceOf(item: unknown): Face[] {
  if (!isObject(item) || !isObject(item.face_rectangle)) return [];
  const { left, top, width, height } = item.face_rectangle;
  const box = { left: asNumber(left), top: asNumber(top), width: asNumber(width), height: asNumber(height) };
  if (box.left === undefined || box.top === undefined || box.width === undefined || box.height === undefined) return [];
  return [{ box: { left: box.left, top: box.top, width: box.width, height: box.height }, score: 1 }];
}

function labelOf(item: unknown): Label[] {
  if (!isObject(item) || typeof item.value !== 'string') return [];
  const confidence = asNumber(item.confidence);
  return confidence === undefined ? [] : [{ name: item.value, score: confidence / 100 }];
}

/** Face++'s own error codes for the proxy's errors, with the status Face++ pairs them with. */
const FACEPP_ERRORS: Record<ProxyError['code'], { status: number; message: string }> = {
  BAD_REQUEST: { status: 400, message: 'BAD_ARGUMENTS' },
  BODY_TOO_LARGE: { status: 413, message: 'Request Entity Too Large' },
  AUTH_FAILED: { status: 401, message: 'AUTHENTICATION_ERROR' },
  AUTH_UNVERIFIABLE: { status: 403, message: 'AUTHORIZATION_ERROR' },
  UPSTREAM_UNREACHABLE: { status: 502, message: 'INTERNAL_ERROR' },
  UPSTREAM_TIMEOUT: { status: 504, message: 'INTERNAL_ERROR' },
};

/**
 * The proxy's errors in Face++'s shape. A too-large body is answered as Face++ does, in plain text. Only the proxy's
 * own message text goes out (it names a field at most), never anything from the upstream.
 */
export function faceppError(error: ProxyError): ErrorReply {
  const { status, message } = FACEPP_ERRORS[error.code];
  if (error.code === 'BODY_TOO_LARGE') {
    return { status, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: message };
  }
  const detail = error.code === 'BAD_REQUEST' ? `${message}: ${error.message}` : message;
  return {
    status,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      time_used: 0,
      error_message: detail,
      request_id: `${Math.floor(Date.now() / 1000)},${randomUUID()}`,
    }),
  };
}
