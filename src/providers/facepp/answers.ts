import { type Answer, emptyAnswer, type Face, type Label } from '../../answer.ts';
import { asNumber, isObject, type Json, parseJsonObject } from '../json.ts';
import { type AxisScale, scaleBox, scaleOf } from '../pixels.ts';
import type { AnsweredSlot, DecodedResponse } from '../types.ts';

/**
 * Face++'s answers -> one normalised answer per image slot. Boxes come in pixels of the image Face++ received and are
 * scaled into the client's pixels when the proxy sent another size. Compare lists each image's faces on its own
 * (`faces1` for image 1, `faces2` for image 2); the other operations answer about their one image.
 */
export function faceppAnswers(response: DecodedResponse, slots: readonly AnsweredSlot[]): (Answer | undefined)[] {
  if (response.status >= 400) return slots.map(() => undefined);
  const json = parseJsonObject(response.body);
  if (!json || json.error_message !== undefined) return slots.map(() => undefined);
  return slots.map((slot) => slotAnswer(json, slot));
}

/** The image number a compare slot carries (`image_file1`, `image_base64_2`, ...), or undefined for single images. */
const compareIndex = (field: string): '1' | '2' | undefined => (/[12]$/.exec(field)?.[0] as '1' | '2') ?? undefined;

/**
 * Read from the response shape rather than the operation (the same shapes recur across operations): `faces`
 * (detect, search), `faces1`/`faces2` (compare), `scenes` and `objects` as labels (confidence 0-100 -> 0..1, best
 * first), compare's `confidence` as the label `match`, recognizetext's text lines as text. Face++ gives a face no
 * confidence of its own, so each found face scores 1.
 */
function slotAnswer(json: Json, slot: AnsweredSlot): Answer {
  const answer = emptyAnswer();
  const index = compareIndex(slot.field);
  const scale = scaleOf(slot);
  const faceKey = index === undefined ? 'faces' : `faces${index}`;
  const faces = json[faceKey];
  if (Array.isArray(faces)) answer.faces = faces.flatMap((item) => faceOf(item, scale));
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

function faceOf(item: unknown, scale: AxisScale): Face[] {
  if (!isObject(item) || !isObject(item.face_rectangle)) return [];
  const { left, top, width, height } = item.face_rectangle;
  const box = { left: asNumber(left), top: asNumber(top), width: asNumber(width), height: asNumber(height) };
  if (box.left === undefined || box.top === undefined || box.width === undefined || box.height === undefined) return [];
  return [{ box: scaleBox({ left: box.left, top: box.top, width: box.width, height: box.height }, scale), score: 1 }];
}

function labelOf(item: unknown): Label[] {
  if (!isObject(item) || typeof item.value !== 'string') return [];
  const confidence = asNumber(item.confidence);
  return confidence === undefined ? [] : [{ name: item.value, score: confidence / 100 }];
}
