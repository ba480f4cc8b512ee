import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Quad } from '../../../src/emulator/ocr/geometry.ts';
import { ctcGreedy, type RecognisedLine } from '../../../src/emulator/ocr/recognise.ts';
import { wordsOfLine } from '../../../src/emulator/ocr/words.ts';

// A toy alphabet: 0 blank, then a, b, c, then the space last (as the real dictionary is laid out).
const CHARSET = ['', 'a', 'b', 'c', ' '];
const CLASSES = CHARSET.length;

/** Probabilities from a per-step spec: a winning class, and optionally a space probability at a blank step. */
function steps(spec: (number | { blank: number; space: number })[]): Float32Array {
  const probs = new Float32Array(spec.length * CLASSES);
  spec.forEach((s, t) => {
    if (typeof s === 'number') {
      probs[t * CLASSES + s] = 0.9;
      probs[t * CLASSES + (s === 0 ? 1 : 0)] = 0.1;
    } else {
      probs[t * CLASSES] = s.blank;
      probs[t * CLASSES + 4] = s.space;
    }
  });
  return probs;
}

const text = (spec: Parameters<typeof steps>[0], spaceProb?: number) =>
  ctcGreedy(steps(spec), spec.length, CLASSES, CHARSET, spaceProb)
    .map((c) => c.char)
    .join('');

describe('CTC decoding', () => {
  it('merges repeats, drops blanks, keeps a repeat split by a blank', () => {
    assert.equal(text([0, 1, 1, 0, 2, 0, 2, 2, 3, 0]), 'abbc');
  });

  it('keeps spaces the model wins with, and recovers the ones it only raised between two characters', () => {
    assert.equal(text([1, 0, 4, 0, 2]), 'a b');
    assert.equal(text([1, { blank: 0.98, space: 0.02 }, 2]), 'a b');
    assert.equal(text([1, { blank: 0.999, space: 0.001 }, 2]), 'ab');
    // The threshold is the caller's: 1 keeps only the spaces the model decodes itself.
    assert.equal(text([1, { blank: 0.98, space: 0.02 }, 2], 1), 'ab');
    assert.equal(text([1, 4, 2], 1), 'a b');
    // Never a space before the first character or after the last.
    assert.equal(text([{ blank: 0.9, space: 0.1 }, 1, 2, { blank: 0.9, space: 0.1 }]), 'ab');
  });

  it('records each character’s run of steps; a recovered space does not count towards confidence', () => {
    const chars = ctcGreedy(steps([1, 1, { blank: 0.9, space: 0.1 }, 0, 2]), 5, CLASSES, CHARSET);
    assert.deepEqual(
      chars.map((c) => [c.char, c.firstStep, c.lastStep, c.recovered ?? false]),
      [
        ['a', 0, 1, false],
        [' ', 2, 2, true],
        ['b', 4, 4, false],
      ],
    );
  });
});

describe('words from CTC steps', () => {
  const quad: Quad = [
    { x: 100, y: 50 },
    { x: 300, y: 50 },
    { x: 300, y: 70 },
    { x: 100, y: 70 },
  ];
  // Strip 200 px wide content, one step per 10 px: "ab" at steps 2, 4; "c" at step 12.
  const chars = ctcGreedy(steps([0, 0, 1, 0, 2, 0, 0, 0, 4, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0]), 20, CLASSES, CHARSET);
  const line: RecognisedLine = { text: 'ab c', confidence: 0.9, chars, contentWidth: 200, stepWidth: 10 };

  it('splits on spaces and places each word around its characters’ steps', () => {
    const words = wordsOfLine(line, quad);
    assert.deepEqual(
      words.map((w) => w.text),
      ['ab', 'c'],
    );
    // Centres at 25 and 45 px (pitch 20): "ab" spans 15..55; "c" centred at 125 spans 115..135. Strip x maps to the
    // quad's x + the same offset (the strip is the quad at 1:1 here).
    const xs = (i: number) => [words[i]!.quad[0].x, words[i]!.quad[1].x];
    assert.deepEqual(xs(0), [115, 155]);
    assert.deepEqual(xs(1), [215, 235]);
    assert.equal(words[0]!.quad[0].y, 50);
    assert.equal(words[0]!.quad[3].y, 70);
  });
});
