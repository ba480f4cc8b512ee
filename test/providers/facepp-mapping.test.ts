import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mapPixelFields } from '../../src/providers/answer-mapping.ts';
import { facepp } from '../../src/providers/facepp/index.ts';
import { FACEPP_PIXEL_FIELDS } from '../../src/providers/facepp/mapping.ts';
import type { AnsweredSlot } from '../../src/providers/types.ts';
import {
  answeredSlot,
  asSent,
  CLIENT_A,
  CLIENT_B,
  inClientPixels,
  type Px,
  SENT_A,
  SENT_B,
  scaleBetween,
} from '../helpers/pixel-answers.ts';
import { testProvider } from '../helpers/providers.ts';

/**
 * One documented answer per intercepted Face++ operation (shapes from Face++'s API documents), every pixel field in
 * it written through `p` (image 1) or `q` (image 2 of compare); every other number is written as is and must come
 * back unchanged. Compare and search document no landmarks; theirs here are the superset the mapping covers anyway.
 */
const ANSWERS: Record<string, (p: Px, q: Px) => string> = {
  'facepp/v3/detect': (p) =>
    `{\n\t"image_id": "Dd2xUw9S/7yjr0oDHHSL/Q==",\n\t"request_id": "1470472868,dacf2ff1-ea45-4842-9c07-6e8418cea78b",\n\t"time_used": 752,\n\t"faces": [{\n\t\t"landmark": {\n\t\t\t"mouth_upper_lip_left_contour2": {\n\t\t\t\t"y": ${p.y(185)},\n\t\t\t\t"x": ${p.x(146)}\n\t\t\t},\n\t\t\t"contour_chin": {"y": ${p.y(231)}, "x": ${p.x(137)}},\n\t\t\t"nose_bridge1": {"y": ${p.y(120)}, "x": ${p.x(150)}}\n\t\t},\n\t\t"attributes": {\n\t\t\t"headpose": {"yaw_angle": -26.625063, "pitch_angle": 12.921974, "roll_angle": 22.814377},\n\t\t\t"smile": {"threshold": 30.1, "value": 2.566890001296997},\n\t\t\t"eyegaze": {"right_eye_gaze": {"position_x_coordinate": 0.496, "position_y_coordinate": 0.428, "vector_x_component": 0.039, "vector_y_component": -0.109, "vector_z_component": 0.993}}\n\t\t},\n\t\t"face_rectangle": {\n\t\t\t"width": ${p.x(140)},\n\t\t\t"top": ${p.y(89)},\n\t\t\t"left": ${p.x(104)},\n\t\t\t"height": ${p.y(141)}\n\t\t},\n\t\t"face_token": "ed319e807e039ae669a4d1af0922a0c8"\n\t}]\n}`,
  'facepp/v3/compare': (p, q) =>
    `{"time_used":473,"confidence":96.46,"thresholds":{"1e-3":65.3,"1e-5":76.5,"1e-4":71.8},"request_id":"1469761507,07174361-027c-46e1-811f-ba0909760b18","image_id1":"A","image_id2":"B","faces1":[{"face_rectangle":{"width":${p.x(140)},"top":${p.y(89)},"left":${p.x(104)},"height":${p.y(141)}},"face_token":"t1","landmark":{"nose_tip":{"x":${p.x(170)},"y":${p.y(150)}}}}],"faces2":[{"face_rectangle":{"width":${q.x(200)},"top":${q.y(300)},"left":${q.x(17)},"height":${q.y(210)}},"face_token":"t2"},{"face_rectangle":{"width":${q.x(50)},"top":${q.y(5)},"left":${q.x(400)},"height":${q.y(51)}},"face_token":"t3","landmark":{"nose_tip":{"x":${q.x(425)},"y":${q.y(30)}}}}]}`,
  'facepp/v3/search': (p) =>
    `{"request_id":"r","time_used":12,"thresholds":{"1e-3":62.327,"1e-5":73.975,"1e-4":69.101},"faces":[{"face_rectangle":{"width":${p.x(285)},"top":${p.y(49)},"left":${p.x(104)},"height":${p.y(285)}},"face_token":"7f","landmark":{"contour_chin":{"y":${p.y(300)},"x":${p.x(240)}}}}],"results":[{"confidence":96.46,"user_id":"234723432","face_token":"4ca"}],"image_id":"i"}`,
  'facepp/v1/skinanalyze': (p) =>
    `{"request_id":"r","time_used":100,"face_rectangle":{"top":${p.y(200)},"left":${p.x(150)},"width":${p.x(180)},"height":${p.y(181)}},"warning":[],"result":{"left_eyelids":{"value":1,"confidence":0.98},"eye_pouch":{"value":0,"confidence":0.91},"skin_type":{"skin_type":1,"details":{"0":{"value":0,"confidence":0.1},"1":{"value":1,"confidence":0.9}}},"acne":{"value":1,"confidence":0.7}}}`,
  'facepp/v1/skinanalyze_advanced': (p) =>
    `{"request_id":"r","time_used":300,"face_rectangle":{"top":${p.y(200)},"left":${p.x(150)},"width":${p.x(180)},"height":${p.y(181)}},"warning":["improper_headpose"],"result":{"skin_color":{"value":2,"confidence":0.8},"skin_age":{"value":27},"blackhead":{"value":1,"confidence":0.6},"acne":{"rectangle":[{"left":${p.x(210)},"top":${p.y(300)},"width":${p.x(6)},"height":${p.y(7)}},{"left":${p.x(230)},"top":${p.y(310)},"width":${p.x(5)},"height":${p.y(5)}}]},"mole":{"rectangle":[{"left":${p.x(190)},"top":${p.y(260)},"width":${p.x(4)},"height":${p.y(4)}}]},"skin_spot":{"rectangle":[{"left":${p.x(250)},"top":${p.y(250)},"width":${p.x(8)},"height":${p.y(9)}}]}}}`,
  'facepp/v1/facialfeatures': (p) =>
    `{"request_id":"r","time_used":800,"image_id":"i","face_rectangle":{"top":${p.y(120)},"left":${p.x(90)},"width":${p.x(160)},"height":${p.y(161)}},"headpose":{"pitch_angle":1.5,"roll_angle":-2.25,"yaw_angle":3.0},"denselandmark":{"face":{"face_hairline_0":{"x":${p.x(100)},"y":${p.y(130)}},"face_contour_right_0":{"x":${p.x(170)},"y":${p.y(280)}}},"left_eye":{"left_eye_0":{"x":${p.x(200)},"y":${p.y(180)}}}},"result":{"three_parts":{"parts_ratio":"1:1.05:0.98","one_part":{"faceup_length":55.12,"faceup_ratio":0.33,"faceup_result":"faceup_normal"}},"five_eyes":{"eyes_ratio":"1:1:1","righteye":30.5},"golden_triangle":72.31,"face":{"tempus_length":120.3,"zygoma_length":130.1,"face_length":180.77,"mandible_length":110.4,"E":120.5,"ABD_ratio":"0.9:1:0.85","face_type":"oval_face"},"jaw":{"jaw_width":40.2,"jaw_length":30.1,"jaw_angle":130.5,"jaw_type":"flat_jaw"},"eyes":{"eye_width":30.2,"eye_height":12.1,"angulus_oculi_medialis":50.3,"eyes_type":"round_eyes"}}}`,
  'humanbodypp/v1/detect': (p) =>
    `{"request_id":"r","time_used":50,"image_id":"i","humanbodies":[{"confidence":99.1,"humanbody_rectangle":{"top":${p.y(10)},"left":${p.x(20)},"width":${p.x(120)},"height":${p.y(200)}},"attributes":{"gender":{"male":80.5,"female":19.5},"upper_body_cloth":{"upper_body_cloth_color":"red","upper_body_cloth_color_rgb":{"r":200,"g":10,"b":20}}}}]}`,
  'humanbodypp/v1/gesture': (p) =>
    `{"request_id":"r","time_used":40,"image_id":"i","hands":[{"hand_rectangle":{"top":${p.y(100)},"left":${p.x(60)},"width":${p.x(80)},"height":${p.y(90)}},"gesture":{"unknown":0.1,"heart_a":0.2,"ok":95.5,"fist":4.2}}]}`,
  'humanbodypp/v1/skeleton': (p) =>
    `{"request_id":"r","time_used":70,"image_id":"i","skeletons":[{"body_rectangle":{"top":${p.y(5)},"left":${p.x(40)},"width":${p.x(150)},"height":${p.y(201)}},"landmark":{"head":{"x":${p.x(75)},"y":${p.y(12)},"score":0.95},"neck":{"x":${p.x(74)},"y":${p.y(40)},"score":0.9},"left_foot":{"x":${p.x(60)},"y":${p.y(195)},"score":0.42}}}]}`,
  'imagepp/v1/recognizetext': (p) =>
    `{"request_id":"r","time_used":90,"result":[{"type":"textline","value":"Hello 你好","position":[{"x":${p.x(10)},"y":${p.y(20)}},{"x":${p.x(110)},"y":${p.y(20)}},{"x":${p.x(110)},"y":${p.y(40)}},{"x":${p.x(10)},"y":${p.y(40)}}],"child-objects":[{"type":"word","value":"Hello","position":[{"x":${p.x(10)},"y":${p.y(20)}},{"x":${p.x(60)},"y":${p.y(41)}}],"child-objects":[{"type":"character","value":"H","position":[{"x":${p.x(11)},"y":${p.y(21)}}],"child-objects":[]}]}]}]}`,
  'imagepp/beta/detectsceneandobject': () =>
    '{"scenes":[{"value":"beach","confidence":95.331}],"objects":[{"value":"dog","confidence":88.5}],"image_id":"i","request_id":"r","time_used":200}',
  'imagepp/v1/licenseplate': (p) =>
    `{"request_id":"r","time_used":60,"image_id":"i","results":[{"license_plate_number":"京A12345","color":0,"bound":{"left_top":{"x":${p.x(100)},"y":${p.y(150)}},"right_top":{"x":${p.x(200)},"y":${p.y(152)}},"right_bottom":{"x":${p.x(201)},"y":${p.y(190)}},"left_bottom":{"x":${p.x(99)},"y":${p.y(188)}}}}]}`,
};

