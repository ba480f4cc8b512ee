import { mapPixelFields, type PixelField } from '../answer-mapping.ts';
import type { AnsweredSlot } from '../types.ts';

/**
 * Where Face++ answers carry pixels of the uploaded image, per intercepted operation (FACEPP_OPERATIONS), from
 * Face++'s API documents (console.faceplusplus.com.cn/documents/<id>, transcribed field by field in the FacePlusPlus
 * SDKs). Face++ gives rectangles as integer pixels {top, left, width, height} and points as {x, y} pixels.
 *
 * Left as they are, because they are not pixels:
 *  - detect `attributes.eyegaze.*.position_{x,y}_coordinate`: documented only as "the X/Y coordinate of the eyeball
 *    centre", floats with 3 decimals; published answers show 0.37..0.71 for faces of every size, so they are
 *    normalised, not pixels (undocumented: relative to what).
 *  - facialfeatures `result.*` lengths: documented in millimetres ("距离单位为mm"), angles in degrees, ratios.
 *  - headpose angles, confidences, thresholds everywhere.
 * Cannot be mapped: facialfeatures `image_reset` (return_imagereset=1) is a JPEG the API makes from the uploaded
 * pixels; it comes at the size that was sent.
 */

const faceRectangle = (at: string): PixelField => ({ at, shape: 'box' });

/** Compare lists the faces of image 1 in `faces1`, of image 2 in `faces2`. */
const imageNumbered =
  (n: '1' | '2') =>
  (_path: unknown, slots: readonly AnsweredSlot[]): AnsweredSlot | undefined =>
    slots.find((slot) => slot.field.endsWith(n));

export const FACEPP_PIXEL_FIELDS: Readonly<Record<string, readonly PixelField[]>> = {
  // Detect (documents/4888373): face_rectangle; landmark = 83 (return_landmark=1) or 106 (=2) named points.
  'facepp/v3/detect': [faceRectangle('faces[].face_rectangle'), { at: 'faces[].landmark.*', shape: 'point' }],
  // Compare (documents/4887586): faces1/faces2 with face_rectangle, each in its own image's pixels. Compare has no
  // return_landmark, but its faces are detect's face objects: a landmark there would be mapped too.
  'facepp/v3/compare': (['1', '2'] as const).flatMap((n): PixelField[] => [
    { at: `faces${n}[].face_rectangle`, shape: 'box', image: imageNumbered(n) },
    { at: `faces${n}[].landmark.*`, shape: 'point', image: imageNumbered(n) },
  ]),
  // Search (documents/4888381): the faces found in the uploaded image (detect's face objects, as in compare);
  // `results` are faceset matches (no pixels).
  'facepp/v3/search': [faceRectangle('faces[].face_rectangle'), { at: 'faces[].landmark.*', shape: 'point' }],
  // Skin analysis (documents/119745378): face_rectangle.
  'facepp/v1/skinanalyze': [faceRectangle('face_rectangle')],
  // Skin analysis advanced: face_rectangle; acne, mole and skin_spot as arrays of rectangles.
  'facepp/v1/skinanalyze_advanced': [
    faceRectangle('face_rectangle'),
    { at: 'result.acne.rectangle[]', shape: 'box' },
    { at: 'result.mole.rectangle[]', shape: 'box' },
    { at: 'result.skin_spot.rectangle[]', shape: 'box' },
  ],
  // Facial features (documents/118131136): face_rectangle; denselandmark = parts (face, left_eye, ...) of named points.
  'facepp/v1/facialfeatures': [faceRectangle('face_rectangle'), { at: 'denselandmark.*.*', shape: 'point' }],
  // Body detect (documents/10071565): humanbody_rectangle.
  'humanbodypp/v1/detect': [faceRectangle('humanbodies[].humanbody_rectangle')],
  // Gesture (documents/10065649): hand_rectangle, "integers, pixel coordinates".
  'humanbodypp/v1/gesture': [faceRectangle('hands[].hand_rectangle')],
  // Skeleton (documents/37664576): body_rectangle and 14 named key points {x, y, score}. Whether the points are
  // relative to the image or to body_rectangle is not stated; both are pixel offsets, which scale the same way.
  'humanbodypp/v1/skeleton': [
    faceRectangle('skeletons[].body_rectangle'),
    { at: 'skeletons[].landmark.*', shape: 'point' },
  ],
  // Recognize text (documents/7776484): each text object has `position` (an array of points) and `child-objects`
  // (the same shape, nested: document > paragraph > textline > word > character).
  'imagepp/v1/recognizetext': [{ at: 'result[].**.position[]', shape: 'point' }],
  // Scene and object detection (documents/5671708): scenes and objects are {value, confidence}: no pixels.
  'imagepp/beta/detectsceneandobject': [],
  // License plate: `bound` = the plate's four corners (left_top, right_top, right_bottom, left_bottom) in pixels.
  'imagepp/v1/licenseplate': [{ at: 'results[].bound.*', shape: 'point' }],
};

/** The answer for the client with Face++'s pixel coordinates in its own pixels (answer-mapping.ts). */
export function faceppMapAnswer(body: Buffer, slots: readonly AnsweredSlot[]): Buffer | undefined {
  const operation = slots[0]?.operation.name;
  return mapPixelFields(body, slots, (operation && FACEPP_PIXEL_FIELDS[operation]) || []);
}
