/**
 * Progress of a long command (collect, train, evaluate, bench) on stderr, so stdout keeps the results. On a terminal:
 * one bar redrawn in place. Otherwise (CI logs, pipes): a plain line at each tenth of the work, or every 30 s, never
 * more often. Both show the rate and an ETA, and stay silent while the work is young (quick runs print nothing).
 */

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  /** What one item is called in the rate: images, nets, suites... */
  unit?: string;
  stream?: ProgressStream;
  /** Milliseconds clock; tests pass their own. */
  now?: () => number;
  /** Nothing is shown before this much time has passed (so quick runs stay quiet). */
  quietMs?: number;
}

export interface Progress {
  /** `count` more items done; `note` (a file name, a count of failures) is shown after the figures. */
  tick(count?: number, note?: string): void;
  /** The work ended (all of it or not): the bar's last state stays, a plain stream gets its last line. */
  done(note?: string): void;
}

const BAR_WIDTH = 24;
const TTY_REDRAW_MS = 200;
const PLAIN_EVERY_MS = 30_000;

/** 42 s, 3 min 20 s, 1 h 05 min. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

export function createProgress(label: string, total: number, options: ProgressOptions = {}): Progress {
  const stream = options.stream ?? process.stderr;
  const now = options.now ?? (() => performance.now());
  const unit = options.unit ?? 'items';
  const quietMs = options.quietMs ?? 2000;
  const tty = stream.isTTY === true;
  const started = now();
  let doneCount = 0;
  let lastNote = '';
  let lastDraw = Number.NEGATIVE_INFINITY;
  let lastTenth = 0;
  let drawn = false;
  let finished = false;

  const figures = () => {
    const elapsed = (now() - started) / 1000;
    const rate = elapsed > 0 ? doneCount / elapsed : 0;
    const left = total - doneCount;
    const eta = rate > 0 ? formatDuration(left / rate) : '?';
    const percent = total > 0 ? Math.floor((100 * doneCount) / total) : 100;
    const rateText = rate >= 10 || rate === 0 ? rate.toFixed(0) : rate.toFixed(rate >= 1 ? 1 : 2);
    return { percent, text: `${doneCount}/${total} ${percent}%, ${rateText} ${unit}/s, ETA ${eta}`, elapsed };
  };

  const draw = (final: boolean) => {
    const { percent, text, elapsed } = figures();
    const note = lastNote ? ` · ${lastNote}` : '';
    if (tty) {
      const filled = Math.round((BAR_WIDTH * Math.min(100, percent)) / 100);
      const bar = `${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}`;
      const line = final
        ? `${label} [${bar}] ${doneCount}/${total} in ${formatDuration(elapsed)}${note}`
        : `${label} [${bar}] ${text}${note}`;
      const width = stream.columns && stream.columns > 20 ? stream.columns - 1 : line.length;
      stream.write(`\r${line.slice(0, width)}\x1b[K${final ? '\n' : ''}`);
    } else {
      stream.write(
        final ? `${label}: ${doneCount}/${total} in ${formatDuration(elapsed)}${note}\n` : `${label}: ${text}${note}\n`,
      );
    }
    drawn = true;
    lastDraw = now();
  };

  return {
    tick(count = 1, note) {
      if (finished) return;
      doneCount = Math.min(total, doneCount + count);
      if (note !== undefined) lastNote = note;
      const t = now();
      if (t - started < quietMs) return;
      if (tty) {
        if (t - lastDraw >= TTY_REDRAW_MS) draw(false);
        return;
      }
      const tenth = total > 0 ? Math.floor((10 * doneCount) / total) : 10;
      if (tenth > lastTenth || t - lastDraw >= PLAIN_EVERY_MS) {
        lastTenth = tenth;
        if (doneCount < total) draw(false);
      }
    },
    done(note) {
      if (finished) return;
      finished = true;
      if (note !== undefined) lastNote = note;
      // A run that stayed quiet throughout ends quiet too: the command's own summary says what happened.
      if (drawn || now() - started >= quietMs) draw(true);
    },
  };
}
