/**
 * Collected records carry the features of the code that collected them. When FEATURE_VERSION changes, features are
 * recomputed here without calling any API again: from the record's stored header facts when it has them (records
 * written since version 2), else from the image file's header (inspect only, no decode), found by name in the image
 * folders. Outcomes (the expensive part) are reused as they are.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inspectImage } from '../codec/inspect.ts';
import { FEATURE_VERSION, type FeatureHeader, featureHeaderOf, featuresFromHeader } from '../policy/features.ts';
import { type CollectedRecord, contentHash, defaultFacesDir, defaultImagenetDir, readRecords } from './data.ts';

export const defaultImageDirs: string[] = [defaultImagenetDir, defaultFacesDir];

/** Which stored headers are complete enough for the current version (version 2 facts present for JPEGs). */
function headerIsComplete(header: FeatureHeader | undefined): header is FeatureHeader {
  return header !== undefined && (header.format !== 'jpeg' || header.lumaQuantMean !== undefined);
}

export interface Refeatured {
  records: CollectedRecord[];
  /** Records whose features were recomputed (from a stored header or from the image file). */
  recomputed: number;
  fromImages: number;
}

/** Bring every record's features to FEATURE_VERSION. Throws when an image needed for that is not found. */
export async function withCurrentFeatures(
  records: readonly CollectedRecord[],
  imageDirs: readonly string[] = defaultImageDirs,
): Promise<Refeatured> {
  let recomputed = 0;
  let fromImages = 0;
  const out: CollectedRecord[] = [];
  for (const record of records) {
    if (record.features.version === FEATURE_VERSION) {
      out.push(record);
      continue;
    }
    let header = record.header;
    if (!headerIsComplete(header)) {
      header = await headerFromImage(record, imageDirs);
      fromImages++;
    }
    recomputed++;
    out.push({
      ...record,
      header,
      features: { version: FEATURE_VERSION, values: Array.from(featuresFromHeader(header)) },
    });
  }
  return { records: out, recomputed, fromImages };
}

/** The header of the record's image file, found by name; with a content hash, only a file with those bytes counts. */
async function headerFromImage(record: CollectedRecord, imageDirs: readonly string[]): Promise<FeatureHeader> {
  const name = record.image;
  for (const dir of imageDirs) {
    const path = join(dir, name);
    if (!existsSync(path)) continue;
    const bytes = await readFile(path);
    if (record.hash && contentHash(bytes) !== record.hash) continue;
    return featureHeaderOf(await inspectImage(bytes, { maxInputPixels: 100_000_000 }));
  }
  throw new Error(
    `features v${FEATURE_VERSION}: record for ${name} has older features and the image is not in ${imageDirs.join(', ')} (pass --images or collect again)`,
  );
}

/** readRecords + withCurrentFeatures, with one line on stderr when features were recomputed. */
export async function readRecordsWithCurrentFeatures(
  path: string,
  imageDirs: readonly string[] = defaultImageDirs,
): Promise<CollectedRecord[]> {
  const result = await withCurrentFeatures(await readRecords(path), imageDirs);
  if (result.recomputed > 0) {
    console.error(
      `features: recomputed v${FEATURE_VERSION} features of ${result.recomputed} records (${result.fromImages} from image headers)`,
    );
  }
  return result.records;
}
