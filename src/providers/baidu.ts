import { randomInt } from 'node:crypto';
import { type Answer, emptyAnswer, type Face, type Label } from '../answer.ts';
import { decodeBase64Strict } from './base64.ts';
import { decodeFormBase64, encodeFormValue, parseForm, singleField, spliceForm } from './form.ts';
import { forwardableHeaders, headerValue, pathOf } from './headers.ts';
import { asNumber, isObject, parseJsonObject } from './json.ts';
import {
  type BufferedRequest,
  type ErrorReply,
  type ExtractedRequest,
  type ImageLimits,
  type Provider,
  ProxyError,
  type RequestHead,
} from './types.ts';

/**
 * Baidu AI (aip.baidubce.com): image recognition and OCR take a urlencoded form with `image` (base64, then
 * URL-encoded); face takes JSON with `image` and `image_type`. Authentication is an access_token in the query (or a
 * bce-auth-v1 header that does not sign the body), so a rewritten body stays valid. See PROVIDERS.md.
 */

export interface BaiduOptions {
  /** Upstream origin, e.g. `https://aip.baidubce.com`. */
  origin: string;
  /** Largest body the proxy buffers for an image operation. */
  maxBodyBytes: number;
  /** Overrides of the default limits (BAIDU_LIMITS). */
  limits?: Partial<ImageLimits>;
}

const REST = '/rest/2.0/';

/** Urlencoded operations with the image in the form field `image` (`url` is the alternative the proxy leaves alone). */
export const BAIDU_FORM_OPERATIONS: readonly string[] = [
  'image-classify/v2/advanced_general',
  'image-classify/v1/object_detect',
  'image-classify/v1/animal',
  'image-classify/v1/plant',
  'image-classify/v1/car',
  'image-classify/v2/dish',
  'image-classify/v2/logo',
  'image-classify/v1/multi_object_detect',
  'ocr/v1/general_basic',
  'ocr/v1/accurate_basic',
  'ocr/v1/general',
  'ocr/v1/accurate',
  'ocr/v1/general_enhanced',
  'ocr/v1/webimage',
  'ocr/v1/handwriting',
  'ocr/v1/numbers',
];

/**
 * JSON operations: one `{image, image_type}` object, or for match an array of them. Decided by path alone: the
 * official Node SDK sends these JSON bodies labelled `application/x-www-form-urlencoded`.
 */
export const BAIDU_JSON_OPERATIONS: readonly string[] = [
  'face/v3/detect',
  'face/v3/search',
  'face/v3/multi-search',
  'face/v3/match',
];
const FORM_OPERATIONS = new Set(BAIDU_FORM_OPERATIONS);
const JSON_OPERATIONS = new Set(BAIDU_JSON_OPERATIONS);

const MB = 1024 * 1024;
/**
 * Baidu counts 4 MB of base64 *after URL-encoding*. Base64 grows bytes by 4/3; URL-encoding then turns each `+` and
 * `/` (2 of 64 symbols, so about 1/32 of compressed data's characters) into 3 characters: a factor of 1 + 2/32 =
 * 1.0625. 4 MiB / (4/3 * 1.0625) = 2,960,685 decoded bytes on average; 2% below that leaves room for unlucky data.
 * Face's JSON is not URL-encoded, so the same figure is a safe default there too.
 */
export const BAIDU_LIMITS: ImageLimits = {
  minSide: 15,
  maxSide: 4096,
  maxBytes: Math.floor(((4 * MB * 3) / 4 / 1.0625) * 0.98),
};

