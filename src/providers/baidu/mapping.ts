import { mapPixelFields, type PixelField } from '../answer-mapping.ts';
import type { PathSegment } from '../json-tokens.ts';
import type { AnsweredSlot } from '../types.ts';

/**
 * Where Baidu answers carry pixels of the uploaded image, per intercepted operation (index.ts), from Baidu AI's API
 * documents (ai.baidu.com/ai-doc/<id>, the ids below). Boxes are {left, top, width, height} (integers or decimals,
 * which the rewrite keeps); points are {x, y}.
 *
 * Each family of operations shares one list: a field an operation does not return changes nothing, and the documented
 * fields differ by optional parameters (OCR `recognize_granularity=small` adds `chars`, `vertexes_location=true` the
 * polygons), so the family list is the safe superset. Left as they are: face `location.rotation` and `angle` (degrees),
 * OCR `direction` (0..3), probabilities and scores.
 */

const box = (at: string): PixelField => ({ at, shape: 'box' });
const points = (at: string): PixelField => ({ at, shape: 'point' });

/**
 * Image recognition. object_detect (IMAGERECOGNITION/Xk3bcxdum): `result` is the one box. multi_object_detect
 * (IMAGERECOGNITION/Wk7em3moi): `result[].location`. logo: `result[].location`. car (VEHICLE/fk3hb3h4o):
 * `location_result`. advanced_general, animal, plant and dish return names and scores only.
 */
const CLASSIFY: readonly PixelField[] = [box('result'), box('result[].location'), box('location_result')];

/**
 * OCR. general (OCR/vk3h7y58v), accurate, handwriting and numbers: `words_result[].location` per line, with
 * `chars[].location` per character when asked; general and accurate add `vertexes_location` (the line's polygon),
 * accurate also `finegrained_vertexes_location` and `min_finegrained_vertexes_location`. general_basic, accurate_basic,
 * general_enhanced and webimage return words only.
 */
const OCR: readonly PixelField[] = [
  box('words_result[].location'),
  box('words_result[].chars[].location'),
  points('words_result[].vertexes_location[]'),
  points('words_result[].finegrained_vertexes_location[]'),
  points('words_result[].min_finegrained_vertexes_location[]'),
];

/**
 * Face v3. detect: `result.face_list[].location`, and as asked by face_field `landmark` (4 points), `landmark72`
 * (72 points) and `landmark150` (150 named points). multi-search: `result.face_list[].location` of each face found.
 * search returns the searched face's token and users only; match returns tokens only (its face_list follows the
 * request's images, so a box there would be in the pixels of the image at the same index).
 */
const faceFields = (image?: PixelField['image']): PixelField[] =>
  ['location', 'landmark[]', 'landmark72[]', 'landmark150.*'].map((at, i) => ({
    at: `result.face_list[].${at}`,
    shape: i === 0 ? 'box' : 'point',
    ...(image ? { image } : {}),
  }));

/** Match names its images `image[0]`, `image[1]` (images.ts); `result.face_list[i]` is about image i. */
const sameIndexImage = (path: readonly PathSegment[], slots: readonly AnsweredSlot[]): AnsweredSlot | undefined => {
  const index = path.find((segment) => typeof segment === 'number');
  return slots.find((slot) => slot.field === `image[${index}]`);
};

const FAMILY: readonly [prefix: string, fields: readonly PixelField[]][] = [
  ['image-classify/', CLASSIFY],
  ['ocr/', OCR],
  ['face/v3/match', faceFields(sameIndexImage)],
  ['face/', faceFields()],
];

/** The pixel fields of one operation's answer. */
export const baiduPixelFields = (operation: string): readonly PixelField[] =>
  FAMILY.find(([prefix]) => operation.startsWith(prefix))?.[1] ?? [];

/** The answer for the client with Baidu's pixel coordinates in its own pixels (answer-mapping.ts). */
export function baiduMapAnswer(body: Buffer, slots: readonly AnsweredSlot[]): Buffer | undefined {
  const operation = slots[0]?.operation.name;
  return mapPixelFields(body, slots, operation ? baiduPixelFields(operation) : []);
}
