import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type PathSegment, spliceTokens, visitJsonValues } from '../../src/providers/json-tokens.ts';

/** Every visited value with a copy of its path, its span and its text. */
function jsonValueTokens(text: string) {
  const tokens: { path: PathSegment[]; start: number; end: number; raw: string }[] = [];
  visitJsonValues(text, (path, start, end) =>
    tokens.push({ path: [...path], start, end, raw: text.slice(start, end) }),
  );
  return tokens;
}

describe('JSON value tokens: every primitive with its path and position', () => {
  test('paths through objects and arrays, keys decoded, positions exact', () => {
    const text = '{ "a" : [ 1 , {"b\\u0022c": -2.5e3 } ],\n\t"d":"x\\"y", "e": [[true], null] }';
    const tokens = jsonValueTokens(text);
    assert.deepEqual(
      tokens.map((t) => ({ path: t.path, raw: t.raw })),
      [
        { path: ['a', 0], raw: '1' },
        { path: ['a', 1, 'b"c'], raw: '-2.5e3' },
        { path: ['d'], raw: '"x\\"y"' },
        { path: ['e', 0, 0], raw: 'true' },
        { path: ['e', 1], raw: 'null' },
      ],
    );
    for (const token of tokens) assert.equal(text.slice(token.start, token.end), token.raw);
  });

  test('a string value that looks like a key is still a value; empty containers give nothing', () => {
    const tokens = jsonValueTokens('{"k":"v","o":{},"l":[],"n":{"k2":"x"}}');
    assert.deepEqual(
      tokens.map((t) => [t.path, t.raw]),
      [
        [['k'], '"v"'],
        [['n', 'k2'], '"x"'],
      ],
    );
  });

  test('duplicate keys are all found (JSON.parse would keep only the last)', () => {
    assert.deepEqual(
      jsonValueTokens('{"x":1,"x":2}').map((t) => t.raw),
      ['1', '2'],
    );
  });

  test('not JSON is refused', () => {
    assert.throws(() => jsonValueTokens('{"a":1,}'), SyntaxError);
    assert.throws(() => jsonValueTokens('Request Entity Too Large'), SyntaxError);
  });

  test('a long string (a base64 image in an answer) is one token', () => {
    const long = 'A'.repeat(2_000_000);
    const tokens = jsonValueTokens(`{"image_reset":"${long}","face_rectangle":{"top":3}}`);
    assert.equal(tokens.length, 2);
    assert.deepEqual(tokens[1]!.path, ['face_rectangle', 'top']);
  });

  test('splicing replaces only the chosen tokens, every other byte kept', () => {
    const text = '{"a": 1,  "b" :[2,3], "c":"é\\n"}';
    const tokens = jsonValueTokens(text);
    const out = spliceTokens(text, [
      { ...tokens[0]!, raw: '10' },
      { ...tokens[2]!, raw: '30' },
    ]);
    assert.equal(out, '{"a": 10,  "b" :[2,30], "c":"é\\n"}');
  });
});