export function createBaiduProvider(options: BaiduOptions): Provider {
  const limits: ImageLimits = { ...BAIDU_LIMITS, ...options.limits };
  return {
    name: 'baidu',
    maxBodyBytes: options.maxBodyBytes,
    bufferAll: false,

    matches: (head: RequestHead) => {
      const path = pathOf(head.url);
      return path.startsWith(REST) || path.startsWith('/oauth/2.0/');
    },

    /** `/oauth/2.0/token` and every other route stream through untouched. */
    imageOperation(head: RequestHead): string | undefined {
      const path = pathOf(head.url);
      if (head.method !== 'POST' || !path.startsWith(REST)) return undefined;
      const operation = path.slice(REST.length).replace(/\/+$/, '');
      if (JSON_OPERATIONS.has(operation)) return operation;
      const mime = (headerValue(head.headers, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
      return FORM_OPERATIONS.has(operation) && mime === 'application/x-www-form-urlencoded' ? operation : undefined;
    },

    extract(request: BufferedRequest, operation: string): ExtractedRequest | undefined {
      const found = JSON_OPERATIONS.has(operation) ? jsonImages(request.body) : formImages(request.body);
      if (found === undefined) return undefined;
      return {
        operation,
        slots: found.slots,
        rebuild: (replacements) => ({
          method: request.method,
          url: request.url,
          headers: forwardableHeaders(request.headers),
          body: found.rebuildBody(replacements),
        }),
      };
    },

    limits: () => limits,

    answer: (_operation, status, body) => readAnswer(status, body),

    errorReply: baiduError,

    upstreamOrigin: () => options.origin,
  };
}

interface FoundImages {
  slots: { field: string; bytes: Buffer }[];
  rebuildBody(replacements: ReadonlyMap<string, Buffer>): Buffer;
}

/** `image` wins over `url`; a form with only `url` (or a repeated `image`) passes through. */
function formImages(body: Buffer): FoundImages | undefined {
  const field = singleField(parseForm(body), 'image');
  if (field === undefined || field === 'repeated') return undefined;
  const bytes = decodeImageBase64(decodeFormBase64(field.rawValue, 'image'), 'image');
  if (bytes === undefined) return undefined;
  return {
    slots: [{ field: 'image', bytes }],
    rebuildBody(replacements) {
      const bytes = replacements.get('image');
      if (bytes === undefined) return body;
      return spliceForm(body, new Map([[field, encodeFormValue(bytes.toString('base64'))]]));
    },
  };
}

/**
 * Only `image_type: "BASE64"` images are bytes; URL and FACE_TOKEN ones pass through. Match's array names its slots
 * `image[0]`, `image[1]`. The rebuild re-serialises with JSON.stringify: key order and every value are kept, but
 * insignificant white space is dropped and numbers are written in JavaScript's shortest form (Baidu's request
 * fields are strings and small integers, so nothing is lost in practice).
 */
function jsonImages(body: Buffer): FoundImages | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new ProxyError('BAD_REQUEST', 400, 'Request body is not valid JSON');
  }
  const objects = Array.isArray(parsed) ? parsed : [parsed];
  const fieldOf = (index: number) => (Array.isArray(parsed) ? `image[${index}]` : 'image');
  const slots: FoundImages['slots'] = [];
  objects.forEach((item, index) => {
    if (!isObject(item) || item.image_type !== 'BASE64' || typeof item.image !== 'string') return;
    const bytes = decodeImageBase64(item.image, fieldOf(index));
    if (bytes !== undefined) slots.push({ field: fieldOf(index), bytes });
  });
  if (slots.length === 0) return undefined;
  return {
    slots,
    rebuildBody(replacements) {
      const rebuilt = objects.map((item, index) => {
        const bytes = replacements.get(fieldOf(index));
        return bytes === undefined || !isObject(item) ? item : { ...item, image: bytes.toString('base64') };
      });
      return Buffer.from(JSON.stringify(Array.isArray(parsed) ? rebuilt : rebuilt[0]));
    },
  };
}

/**
 * Standard base64. Baidu asks clients to strip a `data:` URL prefix; one left in is the API's to refuse, so that
 * image passes through as sent. Anything else that is not base64 is a BAD_REQUEST.
 */
function decodeImageBase64(text: string, field: string): Buffer | undefined {
  if (/^\s*data:/i.test(text)) return undefined;
  const bytes = decodeBase64Strict(text);
  if (bytes === undefined) throw new ProxyError('BAD_REQUEST', 400, `${field} is not valid base64`);
  return bytes;
}

