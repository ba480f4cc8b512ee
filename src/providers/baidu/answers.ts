import { type Answer, emptyAnswer, type Face, type Label } from '../../answer.ts';
import { asNumber, isObject, parseJsonObject } from '../json.ts';
import { type AxisScale, scaleBox, scaleOf } from '../pixels.ts';
import type { AnsweredSlot, DecodedResponse } from '../types.ts';

/**
 * Baidu's answers -> one normalised answer per image slot. Every slot of a request gets the request's answer (match
 * compares its images into one score), with pixel boxes scaled into that slot's client image.
 */
export function baiduAnswers(response: DecodedResponse, slots: readonly AnsweredSlot[]): (Answer | undefined)[] {
  return slots.map((slot) => readAnswer(response.status, response.body, scaleOf(slot)));
}

/**
 * The normalised answer, read from the response shape: `result[]` of `{keyword|name, score|probability}` (image
 * recognition; some endpoints send scores as strings) as labels, best first; `result.face_list[].location` as faces
 * scored by `face_probability` (the unrotated box: `rotation` is dropped); `result.user_list[]` (search) as labels
 * `user_id` with score/100; match's `result.score` as the label `match` (score/100); OCR `words_result[].words` as text.
 * Baidu reports errors in the body, often with HTTP 200: any non-zero `error_code` means no answer.
 */
function readAnswer(status: number, body: Buffer, scale: AxisScale): Answer | undefined {
  if (status >= 400) return undefined;
  const json = parseJsonObject(body);
  if (!json) return undefined;
  if (json.error_code !== undefined && asNumber(json.error_code) !== 0) return undefined;
  const answer = emptyAnswer();
  const labels: Label[] = [];
  const { result } = json;
  if (Array.isArray(result)) labels.push(...result.flatMap(classLabel));
  if (isObject(result)) {
    if (Array.isArray(result.face_list)) answer.faces = result.face_list.flatMap((item) => faceOf(item, scale));
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

function faceOf(item: unknown, scale: AxisScale): Face[] {
  if (!isObject(item) || !isObject(item.location)) return [];
  const left = asNumber(item.location.left);
  const top = asNumber(item.location.top);
  const width = asNumber(item.location.width);
  const height = asNumber(item.location.height);
  if (left === undefined || top === undefined || width === undefined || height === undefined) return [];
  return [{ box: scaleBox({ left, top, width, height }, scale), score: asNumber(item.face_probability) ?? 1 }];
}
