import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The shared data set (../shared/data beside the repository, where CI has it): paths and the fixed split, for tests,
 * benchmarks and scripts alike.
 */
export const sharedData = fileURLToPath(new URL('../../shared/data/', import.meta.url));
export const imagenetDir = path.join(sharedData, 'images', 'imagenet-sample');
export const facesDir = path.join(sharedData, 'images', 'faces');
export const hasSharedData = existsSync(imagenetDir);
export const skipWithoutData = hasSharedData ? false : `needs ${imagenetDir} (the shared data set); absent here`;

/** The validation split of imagenet-sample: sorted names, every 5th (index % 5 == 4). */
export const validationPhotos = (): string[] => splitOf((i) => i % 5 === 4);

/** The training split of imagenet-sample: the other four in five. */
export const trainingPhotos = (): string[] => splitOf((i) => i % 5 !== 4);

/**
 * A fifth of the training split held out from a model refitted on the rest (scripts/levels-fold-cv.sh): every 5th
 * training photo (index % 5 == 4 within the training split), so a choice that depends on a model's per-photo
 * predictions is made on photos the model never saw, without touching validation.
 */
export const heldOutFoldPhotos = (): string[] => trainingPhotos().filter((_, i) => i % 5 === 4);

const splitOf = (inSplit: (index: number) => boolean): string[] =>
  readdirSync(imagenetDir)
    .sort()
    .filter((_, i) => inSplit(i))
    .map((name) => path.join(imagenetDir, name));

export const readPhoto = (file: string): Buffer => readFileSync(file);
