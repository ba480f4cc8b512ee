import { decodeBase64Strict } from '../base64.ts';
import { decodeFormBase64, encodeFormValueLike, parseForm, singleField, spliceForm } from '../form.ts';
import { isObject } from '../json.ts';
import { base64AsJsonString, findStrings, type JsonStringSpan, pathKey, spliceStrings } from '../json-text.ts';
import { type ImageSlot, type OperationSpec, ProxyError } from '../types.ts';

/** Where Baidu images sit: the form field `image` (recognition, OCR) or JSON `image` objects (face). */

export interface FoundImages {
  slots: ImageSlot[];
  rebuildBody(replacements: ReadonlyMap<string, Buffer>): Buffer;
}

/** `image` wins over `url`; a form with only `url` (or a repeated `image`) passes through. */
export function formImages(body: Buffer, operation: OperationSpec): FoundImages | undefined {
  const field = singleField(parseForm(body), 'image');
  if (field === undefined || field === 'repeated') return undefined;
  const bytes = decodeImageBase64(decodeFormBase64(field.rawValue, 'image'), 'image');
  if (bytes === undefined) return undefined;
  return {
    slots: [{ field: 'image', bytes, operation }],
    rebuildBody(replacements) {
      const bytes = replacements.get('image');
      if (bytes === undefined) return body;
      return spliceForm(body, new Map([[field, encodeFormValueLike(bytes.toString('base64'), field.rawValue)]]));
    },
  };
}

/**
 * Only `image_type: "BASE64"` images are bytes; URL and FACE_TOKEN ones pass through. Match's array names its slots
 * `image[0]`, `image[1]`. The rebuild splices the new base64 into the client's JSON text (json-text.ts), so every
 * other byte, numbers and white space included, goes as the client wrote it. An `image` named twice in one object is
 * ambiguous: the request then goes as sent.
 */
export function jsonImages(body: Buffer, operation: OperationSpec): FoundImages | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new ProxyError('BAD_REQUEST', 400, 'Request body is not valid JSON');
  }
  const objects = Array.isArray(parsed) ? parsed : [parsed];
  const fieldOf = (index: number) => (Array.isArray(parsed) ? `image[${index}]` : 'image');
  const pathOf = (index: number) => (Array.isArray(parsed) ? [index, 'image'] : ['image']);
  const found = findStrings(
    body,
    objects.map((_, index) => pathOf(index)),
  );
  const slots: FoundImages['slots'] = [];
  const spans = new Map<string, JsonStringSpan>();
  for (const [index, item] of objects.entries()) {
    if (!isObject(item) || item.image_type !== 'BASE64' || typeof item.image !== 'string') continue;
    const at = found.get(pathKey(pathOf(index))) ?? [];
    if (at.length !== 1) return undefined;
    const bytes = decodeImageBase64(item.image, fieldOf(index));
    if (bytes === undefined) continue;
    slots.push({ field: fieldOf(index), bytes, operation });
    spans.set(fieldOf(index), at[0]!);
  }
  if (slots.length === 0) return undefined;
  return {
    slots,
    rebuildBody(replacements) {
      const texts = new Map<JsonStringSpan, string>();
      for (const [field, bytes] of replacements) {
        const span = spans.get(field);
        if (span) texts.set(span, base64AsJsonString(bytes.toString('base64'), body, span));
      }
      return spliceStrings(body, texts);
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
