import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mapPixelFields } from '../../src/providers/answer-mapping.ts';
import { baidu } from '../../src/providers/baidu/index.ts';
import { baiduPixelFields } from '../../src/providers/baidu/mapping.ts';
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
 * One answer per intercepted Baidu operation, in the shape its document gives (ai.baidu.com/ai-doc), with every
 * optional pixel field the operation can return; `q` is the second image of match.
 */
const words = (p: Px, extra = '') =>
  `"words_result":[{"location":{"width":${p.x(904)},"top":${p.y(675)},"left":${p.x(868)},"height":${p.y(74)}},"words":"303B菲尔德国际教育"${extra}}]`;
const chars = (p: Px) =>
  `,"chars":[{"char":"3","location":{"width":${p.x(20)},"top":${p.y(676)},"left":${p.x(868)},"height":${p.y(70)}}}]`;
const vertexes = (key: string, p: Px) =>
  `,"${key}":[{"y":${p.y(675)},"x":${p.x(868)}},{"y":${p.y(688)},"x":${p.x(1770)}},{"y":${p.y(747)},"x":${p.x(1768)}}]`;
const wordsOnly =
  '{"log_id":2471272194,"words_result_num":2,"direction":0,"words_result":[{"words":" TSINGTAO","probability":{"variance":0.02,"average":0.91,"min":0.47}},{"words":"青島睥酒"}]}';

