import { decodeBase64Strict } from '../base64.ts';
import { decodeFormBase64, encodeFormValueLike, type FormField, parseForm, singleField, spliceForm } from '../form.ts';
import { type MultipartPart, parseMultipart, spliceParts } from '../multipart.ts';
import { type ImageSlot, type OperationSpec, ProxyError } from '../types.ts';

/**
 * Where Face++ images sit in a request and how to put other bytes in their place: multipart parts (binary
 * `image_file*` or text `image_base64*`) or urlencoded `image_base64*` fields. Every other byte stays as sent.
 */

/** Where one image may sit: compare numbers its two images, the others have one unnumbered image. */
export interface SlotFields {
  file: string;
  base64: string;
}
const SINGLE: readonly SlotFields[] = [{ file: 'image_file', base64: 'image_base64' }];
const PAIR: readonly SlotFields[] = [
  { file: 'image_file1', base64: 'image_base64_1' },
  { file: 'image_file2', base64: 'image_base64_2' },
];
export const slotFieldsFor = (operation: string): readonly SlotFields[] =>
  operation.endsWith('/compare') ? PAIR : SINGLE;

export interface FoundImages {
  slots: ImageSlot[];
  /** Names of every field of the request (to see what else in it refers to the images' pixels). */
  fieldNames: ReadonlySet<string>;
  rebuildBody(replacements: ReadonlyMap<string, Buffer>): Buffer;
}

/**
 * Per slot, the field the API would read: a binary part first, then base64; an `image_url*` is never fetched, so a
 * slot given only by URL has nothing to recompress. A repeated image field is ambiguous (which one Face++ reads is
 * undocumented): the whole request then passes through untouched.
 */
export function multipartImages(
  body: Buffer,
  boundary: string,
  slotFields: readonly SlotFields[],
  operation: OperationSpec,
): FoundImages | undefined {
  const { parts } = parseMultipart(body, boundary);
  const fieldNames = new Set(parts.map((part) => part.name));
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
      slots.push({ field: file, bytes: filePart.content, operation });
      continue;
    }
    const base64Part = base64Parts[0];
    if (base64Part === undefined) continue;
    const bytes = decodeImageBase64(base64Part.content.toString('latin1'), base64);
    if (bytes === undefined) continue;
    chosen.set(base64, { part: base64Part, base64: true });
    slots.push({ field: base64, bytes, operation });
  }
  return {
    slots,
    fieldNames,
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
export function formImages(
  body: Buffer,
  slotFields: readonly SlotFields[],
  operation: OperationSpec,
): FoundImages | undefined {
  const fields = parseForm(body);
  const fieldNames = new Set(fields.map((field) => field.name));
  const chosen = new Map<string, FormField>();
  const slots: ImageSlot[] = [];
  for (const { base64 } of slotFields) {
    const field = singleField(fields, base64);
    if (field === 'repeated') return undefined;
    if (field === undefined) continue;
    const bytes = decodeImageBase64(decodeFormBase64(field.rawValue, base64), base64);
    if (bytes === undefined) continue;
    chosen.set(base64, field);
    slots.push({ field: base64, bytes, operation });
  }
  return {
    slots,
    fieldNames,
    rebuildBody(replacements) {
      const values = new Map<FormField, string>();
      for (const [name, bytes] of replacements) {
        const field = chosen.get(name);
        if (field !== undefined) values.set(field, encodeFormValueLike(bytes.toString('base64'), field.rawValue));
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

export const badRequest = (message: string): ProxyError => new ProxyError('BAD_REQUEST', 400, message);
