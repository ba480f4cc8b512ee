/**
 * Reading the decision log back (the trainer's side): stream files in order, validate each line, and join every
 * decision with its reference line. References are written after their decision (the reference upload happens
 * later, off the client's path), possibly into a later file after a rotation, so the join keeps a decision pending
 * until its reference arrives or the log has moved on by `joinWindowMs`; decisions come out in log order.
 */
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { type DecisionLine, type LogLineError, parseLogLine, type ReferenceLine } from './schema.ts';

export interface JoinedDecision {
  decision: DecisionLine;
  /** Present when a reference line for this decision was found within the join window. */
  reference?: ReferenceLine;
}

export type LogIssueCode =
  | LogLineError['code']
  | 'DUPLICATE_DECISION' // a second decision line with an id already seen (ignored)
  | 'DUPLICATE_REFERENCE' // a second reference for one decision (ignored)
  | 'ORPHAN_REFERENCE'; // a reference whose decision is not pending (not in these files, or beyond the join window)

export interface LogIssue {
  code: LogIssueCode;
  path: string;
  /** 1-based line number in `path`. */
  lineNumber: number;
  message: string;
}

export interface ReadDecisionLogOptions {
  /**
   * How long, in log time, to wait for a decision's reference before giving the decision out without one.
   * Default 10 minutes: far beyond any upstream timeout, small enough to bound memory.
   */
  joinWindowMs?: number;
  /** Called for each line skipped or not joined. Default: ignore (the log may end in a line torn by SIGKILL). */
  onIssue?: (issue: LogIssue) => void;
}

interface Pending {
  decision: DecisionLine;
  timeMs: number;
  reference?: ReferenceLine;
  /** True once nothing more is expected: a reference arrived, or the sampler said none was requested. */
  complete: boolean;
}

/**
 * Decisions with their references, in log order, from `paths` read in the order given (use
 * `listDecisionLogFiles` for a rotated set). Invalid lines are skipped and reported to `onIssue`.
 */
export async function* readDecisionLog(
  paths: readonly string[],
  options: ReadDecisionLogOptions = {},
): AsyncGenerator<JoinedDecision, void, undefined> {
  const joinWindowMs = options.joinWindowMs ?? 10 * 60_000;
  const report = options.onIssue ?? (() => {});
  const pending = new Map<string, Pending>();
  const seenDecisions = new Set<string>();
  let watermarkMs = Number.NEGATIVE_INFINITY;

  function* drain(all: boolean): Generator<JoinedDecision> {
    for (const [id, entry] of pending) {
      if (!(all || entry.complete || watermarkMs - entry.timeMs > joinWindowMs)) break;
      pending.delete(id);
      yield entry.reference ? { decision: entry.decision, reference: entry.reference } : { decision: entry.decision };
    }
  }

  for (const path of paths) {
    let lineNumber = 0;
    const lines = createInterface({ input: createReadStream(path), crlfDelay: Number.POSITIVE_INFINITY });
    for await (const text of lines) {
      lineNumber += 1;
      if (text.trim() === '') continue;
      const parsed = parseLogLine(text);
      if (!parsed.ok) {
        report({ code: parsed.error.code, path, lineNumber, message: parsed.error.message });
        continue;
      }
      const line = parsed.line;
      const timeMs = Date.parse(line.time);
      if (timeMs > watermarkMs) watermarkMs = timeMs;
      if (line.type === 'decision') {
        if (seenDecisions.has(line.id)) {
          report({ code: 'DUPLICATE_DECISION', path, lineNumber, message: `decision ${line.id} seen before` });
          continue;
        }
        seenDecisions.add(line.id);
        pending.set(line.id, { decision: line, timeMs, complete: line.reference?.requested === false });
      } else {
        const entry = pending.get(line.decisionId);
        if (!entry) {
          report({ code: 'ORPHAN_REFERENCE', path, lineNumber, message: `no pending decision ${line.decisionId}` });
        } else if (entry.reference) {
          report({ code: 'DUPLICATE_REFERENCE', path, lineNumber, message: `decision ${line.decisionId} has one` });
        } else {
          entry.reference = line;
          entry.complete = true;
        }
      }
      yield* drain(false);
    }
  }
  yield* drain(true);
}

/**
 * The files of a rotated log, oldest first: for `path` `/var/log/adacompress/decisions.jsonl` these are
 * `decisions.000001.jsonl`, `decisions.000002.jsonl`, ... in that directory (sorted by number, not by name, so a
 * set that outgrows six digits still sorts right).
 */
export async function listDecisionLogFiles(path: string): Promise<string[]> {
  const { directory, stem, extension } = splitLogPath(path);
  const pattern = rotatedNamePattern(stem, extension);
  let names: string[];
  try {
    names = await readdir(directory);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return names
    .map((name) => ({ name, match: pattern.exec(name) }))
    .filter((entry): entry is { name: string; match: RegExpExecArray } => entry.match !== null)
    .map((entry) => ({ name: entry.name, sequence: Number(entry.match[1]) }))
    .sort((a, b) => a.sequence - b.sequence)
    .map((entry) => join(directory, entry.name));
}

/** `dir/decisions.jsonl` -> directory `dir`, stem `decisions`, extension `.jsonl` (default `.jsonl` when none). */
export function splitLogPath(path: string): { directory: string; stem: string; extension: string } {
  const name = basename(path);
  const dot = name.lastIndexOf('.');
  const hasExtension = dot > 0;
  return {
    directory: dirname(path),
    stem: hasExtension ? name.slice(0, dot) : name,
    extension: hasExtension ? name.slice(dot) : '.jsonl',
  };
}

export function rotatedNamePattern(stem: string, extension: string): RegExp {
  const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${literal(stem)}\\.(\\d{6,})${literal(extension)}$`);
}

export function rotatedFileName(stem: string, extension: string, sequence: number): string {
  return `${stem}.${String(sequence).padStart(6, '0')}${extension}`;
}