const ANSWERS: Record<string, (p: Px, q: Px) => string> = {
  'image-classify/v2/advanced_general': () =>
    '{"log_id":327863200205075661,"result_num":2,"result":[{"score":0.967622,"root":"公众人物","baike_info":{"baike_url":"http://baike.baidu.com/item/%E6%96%B0%E5%9E%A3%E7%BB%93%E8%A1%A3/8035884","image_url":"http://imgsrc.baidu.com/baike/pic/item/x.jpg","description":"..."},"keyword":"新垣结衣"},{"score":"0.716067","root":"人物-人物特写","keyword":"头发"}]}',
  'image-classify/v1/object_detect': (p) =>
    `{"log_id":895582300,"result":{"width":${p.x(486)},"top":${p.y(76)},"left":${p.x(134)},"height":${p.y(394)}}}`,
  'image-classify/v1/animal': () =>
    '{"log_id":7392482912853822863,"result":[{"score":"0.993811","name":"叉角羚"},{"score":"0.000289","name":"印度羚"}]}',
  'image-classify/v1/plant': () => '{"log_id":1705495792822072357,"result":[{"score":0.99979120492935,"name":"莲"}]}',
  'image-classify/v1/car': (p) =>
    `{"log_id":4086212218842203806,"location_result":{"width":${p.x(447)},"top":${p.y(226)},"height":${p.y(209)},"left":${p.x(188)}},"result":[{"baike_info":{},"score":0.99,"name":"布加迪Chiron","year":"2018"}],"color_result":"颜色无法识别"}`,
  'image-classify/v2/dish': () =>
    '{"log_id":7357081719365269362,"result_num":1,"result":[{"calorie":"119","has_calorie":true,"name":"酸汤鱼","probability":"0.396031"}]}',
  'image-classify/v2/logo': (p) =>
    `{"log_id":843411868,"result_num":1,"result":[{"type":0,"name":"科颜氏","probability":0.99998807907104,"location":{"width":${p.x(296)},"top":${p.y(20)},"height":${p.y(128)},"left":${p.x(23)}}}]}`,
  'image-classify/v1/multi_object_detect': (p) =>
    `{"log_id":5392102924128092385,"result":[{"score":0.6, "name":"花","location":{"left":${p.x(10)},"top":${p.y(120)},"width":${p.x(200)},"height":${p.y(150)}}},{"score":0.4,"name":"叶子","location":{"left":${p.x(300)},"top":${p.y(5)},"width":${p.x(17)},"height":${p.y(19)}}}]}`,
  'ocr/v1/general_basic': () => wordsOnly,
  'ocr/v1/accurate_basic': () => wordsOnly,
  'ocr/v1/general': (p) =>
    `{"log_id":2666081716797328345,"direction":0,"words_result_num":1,${words(p, chars(p) + vertexes('vertexes_location', p))}}`,
  'ocr/v1/accurate': (p) =>
    `{"log_id":2666081716797328345,"direction":0,"words_result_num":1,${words(p, chars(p) + vertexes('finegrained_vertexes_location', p) + vertexes('vertexes_location', p) + vertexes('min_finegrained_vertexes_location', p))},"paragraphs_result":[{"words_result_idx":[0]}],"paragraphs_result_num":1}`,
  'ocr/v1/general_enhanced': () => wordsOnly,
  'ocr/v1/webimage': () => wordsOnly,
  'ocr/v1/handwriting': (p) => `{"log_id":620759800,"words_result_num":1,${words(p, chars(p))}}`,
  'ocr/v1/numbers': (p) => `{"log_id":620759800,"words_result_num":1,${words(p, chars(p))}}`,
  'face/v3/detect': (p) =>
    `{"error_code":0,"error_msg":"SUCCESS","log_id":1234567890123,"timestamp":1533094591,"cached":0,"result":{"face_num":1,"face_list":[{"face_token":"35235asfas21421fakghktyfdgh68bio","location":{"left":${p.x(117.26)},"top":${p.y(109.88)},"width":${p.x(202)},"height":${p.y(183)},"rotation":-4},"face_probability":1,"angle":{"yaw":-0.34,"pitch":1.81,"roll":-6.77},"landmark":[{"x":${p.x(161.74)},"y":${p.y(163.3)}},{"x":${p.x(243.8)},"y":${p.y(155.05)}}],"landmark72":[{"x":${p.x(115.86)},"y":${p.y(170.0)}},{"x":${p.x(117.5)},"y":${p.y(200.16)}}],"landmark150":{"cheek_right_1":{"x":${p.x(115.86)},"y":${p.y(170)}},"mouth_corner_left_outer":{"x":${p.x(230.5)},"y":${p.y(250.25)}}},"quality":{"occlusion":{"left_eye":0,"nose":0.1},"blur":0.001,"illumination":150,"completeness":1},"age":22,"beauty":64.2}]}}`,
  'face/v3/search': () =>
    '{"error_code":0,"error_msg":"SUCCESS","log_id":1,"result":{"face_token":"fid","user_list":[{"group_id":"test1","user_id":"u333333","user_info":"Test User","score":99.3}]}}',
  'face/v3/multi-search': (p) =>
    `{"error_code":0,"error_msg":"SUCCESS","log_id":2,"result":{"face_num":2,"face_list":[{"face_token":"6fe19a6ee0c4233db9b5bba4dc2b9367","location":{"left":${p.x(31.95)},"top":${p.y(120.3)},"width":${p.x(87)},"height":${p.y(85)},"rotation":16},"user_list":[{"group_id":"group1","user_id":"5abd24fd062e49bfa906b7c0d7fa7d1b","user_info":"","score":96.8}]},{"face_token":"xyz","location":{"left":${p.x(300)},"top":${p.y(10.5)},"width":${p.x(50)},"height":${p.y(51)},"rotation":0},"user_list":[]}]}}`,
  // Match returns tokens only; a box there would be in the pixels of the image at the same index (the second shows it).
  'face/v3/match': (_p, q) =>
    `{"error_code":0,"error_msg":"SUCCESS","log_id":3,"result":{"score":44.3,"face_list":[{"face_token":"fid1"},{"face_token":"fid2","location":{"left":${q.x(10)},"top":${q.y(20)},"width":${q.x(30)},"height":${q.y(40)},"rotation":1}}]}}`,
};