const provider = testProvider(facepp);
const slotsFor = (operation: string): AnsweredSlot[] => {
  const spec = provider.op(operation);
  return operation.endsWith('/compare')
    ? [answeredSlot('image_file1', spec, CLIENT_A, SENT_A), answeredSlot('image_base64_2', spec, CLIENT_B, SENT_B)]
    : [answeredSlot('image_file', spec, CLIENT_A, SENT_A)];
};
const P = inClientPixels(scaleBetween(CLIENT_A, SENT_A));
const Q = inClientPixels(scaleBetween(CLIENT_B, SENT_B));

describe('Face++ answers reach the client in its own pixels, for every intercepted operation', () => {
  test('every intercepted operation has a documented sample here and a field list there', () => {
    const names = facepp.operations.map((o) => o.name).sort();
    assert.deepEqual(Object.keys(ANSWERS).sort(), names);
    assert.deepEqual(Object.keys(FACEPP_PIXEL_FIELDS).sort(), names);
  });

  for (const [operation, answer] of Object.entries(ANSWERS)) {
    test(`${operation}: every pixel number scaled per axis, every other byte as sent`, () => {
      const sent = answer(asSent, asSent);
      const expected = answer(P, Q);
      const mapped = provider.mapAnswer!(Buffer.from(sent), slotsFor(operation));
      if (sent === expected) {
        assert.equal(FACEPP_PIXEL_FIELDS[operation]!.length, 0, 'an answer without pixels has no fields listed');
        assert.equal(mapped, undefined, 'nothing to rewrite');
      } else {
        assert.equal(mapped?.toString(), expected);
      }
    });
  }

  test('each listed field is exercised by its sample (no field goes untested)', () => {
    for (const [operation, fields] of Object.entries(FACEPP_PIXEL_FIELDS)) {
      const sent = Buffer.from(ANSWERS[operation]!(asSent, asSent));
      for (const field of fields) {
        assert.ok(mapPixelFields(sent, slotsFor(operation), [field]), `${operation}: ${field.at} found in the sample`);
      }
    }
  });

  test('compare: each image its own factors, whichever of the two was resized', () => {
    const spec = provider.op('facepp/v3/compare');
    const sent = ANSWERS['facepp/v3/compare']!(asSent, asSent);
    const onlySecond = [
      answeredSlot('image_file1', spec, CLIENT_A, CLIENT_A),
      answeredSlot('image_file2', spec, CLIENT_B, SENT_B),
    ];
    assert.equal(
      provider.mapAnswer!(Buffer.from(sent), onlySecond)?.toString(),
      ANSWERS['facepp/v3/compare']!(asSent, Q),
    );
    // Image 1 given by URL (no slot): faces1 stays as the API wrote it.
    const urlFirst = [answeredSlot('image_file2', spec, CLIENT_B, SENT_B)];
    assert.equal(
      provider.mapAnswer!(Buffer.from(sent), urlFirst)?.toString(),
      ANSWERS['facepp/v3/compare']!(asSent, Q),
    );
  });

  test('an error answer has nothing to map', () => {
    const slots = slotsFor('facepp/v3/detect');
    const error = '{"time_used":3,"error_message":"INVALID_IMAGE_SIZE: image_file","request_id":"r"}';
    assert.equal(provider.mapAnswer!(Buffer.from(error), slots), undefined);
  });

  test('the normalised answer in the decision log uses the same factors', () => {
    const slots = slotsFor('facepp/v3/detect');
    const sent = Buffer.from(ANSWERS['facepp/v3/detect']!(asSent, asSent));
    const [logged] = provider.answers({ status: 200, body: sent }, slots);
    const client = JSON.parse(provider.mapAnswer!(sent, slots)!.toString()).faces[0].face_rectangle;
    const box = logged!.faces[0]!.box;
    assert.deepEqual(
      { left: client.left, top: client.top, width: client.width, height: client.height },
      {
        left: Math.round(box.left),
        top: Math.round(box.top),
        width: Math.round(box.width),
        height: Math.round(box.height),
      },
    );
  });
});
