/**
 * The trainer's data: full-information records (one line per image and API: the answer at every action) and the fixed
 * train/validation split. Shared by collect, train and evaluate.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Answer } from '../answer.ts';
import type { FeatureHeader } from '../policy/features.ts';

export const COLLECT_SCHEMA_VERSION = 1;

/** ../shared/data beside the repository, resolved from this file so the working directory does not matter. */
export const defaultDataDir = fileURLToPath(new URL('../../../shared/data', import.meta.url));
export const defaultImagenetDir = `${defaultDataDir}/images/imagenet-sample`;
export const defaultFacesDir = `${defaultDataDir}/images/faces`;
export const defaultCollectDir = fileURLToPath(new URL('../../.data/collect', import.meta.url));

/** What one action's upload got back. `answer` null: the API answered an error or something unreadable. */
export interface ActionOutcome {
  quality: number;
  bytes: number;
  status: number;
  answer: Answer | null;
}

/** One image sent at every action to one API (`key` = provider/operation). */
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
  outcomes: ActionOutcome[];
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
 * hash, or same name for records without one) win.
 */
export async function readRecords(path: string): Promise<CollectedRecord[]> {
  if (!existsSync(path)) return [];
  const byImage = new Map<string, CollectedRecord>();
  for (const line of (await readFile(path, 'utf8')).split('\n')) {
    if (!line.trim()) continue;
    let record: CollectedRecord;
    try {
      record = JSON.parse(line) as CollectedRecord;
    } catch {
      continue;
    }
    if (record.v !== COLLECT_SCHEMA_VERSION || !Array.isArray(record.outcomes)) continue;
    byImage.set(recordIdentity(record), record);
  }
  const order = (r: CollectedRecord) => `${r.image}\u0000${r.hash ?? ''}`;
  return [...byImage.values()].sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
}
