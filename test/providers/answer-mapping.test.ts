import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AnswerMappingError, formatLike, mapPixelFields, type PixelField } from '../../src/providers/answer-mapping.ts';
import { facepp } from '../../src/providers/facepp/index.ts';
import { scaleBox, scaleOf } from '../../src/providers/pixels.ts';
import { answeredSlot, CLIENT_A, SENT_A } from '../helpers/pixel-answers.ts';

const detect = facepp.operations.find((o) => o.name === 'facepp/v3/detect')!;
const slot = answeredSlot('image_file', detect, CLIENT_A, SENT_A);
const unresized = answeredSlot('image_file', detect, CLIENT_A, CLIENT_A);
const rect: PixelField = { at: 'r', shape: 'box' };
const map = (json: string, fields: readonly PixelField[], slots = [slot]) =>
  mapPixelFields(Buffer.from(json), slots, fields)?.toString();

describe('answer mapping: pixel numbers rewritten in place, everything else as it came', () => {
  test('per-axis factors: x by client/sent width, y by client/sent height (320x213 sent for 1001x667)', () => {
    // 100 * 1001/320 = 312.8 -> 313; 100 * 667/213 = 313.1 -> 313; 200 -> 625.6 / 626.3; 213 * 667/213 = 667 exactly.
    assert.equal(
      map('{"r":{"left":100,"top":100,"width":200,"height":213}}', [rect]),
      '{"r":{"left":313,"top":313,"width":626,"height":667}}',
    );
    assert.equal(
      map('{"r":{"left":320,"top":0,"width":1,"height":1}}', [rect]),
      '{"r":{"left":1001,"top":0,"width":3,"height":3}}',
    );
  });

  test('points scale x and y; other keys of the same object (score, rotation) are kept', () => {
    assert.equal(
      map('{"p":[{"x":10,"y":10,"score":0.9}],"r":{"left":1,"top":1,"width":1,"height":1,"rotation":-3}}', [
        { at: 'p[]', shape: 'point' },
        rect,
      ]),
      '{"p":[{"x":31,"y":31,"score":0.9}],"r":{"left":3,"top":3,"width":3,"height":3,"rotation":-3}}',
    );
  });

  test('numbers are written the way the API wrote them', () => {
    assert.equal(formatLike('12', 37.5), '38', 'integers stay integers');
    assert.equal(formatLike('-2', -0.4), '0', 'no negative zero');
    assert.equal(formatLike('117.26', 117.26 * 2.5), '293.15', 'same decimals');
    assert.equal(formatLike('10.5', 21), '21.0', 'a decimal stays a decimal');
    assert.equal(formatLike('88.120', 176.24), '176.24', 'trailing zeros trimmed');
    assert.equal(formatLike('1.5e2', 300), '300', 'exponent form: shortest exact');
  });

  test('numeric strings (some Baidu endpoints quote numbers) are scaled inside their quotes', () => {
    assert.equal(
      map('{"r":{"left":"100","top":"1.5","width":"wide","height":null}}', [rect]),
      '{"r":{"left":"313","top":"4.7","width":"wide","height":null}}',
    );
  });

  test('`*` matches any key, `**` any depth, `[]` each element; nothing else matches', () => {
    const fields: PixelField[] = [
      { at: 'faces[].landmark.*', shape: 'point' },
      { at: 'result[].**.position[]', shape: 'point' },
    ];
    const json =
      '{"faces":[{"landmark":{"nose_tip":{"x":10,"y":20}},"other":{"x":10}}],' +
      '"result":[{"position":[{"x":1,"y":1}],"child-objects":[{"position":[{"x":2,"y":2}],"child-objects":[]}]}],' +
      '"x":10,"landmark":{"a":{"x":10}}}';
    assert.equal(
      map(json, fields),
      '{"faces":[{"landmark":{"nose_tip":{"x":31,"y":63}},"other":{"x":10}}],' +
        '"result":[{"position":[{"x":3,"y":3}],"child-objects":[{"position":[{"x":6,"y":6}],"child-objects":[]}]}],' +
        '"x":10,"landmark":{"a":{"x":10}}}',
    );
  });

  test('white space, escapes, non-ASCII text and key order are kept byte for byte', () => {
    const json = '{\n\t"words": "车牌\\u4eac\\/A",\n\t"r" : { "top" : 10 ,"left":10 },\n\t"z": 1.000\n}';
    assert.equal(
      map(json, [rect]),
      '{\n\t"words": "车牌\\u4eac\\/A",\n\t"r" : { "top" : 31 ,"left":31 },\n\t"z": 1.000\n}',
    );
  });

  test('a byte order mark is kept in front of the rewritten answer', () => {
    assert.equal(map('\uFEFF{"r":{"left":10}}', [rect]), '\uFEFF{"r":{"left":31}}');
  });

  test('nothing to change: undefined (the client gets the upstream bytes)', () => {
    assert.equal(map('{"r":{"left":10}}', [rect], [unresized]), undefined, 'image not resized');
    assert.equal(map('{"faces":[]}', [rect]), undefined, 'no pixel field in the answer');
    assert.equal(map('{"r":{"left":0}}', [rect]), undefined, 'every scaled number unchanged');
    assert.equal(map('Request Entity Too Large', [], [slot]), undefined, 'an operation without pixel fields');
  });

  test('an answer it cannot rewrite safely is refused with a reason that quotes nothing of it', () => {
    assert.throws(() => map('{"r":{"left":1}', [rect]), new AnswerMappingError('answer is not JSON'));
    assert.throws(
      () => mapPixelFields(Buffer.from([0x7b, 0xff, 0x7d]), [slot], [rect]),
      new AnswerMappingError('answer is not valid UTF-8'),
    );
  });

  test('the decision log and the client use the same factors (one helper)', () => {
    const logged = scaleBox({ left: 100, top: 100, width: 200, height: 213 }, scaleOf(slot));
    const sent = map('{"r":{"left":100,"top":100,"width":200,"height":213}}', [rect])!;
    const client = JSON.parse(sent).r;
    for (const key of ['left', 'top', 'width', 'height'] as const) {
      assert.equal(client[key], Math.round(logged[key]), key);
    }
  });
});
