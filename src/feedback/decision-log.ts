/**
 * The decision log writer: validated JSON lines appended to a rotated set of files through pino's file destination
 * (sonic-boom), in this process.
 *
 * Why not pino-roll (docs/DECISION-LOG.md, "Why own rotation"): it appends to the highest-numbered existing file at
 * start-up, so a line torn by a SIGKILL gets glued to the next run's first line; with hourly/daily rotation it
 * numbers files by birth time and restarts at 1 (appending to an old file) after a restart on a new day, which
 * breaks the order the trainer reads in; used as a transport it runs in a worker thread, which makes "everything
 * accepted is on disk when close() resolves" a cross-thread handshake. Here each start opens a fresh file with the
 * next number, rotation is a sonic-boom `reopen` (which keeps byte order across the switch), and the pino logger is
 * not used because its envelope (level, time, pid) is not part of our schema (and dropping `level` through
 * `formatters` writes invalid JSON in pino 10).
 *
 * Durability: see `DecisionLogConfig.sync`.
 */
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { z } from 'zod';
import { providerDescriptors } from '../providers/registry.ts';
import { rotatedFileName, rotatedNamePattern, splitLogPath } from './read-log.ts';
import { type DecisionLine, formatIssues, LOG_SCHEMA_VERSION, type ReferenceLine, writeSchemasFor } from './schema.ts';

// sonic-boom's typings omit these two public fields.
type SonicBoom = ReturnType<typeof pino.destination> & { fd: number; destroyed: boolean };

/** A rotation size: bytes, or with a 1024-based unit (`512k`, `64m`, `1g`); the flag and the config share it. */
export const ROTATE_SIZE_PATTERN = /^\d+(\.\d+)?\s*[kmg]?b?$/i;

export const rotateFrequencySchema = z.union([z.enum(['daily', 'hourly']), z.number().int().min(1000)]);

export const decisionLogConfigSchema = z.object({
  /** Base path: `/var/log/adacompress/decisions.jsonl` writes `decisions.000001.jsonl`, `decisions.000002.jsonl`, ... */
  path: z.string().min(1),
  rotate: z
    .object({
      /** Start a new file once this many bytes were written: bytes as a number, or `512k`, `64m`, `1g` (1024-based). */
      size: z
        .union([z.string().regex(ROTATE_SIZE_PATTERN, 'a size like 512k, 64m, 1g'), z.number().int().min(1)])
        .optional(),
      /** Start a new file at each UTC hour or day boundary, or every N milliseconds (epoch-aligned). */
      frequency: rotateFrequencySchema.optional(),
    })
    .optional(),
  /**
   * false (default): lines are queued in memory and written by the thread pool as soon as the previous write is done;
   * SIGKILL loses what was queued or in flight at that instant (usually nothing or a few lines under load).
   * true: each line is written with a blocking write(2) before logDecision returns; SIGKILL loses nothing logged,
   * but a slow disk stalls the event loop. Either way power loss can lose what the kernel had not yet flushed;
   * close() fsyncs.
   */
  sync: z.boolean().default(false),
  /** Create the directory when missing. */
  mkdir: z.boolean().default(true),
});

export type DecisionLogConfig = z.input<typeof decisionLogConfigSchema> & {
  /** The providers whose decisions may be logged (default: the registry's); a line naming another is refused. */
  providers?: readonly string[];
  /** Called on a refused line or a write error; the log never throws into the request path. Default: ignore. */
  onError?: (error: DecisionLogError) => void;
  /** Clock for time-based rotation (tests). */
  now?: () => number;
};

export type DecisionLogErrorCode = 'INVALID_CONFIG' | 'INVALID_LINE' | 'WRITE_FAILED' | 'CLOSED';

export class DecisionLogError extends Error {
  readonly code: DecisionLogErrorCode;
  constructor(code: DecisionLogErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DecisionLogError';
    this.code = code;
  }
}

/** What the caller provides: `type` and `v` are filled in; `time` defaults to now. */
export type DecisionInput = Omit<DecisionLine, 'type' | 'v' | 'time'> & { time?: string };
export type ReferenceInput = Omit<ReferenceLine, 'type' | 'v' | 'time'> & { time?: string };

export interface DecisionLogStats {
  /** Lines accepted (validated and queued or written). */
  accepted: number;
  /** Lines refused by the schema (a bug in the caller; reported to onError). */
  refused: number;
  /** Lines offered after close() began: not written. */
  droppedAfterClose: number;
  /** Write errors seen (disk full, permissions). */
  writeErrors: number;
  /**
   * Lines accepted but never written: queued in a file whose write failed, or offered while the log waits to try a
   * new file after a failure (reported to onError).
   */
  lostLines: number;
  /** Bytes accepted but not yet handed to the kernel. */
  bufferedBytes: number;
  /** The file being written now. */
  currentFile: string;
  /** Files this process opened, oldest first. */
  files: string[];
}

