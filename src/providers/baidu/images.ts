import { decodeBase64Strict } from '../base64.ts';
import { decodeFormBase64, encodeFormValue, parseForm, singleField, spliceForm } from '../form.ts';
import { isObject } from '../json.ts';
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
export function jsonImages(body: Buffer, operation: OperationSpec): FoundImages | undefined {
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
    if (bytes !== undefined) slots.push({ field: fieldOf(index), bytes, operation });
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
