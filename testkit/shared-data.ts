import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { imagesOfSplit, type Split, splitOf } from '../src/trainer/data.ts';

/**
 * The shared data set (../shared/data beside the repository, where CI has it): paths and the fixed split, for tests,
 * benchmarks and scripts alike.
 */
export const sharedData = fileURLToPath(new URL('../../shared/data/', import.meta.url));
export const imagenetDir = path.join(sharedData, 'images', 'imagenet-sample');
export const facesDir = path.join(sharedData, 'images', 'faces');
export const hasSharedData = existsSync(imagenetDir);
export const skipWithoutData = hasSharedData ? false : `needs ${imagenetDir} (the shared data set); absent here`;

/** The validation split of imagenet-sample: the trainer's fixed split (sorted names, every 5th). */
export const validationPhotos = (): string[] => imagenetSplit('validation');

/** The training split of imagenet-sample: the other four in five. */
export const trainingPhotos = (): string[] => imagenetSplit('train');

/**
 * A fold of the training split for choices that depend on a model's per-photo predictions (scripts/levels-fold-cv.sh):
 * the same fixed rule applied within the training split. A model is refitted on the fit part and judged on the
 * held-out part, which it never saw, without touching validation.
 */
export const heldOutFoldPhotos = (): string[] => trainingPhotos().filter((_, i) => splitOf(i) === 'validation');
export const fitFoldPhotos = (): string[] => trainingPhotos().filter((_, i) => splitOf(i) === 'train');

const imagenetSplit = (split: Split): string[] =>
  imagesOfSplit(imagenetDir, split).map((name) => path.join(imagenetDir, name));

export const readPhoto = (file: string): Buffer => readFileSync(file);