export interface DecisionLog {
  /** Validate and append a decision line. Returns false (and reports to onError) when refused; never throws. */
  logDecision(line: DecisionInput): boolean;
  /** Validate and append a reference line. Returns false (and reports to onError) when refused; never throws. */
  logReference(line: ReferenceInput): boolean;
  /**
   * Resolves when every line accepted before the call has been handed to the kernel (survives process death) or was
   * lost to a write error (counted in `lostLines`, reported to onError). Never rejects.
   */
  flush(): Promise<void>;
  /** Flush, fsync and close. Lines offered afterwards are dropped and counted. Idempotent; never rejects. */
  close(): Promise<void>;
  /**
   * Give up at once (forced exit): every file is closed without writing what is still queued (counted in
   * `lostLines`), so no exit hook can retry a failing disk forever.
   */
  abandon(): void;
  stats(): DecisionLogStats;
}

const sizeUnits: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

export function parseSize(size: string | number): number {
  if (typeof size === 'number') return size;
  const match = /^(\d+(?:\.\d+)?)\s*([kmg]?)b?$/i.exec(size.trim()); // ROTATE_SIZE_PATTERN, with groups
  if (!match) throw new DecisionLogError('INVALID_CONFIG', `${size} is not a size like 512k, 64m, 1g`);
  return Math.floor(Number(match[1]) * (sizeUnits[match[2]!.toLowerCase()] ?? 1));
}

/** The first instant strictly after `nowMs` at which a file opened at `nowMs` must be rotated (UTC boundaries). */
export function nextRotationAt(nowMs: number, frequency: 'daily' | 'hourly' | number): number {
  const period = frequency === 'daily' ? 86_400_000 : frequency === 'hourly' ? 3_600_000 : frequency;
  return nowMs - (nowMs % period) + period;
}

/** A stream's own accounting: bytes accepted and written, and the end offsets of its lines not yet written. */
interface StreamState {
  accepted: number;
  written: number;
  lineEnds: number[];
}

/** After a write error, the pause before a new file is tried, doubling while failures go on. */
const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 60_000;

