import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createProgress, formatDuration } from '../src/progress.ts';

/** A stream that records what was written, on a clock the test moves. */
function fakeTerminal(isTTY: boolean) {
  const writes: string[] = [];
  let time = 0;
  return {
    stream: { isTTY, columns: 120, write: (text: string) => writes.push(text) },
    writes,
    now: () => time,
    advance: (ms: number) => {
      time += ms;
    },
  };
}

describe('progress of long commands', () => {
  it('in a log (not a terminal): a plain line per tenth of the work with rate and ETA, then a last line', () => {
    const t = fakeTerminal(false);
    const progress = createProgress('collect', 100, { stream: t.stream, now: t.now, unit: 'img' });
    for (let i = 0; i < 100; i++) {
      t.advance(500);
      progress.tick(1, `p${i}.jpg`);
    }
    progress.done();
    const lines = t.writes.join('').split('\n').filter(Boolean);
    // Quiet for the first 2 s; then a first line, one at each tenth from 10% to 90%, and the final one.
    assert.equal(lines.length, 11, lines.join('\n'));
    assert.equal(lines[0], 'collect: 4/100 4%, 2.0 img/s, ETA 48 s · p3.jpg');
    assert.equal(lines[1], 'collect: 10/100 10%, 2.0 img/s, ETA 45 s · p9.jpg');
    assert.equal(lines.at(-1), 'collect: 100/100 in 50 s · p99.jpg');
    assert.ok(!t.writes.join('').includes('\r'), 'no carriage returns in a log');
  });

  it('on a terminal: one bar redrawn in place, at most every 200 ms, ending with a newline', () => {
    const t = fakeTerminal(true);
    const progress = createProgress('train', 40, { stream: t.stream, now: t.now, unit: 'nets' });
    for (let i = 0; i < 40; i++) {
      t.advance(100);
      progress.tick();
    }
    progress.done();
    assert.ok(t.writes.every((w) => w.startsWith('\r')));
    assert.ok(t.writes.length <= 12, `${t.writes.length} redraws`);
    const ERASE_LINE = '\x1b[K';
    assert.equal(t.writes[0], `\rtrain [############............] 20/40 50%, 10 nets/s, ETA 2 s${ERASE_LINE}`);
    assert.equal(t.writes.at(-1), `\rtrain [########################] 40/40 in 4 s${ERASE_LINE}\n`);
  });

  it('says nothing for work that ends before its quiet period', () => {
    const t = fakeTerminal(false);
    const progress = createProgress('evaluate', 200, { stream: t.stream, now: t.now });
    for (let i = 0; i < 200; i++) progress.tick();
    t.advance(50);
    progress.done();
    assert.deepEqual(t.writes, []);
  });

  it('writes durations people read', () => {
    assert.equal(formatDuration(42.4), '42 s');
    assert.equal(formatDuration(200), '3 min 20 s');
    assert.equal(formatDuration(3900), '1 h 05 min');
    assert.equal(formatDuration(Number.POSITIVE_INFINITY), '?');
  });
});
