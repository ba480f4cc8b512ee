import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeBase64Strict } from '../../src/providers/base64.ts';

test('strict base64: valid text decodes, line breaks tolerated', () => {
  const bytes = Buffer.from([0, 1, 2, 250, 251, 252, 253]);
  assert.deepEqual(decodeBase64Strict(bytes.toString('base64')), bytes);
  const wrapped = Buffer.alloc(100, 7)
    .toString('base64')
    .replace(/(.{76})/g, '$1\r\n');
  assert.deepEqual(decodeBase64Strict(wrapped), Buffer.alloc(100, 7));
});

test('strict base64: anything Node would silently skip or misread is refused', () => {
  for (const bad of ['', 'abc', '****', 'ab c', 'ab=c', 'a===', 'ab-_', 'YWJj ZGVm', 'YW*j', '=AAA']) {
    assert.equal(decodeBase64Strict(bad), undefined, JSON.stringify(bad));
  }
});
