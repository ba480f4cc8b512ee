import assert from 'node:assert/strict';
import { test } from 'node:test';
import { base64AsJsonString, findStrings, pathKey, spliceStrings } from '../../src/providers/json-text.ts';

const text = (body: Buffer, span: { start: number; end: number }) => body.toString('utf8', span.start, span.end);

test('findStrings: the string values at the paths asked, as byte offsets, deeper structure skipped', () => {
  const body = Buffer.from(
    '{ "Deep": [[{"Bytes":"no"}]], "Image" : {"S3":{"Bytes":"no"}, "Bytes" : "QUJD"}, "Note":"caf\u00e9 \\" Bytes"}',
  );
  const found = findStrings(body, [['Image', 'Bytes']]);
  const spans = found.get(pathKey(['Image', 'Bytes']))!;
  assert.equal(spans.length, 1);
  assert.equal(text(body, spans[0]!), 'QUJD');
});

test('findStrings: array elements by index, names with escapes decoded, repeats all reported', () => {
  const body = Buffer.from('[{"image":"A"},{"ima\\u0067e":"B","image":"C"}]');
  const found = findStrings(body, [
    [0, 'image'],
    [1, 'image'],
  ]);
  assert.deepEqual(
    found.get(pathKey([0, 'image']))!.map((s) => text(body, s)),
    ['A'],
  );
  assert.deepEqual(
    found.get(pathKey([1, 'image']))!.map((s) => text(body, s)),
    ['B', 'C'],
  );
});

test('findStrings: 200,000 levels of nesting cost no stack', () => {
  const body = Buffer.from(`{"image":"X","deep":${'['.repeat(200_000)}${']'.repeat(200_000)}}`);
  assert.equal(findStrings(body, [['image']]).get(pathKey(['image']))!.length, 1);
});

test('spliceStrings: only the spans change; numbers like 1e400 and white space stay as written', () => {
  const body = Buffer.from('{"a" : 1e400, "Image":{"Bytes":"OLD"} ,"b":-0.0}');
  const span = findStrings(body, [['Image', 'Bytes']]).get(pathKey(['Image', 'Bytes']))![0]!;
  assert.equal(
    spliceStrings(body, new Map([[span, 'NEW+/=']])).toString(),
    '{"a" : 1e400, "Image":{"Bytes":"NEW+/="} ,"b":-0.0}',
  );
});

test("base64AsJsonString: slashes escaped only when the client's value escaped them", () => {
  const escaped = Buffer.from('{"b":"ab\\/cd"}');
  const plain = Buffer.from('{"b":"ab/cd"}');
  const spanOf = (body: Buffer) => findStrings(body, [['b']]).get(pathKey(['b']))![0]!;
  assert.equal(base64AsJsonString('x/y+z=', escaped, spanOf(escaped)), 'x\\/y+z=');
  assert.equal(base64AsJsonString('x/y+z=', plain, spanOf(plain)), 'x/y+z=');
});
