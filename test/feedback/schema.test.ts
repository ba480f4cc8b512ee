import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseLogLine } from '../../src/feedback/schema.ts';
import { decisionInput, referenceInput } from './fixtures/lines.ts';

const decision = { type: 'decision', v: 1, ...decisionInput('d1') };
const reference = { type: 'reference', v: 1, ...referenceInput('r1', 'd1') };

describe('parseLogLine', () => {
  test('valid decision and reference lines parse to typed lines', () => {
    const parsedDecision = parseLogLine(JSON.stringify(decision));
    assert.ok(parsedDecision.ok);
    assert.equal(parsedDecision.line.type, 'decision');
    const parsedReference = parseLogLine(JSON.stringify(reference));
    assert.ok(parsedReference.ok && parsedReference.line.type === 'reference');
    assert.equal(parsedReference.line.decisionId, 'd1');
  });

  test('an errored upstream has a null answer; an original sent has a reason', () => {
    const line = { ...decision, upstreamStatus: 0, answer: null, outcome: { sent: 'original', reason: 'not-smaller' } };
    assert.ok(parseLogLine(JSON.stringify(line)).ok);
    const noReason = { ...decision, outcome: { sent: 'original' } };
    const result = parseLogLine(JSON.stringify(noReason));
    assert.ok(!result.ok && result.error.code === 'INVALID_LINE');
  });

  test('readers tolerate fields added by a newer writer of the same version', () => {
    const result = parseLogLine(JSON.stringify({ ...decision, addedLater: 42 }));
    assert.ok(result.ok);
    assert.equal('addedLater' in result.line, false);
  });

  test('typed errors: torn line, unknown type, other version, invalid field', () => {
    const codes = [
      '{"type":"decision","v":1,"id":"d',
      '[1,2]',
      JSON.stringify({ type: 'metric', v: 1 }),
      JSON.stringify({ ...decision, v: 2 }),
      JSON.stringify({ ...decision, provider: 'Not a provider!' }),
      JSON.stringify({ ...decision, time: 'yesterday' }),
      JSON.stringify({ ...decision, answer: { labels: [{ name: 'Dog', score: 97 }], faces: [] } }),
    ].map((text) => {
      const result = parseLogLine(text);
      return result.ok ? 'ok' : result.error.code;
    });
    assert.deepEqual(codes, [
      'INVALID_JSON',
      'UNKNOWN_TYPE',
      'UNKNOWN_TYPE',
      'UNSUPPORTED_VERSION',
      'INVALID_LINE',
      'INVALID_LINE',
      'INVALID_LINE',
    ]);
  });
});