const provider = testProvider(baidu);
const slotsFor = (operation: string): AnsweredSlot[] => {
  const spec = provider.op(operation);
  return operation === 'face/v3/match'
    ? [answeredSlot('image[0]', spec, CLIENT_A, SENT_A), answeredSlot('image[1]', spec, CLIENT_B, SENT_B)]
    : [answeredSlot('image', spec, CLIENT_A, SENT_A)];
};
const P = inClientPixels(scaleBetween(CLIENT_A, SENT_A));
const Q = inClientPixels(scaleBetween(CLIENT_B, SENT_B));

describe('Baidu answers reach the client in its own pixels, for every intercepted operation', () => {
  test('every intercepted operation has a documented sample here', () => {
    assert.deepEqual(Object.keys(ANSWERS).sort(), baidu.operations.map((o) => o.name).sort());
  });

  for (const [operation, answer] of Object.entries(ANSWERS)) {
    test(`${operation}: every pixel number scaled per axis, every other byte as sent`, () => {
      const sent = answer(asSent, asSent);
      const expected = answer(P, Q);
      const mapped = provider.mapAnswer!(Buffer.from(sent), slotsFor(operation));
      if (sent === expected) assert.equal(mapped, undefined, 'nothing to rewrite');
      else assert.equal(mapped?.toString(), expected);
    });
  }

  test('each field of an operation whose document lists pixels is exercised by its sample', () => {
    const documented: Record<string, string[]> = {
      'image-classify/v1/object_detect': ['result'],
      'image-classify/v1/car': ['location_result'],
      'image-classify/v2/logo': ['result[].location'],
      'image-classify/v1/multi_object_detect': ['result[].location'],
      'ocr/v1/general': [
        'words_result[].location',
        'words_result[].chars[].location',
        'words_result[].vertexes_location[]',
      ],
      'ocr/v1/accurate': [
        'words_result[].location',
        'words_result[].chars[].location',
        'words_result[].vertexes_location[]',
        'words_result[].finegrained_vertexes_location[]',
        'words_result[].min_finegrained_vertexes_location[]',
      ],
      'ocr/v1/handwriting': ['words_result[].location', 'words_result[].chars[].location'],
      'ocr/v1/numbers': ['words_result[].location', 'words_result[].chars[].location'],
      'face/v3/detect': [
        'result.face_list[].location',
        'result.face_list[].landmark[]',
        'result.face_list[].landmark72[]',
        'result.face_list[].landmark150.*',
      ],
      'face/v3/multi-search': ['result.face_list[].location'],
    };
    for (const [operation, paths] of Object.entries(documented)) {
      const fields = baiduPixelFields(operation);
      const sent = Buffer.from(ANSWERS[operation]!(asSent, asSent));
      for (const at of paths) {
        const field = fields.find((f) => f.at === at);
        assert.ok(field, `${operation}: ${at} is mapped`);
        assert.ok(mapPixelFields(sent, slotsFor(operation), [field]), `${operation}: ${at} found in the sample`);
      }
    }
  });

  test('an error in the body (often with HTTP 200) has nothing to map', () => {
    const error =
      '{"error_code":222202,"error_msg":"pic not has face","log_id":1,"timestamp":1,"cached":0,"result":null}';
    assert.equal(provider.mapAnswer!(Buffer.from(error), slotsFor('face/v3/detect')), undefined);
  });

  test('the normalised face box in the decision log uses the same factors', () => {
    const slots = slotsFor('face/v3/detect');
    const sent = Buffer.from(ANSWERS['face/v3/detect']!(asSent, asSent));
    const box = provider.answers({ status: 200, body: sent }, slots)[0]!.faces[0]!.box;
    const client = JSON.parse(provider.mapAnswer!(sent, slots)!.toString()).result.face_list[0].location;
    assert.ok(Math.abs(client.left - box.left) < 0.006, `${client.left} vs ${box.left}`);
    assert.ok(Math.abs(client.top - box.top) < 0.006, `${client.top} vs ${box.top}`);
    assert.equal(client.width, Math.round(box.width));
    assert.equal(client.height, Math.round(box.height));
  });
});