/** Open the log: creates the directory if asked and starts a new file numbered after the highest one there. */
export async function createDecisionLog(config: DecisionLogConfig): Promise<DecisionLog> {
  const parsed = decisionLogConfigSchema.safeParse(config);
  if (!parsed.success)
    throw new DecisionLogError('INVALID_CONFIG', `decision log: ${formatIssues(parsed.error).join('; ')}`);
  const settings = parsed.data;
  const writeSchemas = writeSchemasFor(config.providers ?? providerDescriptors.map((d) => d.name));
  const onError = config.onError ?? (() => {});
  const now = config.now ?? Date.now;
  const maxBytes = settings.rotate?.size === undefined ? Number.POSITIVE_INFINITY : parseSize(settings.rotate.size);
  const frequency = settings.rotate?.frequency;

  const { directory, stem, extension } = splitLogPath(settings.path);
  if (settings.mkdir) mkdirSync(directory, { recursive: true });
  const pattern = rotatedNamePattern(stem, extension);
  let sequence = 0;
  for (const name of readdirSync(directory)) {
    const match = pattern.exec(name);
    if (match) sequence = Math.max(sequence, Number(match[1]));
  }

  const files: string[] = [];
  const nextFile = () => {
    sequence += 1;
    const file = join(directory, rotatedFileName(stem, extension, sequence));
    files.push(file);
    return file;
  };

  let acceptedBytes = 0;
  let writtenBytes = 0;
  let lostBytes = 0;
  let bytesInFile = 0;
  let rotateDue = false;
  let rotateAt = frequency === undefined ? Number.POSITIVE_INFINITY : nextRotationAt(now(), frequency);
  let closing: Promise<void> | undefined;
  const waiters: { target: number; resolve: () => void }[] = [];
  const stats = { accepted: 0, refused: 0, droppedAfterClose: 0, writeErrors: 0, lostLines: 0 };
  /** Streams not yet closed: the current one, and earlier ones still writing out their queue. */
  const open = new Map<SonicBoom, StreamState>();
  /** After a write error, when the next file may be tried (lines offered before are lost), and the next wait. */
  let failedUntil = 0;
  let retryMs = FIRST_RETRY_MS;

  const settle = () => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      const waiter = waiters[i]!;
      if (writtenBytes + lostBytes >= waiter.target) {
        waiters.splice(i, 1);
        waiter.resolve();
      }
    }
  };

  /** What a stream still held is lost: counted, and the stream destroyed so nothing (no exit hook) retries it. */
  const drop = (stream: SonicBoom) => {
    const state = open.get(stream);
    if (!state) return;
    open.delete(stream);
    lostBytes += state.accepted - state.written;
    stats.lostLines += state.lineEnds.length;
    state.lineEnds.length = 0;
    try {
      stream.destroy();
    } catch {
      // already closing: nothing more to give up
    }
    settle();
  };

  // One sonic-boom stream per file. (Its `reopen` collapses several quick rotations into one: a reopen requested
  // while a write or an open is in flight replaces the pending file name.) An old stream writes out its own queue
  // and closes (fsync, close) while the next one already takes lines, so each file keeps the order of its lines.
  // A write error ends the stream's file: what it still held is lost, and after a pause the next line opens the
  // next file, so a disk-full episode costs the lines written during it, not every line after it.
  const openStream = (file: string): SonicBoom => {
    const stream = pino.destination({ dest: file, sync: settings.sync, minLength: 0, mkdir: false }) as SonicBoom;
    const state: StreamState = { accepted: 0, written: 0, lineEnds: [] };
    open.set(stream, state);
    stream.on('write', (bytes: number) => {
      writtenBytes += bytes;
      state.written += bytes;
      while (state.lineEnds.length > 0 && state.lineEnds[0]! <= state.written) state.lineEnds.shift();
      retryMs = FIRST_RETRY_MS;
      settle();
    });
    stream.on('error', (error: Error) => {
      stats.writeErrors += 1;
      if (!open.has(stream)) return; // the same failure again (the close after a failed write): already counted
      const lines = state.lineEnds.length;
      drop(stream);
      if (stream === destination) {
        failedUntil = now() + retryMs;
        rotateDue = true;
        onError(
          new DecisionLogError(
            'WRITE_FAILED',
            `decision log write failed: ${error.message}; ${lines} line(s) lost, next file tried in ${retryMs} ms`,
            { cause: error },
          ),
        );
        retryMs = Math.min(MAX_RETRY_MS, retryMs * 2);
      } else {
        onError(
          new DecisionLogError('WRITE_FAILED', `decision log write failed: ${error.message}; ${lines} line(s) lost`, {
            cause: error,
          }),
        );
      }
    });
    stream.once('close', () => open.delete(stream));
    return stream;
  };

  const endStream = (stream: SonicBoom): Promise<void> =>
    new Promise((resolve) => {
      if (stream.destroyed || !open.has(stream)) return resolve();
      stream.once('close', () => resolve());
      // A disk that keeps failing must not hang shutdown; the error was already counted and reported.
      stream.once('error', () => resolve());
      try {
        stream.end(); // writes what is queued, then fsyncs and closes
      } catch {
        resolve();
      }
    });

  let destination = openStream(nextFile());
  await new Promise<void>((resolve, reject) => {
    if (destination.fd >= 0) return resolve();
    destination.once('ready', () => resolve());
    destination.once('error', (error: Error) =>
      reject(new DecisionLogError('WRITE_FAILED', error.message, { cause: error })),
    );
  });

  // Rotation opens the next file only when a line is about to go there, so no empty file is left behind.
  const rotate = () => {
    void endStream(destination);
    destination = openStream(nextFile());
    bytesInFile = 0;
    rotateDue = false;
  };

  const append = (schema: z.ZodType, value: Record<string, unknown>): boolean => {
    if (closing) {
      stats.droppedAfterClose += 1;
      onError(new DecisionLogError('CLOSED', 'decision log closed: line dropped'));
      return false;
    }
    const line = schema.safeParse({
      type: value.type,
      v: LOG_SCHEMA_VERSION,
      ...value,
      time: value.time ?? new Date(now()).toISOString(),
    });
    if (!line.success) {
      stats.refused += 1;
      onError(
        new DecisionLogError(
          'INVALID_LINE',
          `${String(value.type)} line refused: ${formatIssues(line.error).join('; ')}`,
        ),
      );
      return false;
    }
    if (now() < failedUntil) {
      // Waiting out a write error: the line is lost (counted; the failure itself was reported once).
      stats.lostLines += 1;
      return false;
    }
    if (now() >= rotateAt) {
      rotateDue = true;
      rotateAt = nextRotationAt(now(), frequency!);
    }
    if (rotateDue) rotate();
    const text = `${JSON.stringify(line.data)}\n`;
    const bytes = Buffer.byteLength(text);
    const state = open.get(destination)!;
    acceptedBytes += bytes;
    bytesInFile += bytes;
    state.accepted += bytes;
    state.lineEnds.push(state.accepted);
    stats.accepted += 1;
    destination.write(text);
    // The line that crosses the limit ends the file, so a line never straddles two files.
    if (bytesInFile >= maxBytes) rotateDue = true;
    return true;
  };

  const flush = (): Promise<void> => {
    if (writtenBytes + lostBytes >= acceptedBytes) return Promise.resolve();
    return new Promise((resolve) => waiters.push({ target: acceptedBytes, resolve }));
  };

  return {
    logDecision: (line) => append(writeSchemas.decision, { ...line, type: 'decision' }),
    logReference: (line) => append(writeSchemas.reference, { ...line, type: 'reference' }),
    flush,
    close() {
      closing ??= (async () => {
        await flush();
        await Promise.all([...open.keys()].map(endStream));
      })();
      return closing;
    },
    abandon() {
      closing ??= Promise.resolve();
      for (const stream of [...open.keys()]) drop(stream);
    },
    stats: () => ({
      ...stats,
      bufferedBytes: acceptedBytes - writtenBytes - lostBytes,
      currentFile: files[files.length - 1]!,
      files: [...files],
    }),
  };
}
