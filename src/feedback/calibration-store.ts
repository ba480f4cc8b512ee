/**
 * Calibration survives a restart: each provider/operation's state (a few hundred numbers) in one JSON file beside the
 * decision log, written atomically (temp + rename) at most every `intervalMs` while it changes, and on close. A file
 * that is missing, unreadable or of another version starts calibration afresh (cautious), never fails the start-up.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import type { CalibrationState } from './calibration.ts';

export const CALIBRATION_FILE_VERSION = 1;

const gridPoint = z.object({ side: z.number().int().min(0), level: z.number().int().min(0) });
const stateSchema = z.object({
  sides: z.array(z.number().int().positive().nullable()),
  levels: z.number().int().positive(),
  current: gridPoint,
  steps: gridPoint,
  counts: z.array(z.number().nonnegative()),
  sums: z.array(z.number().nonnegative()),
  samples: z.number().int().nonnegative(),
  moves: z.number().int().nonnegative(),
  exploring: z.boolean(),
  // Absent in files written before stalls were kept: none marked.
  stalled: z.array(z.number().int().nonnegative()).default([]),
});
const fileSchema = z.object({
  v: z.literal(CALIBRATION_FILE_VERSION),
  savedAt: z.string(),
  keys: z.record(z.string(), z.object({ modelId: z.string(), state: stateSchema })),
});

export interface StoredCalibration {
  /** The model the state was learnt for: another model starts afresh. */
  modelId: string;
  state: CalibrationState;
}

export class CalibrationStore {
  readonly path: string;
  readonly #intervalMs: number;
  readonly #entries: Map<string, StoredCalibration>;
  readonly #onError: (error: Error) => void;
  #dirty = false;
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> = Promise.resolve();

  private constructor(
    path: string,
    entries: Map<string, StoredCalibration>,
    intervalMs: number,
    onError: (error: Error) => void,
  ) {
    this.path = path;
    this.#entries = entries;
    this.#intervalMs = intervalMs;
    this.#onError = onError;
  }

  /** Open the store; what the file holds is loaded (an absent or bad file holds nothing). */
  static async open(
    path: string,
    options: { intervalMs?: number; onError?: (error: Error) => void } = {},
  ): Promise<CalibrationStore> {
    const onError = options.onError ?? (() => {});
    const entries = new Map<string, StoredCalibration>();
    try {
      const parsed = fileSchema.safeParse(JSON.parse(await readFile(path, 'utf8')));
      if (parsed.success) for (const [key, entry] of Object.entries(parsed.data.keys)) entries.set(key, entry);
      else onError(new Error(`calibration state ${path} ignored: ${parsed.error.issues[0]?.message}`));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        onError(new Error(`calibration state ${path} ignored: ${(error as Error).message}`));
      }
    }
    return new CalibrationStore(path, entries, options.intervalMs ?? 5000, onError);
  }

  get(key: string): StoredCalibration | undefined {
    return this.#entries.get(key);
  }

  /** Remember a key's state; it reaches the file within the interval. */
  set(key: string, entry: StoredCalibration): void {
    this.#entries.set(key, entry);
    this.#dirty = true;
    if (!this.#timer) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        void this.flush();
      }, this.#intervalMs);
      this.#timer.unref();
    }
  }

  /** Write now if anything changed (shutdown, tests). Never throws: a failed write is reported and retried later. */
  flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#writing = this.#writing.then(async () => {
      if (!this.#dirty) return;
      this.#dirty = false;
      const file = {
        v: CALIBRATION_FILE_VERSION,
        savedAt: new Date().toISOString(),
        keys: Object.fromEntries(this.#entries),
      };
      const temporary = `${this.path}.tmp-${process.pid}`;
      try {
        await mkdir(dirname(this.path), { recursive: true });
        await writeFile(temporary, `${JSON.stringify(file)}\n`);
        await rename(temporary, this.path);
      } catch (error) {
        this.#dirty = true;
        this.#onError(error as Error);
      }
    });
    return this.#writing;
  }
}
