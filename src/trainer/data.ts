/**
 * The trainer's data: full-information records (one line per image and API: the answer at every grid action) and the fixed
 * train/validation split. Shared by collect, train and evaluate.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Answer } from '../answer.ts';
import type { EncodeAction } from '../codec/types.ts';
import type { FeatureHeader } from '../policy/features.ts';
import type { ImageLimits } from '../providers/types.ts';

/**
 * Version of collect's line format. 2: the joint grid (resolution x quality), one outcome per distinct thing sent and
 * per grid action the index of its outcome. 1: JPEG qualities at the stored size only; still read (as a grid of those
 * qualities), never written. A line of a newer version is refused with an error naming the file.
 */
export const COLLECT_SCHEMA_VERSION = 2;

/** ../shared/data beside the repository, resolved from this file so the working directory does not matter. */
export const defaultDataDir = fileURLToPath(new URL('../../../shared/data', import.meta.url));
export const defaultImagenetDir = `${defaultDataDir}/images/imagenet-sample`;
export const defaultFacesDir = `${defaultDataDir}/images/faces`;
export const defaultCollectDir = fileURLToPath(new URL('../../.data/collect', import.meta.url));

/** What one upload got back. `answer` null: the API answered an error or something unreadable. */
export interface SentOutcome {
  /** What was sent: the effective action (maxSide only when it resized). */
  action: EncodeAction;
  /** Pixel size of what went up. */
  width: number;
  height: number;
  bytes: number;
  status: number;
  answer: Answer | null;
}

/** One image sent at every distinct action of the grid to one API (`key` = provider/operation). */
export interface CollectedRecord {
  v: number;
  key: string;
  /** The file name, for reports; not an identity (two folders may both hold a `dog.jpg`). */
  image: string;
  /**
   * sha256 (hex) of the file's bytes: the image's identity (collect resumes by it, readRecords keeps one record per
   * hash). Absent from records written before it existed: those are keyed by name.
   */
  hash?: string;
  split: Split;
  original: { bytes: number; width: number; height: number; format: string; sourceQuality?: number };
  /** Every header fact features are computed from (since features v2): features of a later version need no image. */
  header?: FeatureHeader;
  /** Features the policy sees for the original, with the version of the code that computed them. */
  features: { version: number; values: number[] };
  /** The operation's limits the grid was fitted to (absent in version 1 records: no resizing). */
  limits?: ImageLimits;
  /** The grid swept, in order (a model trained on this data lists these actions). */
  grid: EncodeAction[];
  /** Per grid action, the index in `sent` of what it sends for this image (several share one on a small image). */
  sentBy: number[];
  /** The distinct uploads, each sent once. */
  sent: SentOutcome[];
  /**
   * The client's own file sent unchanged (what a client without the proxy gets): for references "as the client would
   * have sent it". Absent in version 1 records and for unsendable images.
   */
  asIs?: Omit<SentOutcome, 'action'>;
  /** Why nothing could be sent (the image is under the API's minimum side); then `sent` is empty. */
  unsendable?: string;
}

/** A version 1 line: every quality at the stored size. */
interface RecordV1 extends Omit<CollectedRecord, 'grid' | 'sentBy' | 'sent' | 'limits' | 'unsendable'> {
  outcomes: { quality: number; bytes: number; status: number; answer: Answer | null }[];
}

/** A version 1 record as a grid of its qualities at the stored size (what it was). */
function fromVersion1(record: RecordV1): CollectedRecord {
  const { outcomes, ...rest } = record;
  return {
    ...rest,
    grid: outcomes.map((o) => ({ quality: o.quality })),
    sentBy: outcomes.map((_, i) => i),
    sent: outcomes.map((o) => ({
      action: { quality: o.quality },
      width: record.original.width,
      height: record.original.height,
      bytes: o.bytes,
      status: o.status,
      answer: o.answer,
    })),
  };
}

export type Split = 'train' | 'validation';

/** The fixed split of the data README: sorted file names, index % 5 == 4 is validation. */
export function splitOf(index: number): Split {
  return index % 5 === 4 ? 'validation' : 'train';
}

const IMAGE_FILE = /\.(jpe?g|png|webp)$/i;

/** The images of a folder with their fixed split, sorted by name. */
export function listImages(dir: string): { name: string; split: Split }[] {
  if (!existsSync(dir)) throw new Error(`image folder ${dir} does not exist`);
  return readdirSync(dir)
    .filter((name) => IMAGE_FILE.test(name))
    .sort()
    .map((name, i) => ({ name, split: splitOf(i) }));
}

/** The names of a folder's images in one part of the fixed split, sorted. */
export const imagesOfSplit = (dir: string, split: Split): string[] =>
  listImages(dir)
    .filter((image) => image.split === split)
    .map((image) => image.name);

/** The identity of an image's bytes (CollectedRecord.hash). */
export const contentHash = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** What a record is one of: its content hash, or its name for records older than hashes. */
export const recordIdentity = (record: Pick<CollectedRecord, 'hash' | 'image'>): string =>
  record.hash ? `sha256:${record.hash}` : `name:${record.image}`;

/** File name of an API's collected data inside the collect folder: `rekognition/DetectLabels` -> `rekognition__DetectLabels.jsonl`. */
export function recordFileName(key: string): string {
  return `${key.replace(/[^A-Za-z0-9_.-]+/g, '__')}.jsonl`;
}

/**
 * Read a collect file; a torn last line (interrupted write) is skipped. Later lines for the same image (same content
 * hash, or same name for records without one) win, so a version 2 line written over a version 1 one replaces it.
 * Version 1 lines are read as a grid of their qualities; a line of a newer version than this code throws.
 */
export async function readRecords(path: string): Promise<CollectedRecord[]> {
  if (!existsSync(path)) return [];
  const byImage = new Map<string, CollectedRecord>();
  for (const line of (await readFile(path, 'utf8')).split('\n')) {
    if (!line.trim()) continue;
    let parsed: { v?: unknown };
    try {
      parsed = JSON.parse(line) as { v?: unknown };
    } catch {
      continue;
    }
    const record = upgradeRecord(parsed, path);
    if (record) byImage.set(recordIdentity(record), record);
  }
  const order = (r: CollectedRecord) => `${r.image}\u0000${r.hash ?? ''}`;
  return [...byImage.values()].sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
}

/** One parsed line in the current shape; undefined for a line that is not a record at all. */
function upgradeRecord(line: { v?: unknown }, path: string): CollectedRecord | undefined {
  if (typeof line.v === 'number' && line.v > COLLECT_SCHEMA_VERSION) {
    throw new Error(
      `${path}: collect schema v${line.v} is newer than this code's v${COLLECT_SCHEMA_VERSION}: use a newer adacompress, or collect again into another --out`,
    );
  }
  if (line.v === 1) {
    const v1 = line as RecordV1;
    return Array.isArray(v1.outcomes) ? fromVersion1(v1) : undefined;
  }
  const record = line as CollectedRecord;
  if (record.v !== COLLECT_SCHEMA_VERSION || !Array.isArray(record.sent) || !Array.isArray(record.grid))
    return undefined;
  return record;
}

/** Per grid action of a record: the grid action, what it sent and what came back (undefined: nothing was sent). */
export function gridOutcomes(record: CollectedRecord): ({ grid: EncodeAction; outcome: SentOutcome } | undefined)[] {
  return record.grid.map((grid, g) => {
    const outcome = record.sent[record.sentBy[g] ?? -1];
    return outcome ? { grid, outcome } : undefined;
  });
}