/**
 * The normalised answer, read from the response shape: `result[]` of `{keyword|name, score|probability}` (image
 * recognition; some endpoints send scores as strings) as labels, best first; `result.face_list[].location` as faces
 * scored by `face_probability` (the unrotated box: `rotation` is dropped); `result.user_list[]` (search) as labels
 * `user_id` with score/100; match's `result.score` as the label `match` (score/100); OCR `words_result[].words` as text.
 * Baidu reports errors in the body, often with HTTP 200: any non-zero `error_code` means no answer.
 */
function readAnswer(status: number, body: Buffer): Answer | undefined {
  if (status >= 400) return undefined;
  const json = parseJsonObject(body);
  if (!json) return undefined;
  if (json.error_code !== undefined && asNumber(json.error_code) !== 0) return undefined;
  const answer = emptyAnswer();
  const labels: Label[] = [];
  const { result } = json;
  if (Array.isArray(result)) labels.push(...result.flatMap(classLabel));
  if (isObject(result)) {
    if (Array.isArray(result.face_list)) answer.faces = result.face_list.flatMap(faceOf);
    if (Array.isArray(result.user_list)) labels.push(...result.user_list.flatMap(userLabel));
    const match = asNumber(result.score);
    if (match !== undefined) labels.push({ name: 'match', score: match / 100 });
  }
  answer.labels = labels.sort((a, b) => b.score - a.score);
  if (Array.isArray(json.words_result)) {
    const words = json.words_result.flatMap((item) =>
      isObject(item) && typeof item.words === 'string' ? [item.words] : [],
    );
    answer.text = words.join('\n');
  }
  return answer;
}

function classLabel(item: unknown): Label[] {
  if (!isObject(item)) return [];
  const name = typeof item.keyword === 'string' ? item.keyword : item.name;
  const score = asNumber(item.score ?? item.probability);
  return typeof name === 'string' && score !== undefined ? [{ name, score }] : [];
}

function userLabel(item: unknown): Label[] {
  if (!isObject(item) || typeof item.user_id !== 'string') return [];
  const score = asNumber(item.score);
  return score === undefined ? [] : [{ name: item.user_id, score: score / 100 }];
}

function faceOf(item: unknown): Face[] {
  if (!isObject(item) || !isObject(item.location)) return [];
  const left = asNumber(item.location.left);
  const top = asNumber(item.location.top);
  const width = asNumber(item.location.width);
  const height = asNumber(item.location.height);
  if (left === undefined || top === undefined || width === undefined || height === undefined) return [];
  return [{ box: { left, top, width, height }, score: asNumber(item.face_probability) ?? 1 }];
}

/**
 * Baidu's codes for the proxy's errors. Errors Baidu itself would give (bad parameter, image size, token) come as
 * Baidu sends them, in the body with HTTP 200, so clients' existing handling applies; the proxy's own transport
 * failures use 502/504 so that clients' and load balancers' retry logic, which looks at the status, sees them.
 */
const BAIDU_ERRORS: Record<ProxyError['code'], { status: number; code: number; message: string }> = {
  BAD_REQUEST: { status: 200, code: 100, message: 'Invalid parameter' },
  BODY_TOO_LARGE: { status: 200, code: 216202, message: 'image size error' },
  AUTH_FAILED: { status: 200, code: 110, message: 'Access token invalid or no longer valid' },
  AUTH_UNVERIFIABLE: { status: 200, code: 6, message: 'No permission to access data' },
  UPSTREAM_UNREACHABLE: { status: 502, code: 282000, message: 'internal error' },
  UPSTREAM_TIMEOUT: { status: 504, code: 282000, message: 'internal error' },
};

export function baiduError(error: ProxyError): ErrorReply {
  const { status, code, message } = BAIDU_ERRORS[error.code];
  return {
    status,
    headers: { 'content-type': 'application/json;charset=utf-8' },
    // log_id: a positive integer like Baidu's, kept below 2^53 so every JSON reader parses it exactly.
    body: JSON.stringify({ error_code: code, error_msg: message, log_id: randomInt(1, 2 ** 47) }),
  };
}
