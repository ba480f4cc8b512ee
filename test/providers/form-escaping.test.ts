import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeFormValueLike } from '../../src/providers/form.ts';

const base64 = 'ab+cd/ef==';

test('a client that escaped + / = gets its new value escaped alike, hex case kept', () => {
  assert.equal(encodeFormValueLike(base64, 'x%2By%2Fz%3D'), 'ab%2Bcd%2Fef%3D%3D');
  assert.equal(encodeFormValueLike(base64, 'x%2by%2fz%3d'), 'ab%2bcd%2fef%3d%3d');
});

test('a client that sent raw base64 gets raw base64: never larger on the wire than needed', () => {
  assert.equal(encodeFormValueLike(base64, 'x+y/z='), base64);
});

test('characters the client never used follow the style of those it did', () => {
  assert.equal(encodeFormValueLike(base64, 'xy+z'), base64, 'raw + seen: / and = raw too');
  assert.equal(encodeFormValueLike(base64, 'xy%2Fz'), 'ab%2Bcd%2Fef%3D%3D', 'escaped / seen: all escaped');
});

test('no evidence, or both spellings mixed: escaped, which every form parser reads the same', () => {
  assert.equal(encodeFormValueLike(base64, 'abcd'), 'ab%2Bcd%2Fef%3D%3D');
  assert.equal(encodeFormValueLike(base64, 'a+b%2Bc'), 'ab%2Bcd%2Fef%3D%3D');
});
