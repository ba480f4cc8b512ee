/**
 * The options of `adacompress train` and what a training produces: shared by the command (train.ts), training from
 * logs (logs.ts) and the model card (model-card.ts), so none of them imports another's module.
 */
import { z } from 'zod';
import { int, type loadOptions, num, option } from '../config/options.ts';
import { featureNames } from '../policy/features.ts';
import { defaultCollectDir } from './data.ts';
import type { Dataset, PolicyMetrics } from './dataset.ts';

export const ENV_PREFIX = 'ADACOMPRESS_TRAIN_';

const intList = z
  .string()
  .transform((v) => v.split(',').map((s) => Number(s.trim())))
  .pipe(z.array(z.number().int().positive()).min(1));

export const trainOptions = {
  key: option(
    z.string().regex(/^[a-z]+\/.+$/, 'provider/operation'),
    'rekognition/DetectLabels',
    'provider/operation the policy is for.',
  ),
  data: option(z.string(), defaultCollectDir, 'Folder of collected data (collect --out); "" = none.', '.data/collect'),
  logs: option(z.string(), '', 'Decision log path (rotated files are found); "" = none.'),
  out: option(z.string(), '', 'Write the candidate model here (a .md model card goes beside it).'),
  promoteTo: option(z.string(), '', 'Replace this live model only if the candidate beats it on held-out data.'),
  accuracyTarget: option(
    num(0, 1),
    0.95,
    'Accuracy the greedy policy must keep on the hardest held-out folds of repeated cross-validation (see --fold-quantile).',
  ),
  foldQuantile: option(
    num(0, 1),
    0.2,
    'Quantile of per-fold CV accuracies that must meet the target (0.2 = 4 folds out of 5); 0 = the pooled mean.',
  ),
  cvRepeats: option(int(1), 4, 'Repetitions of 5-fold cross-validation (each with its own fold assignment).'),
  ensemble: option(int(1), 5, 'Nets (seeds) averaged into the exported policy (one MLP with their hidden units).'),
  sizeWeight: option(
    num(0),
    0,
    'Fixed size weight of the reward; 0 = tune it by cross-validation on the training split.',
  ),
  threshold: option(
    num(0, 1),
    0,
    'Fixed agreement threshold of the operating point (one of the ladder); 0 = chosen by cross-validation.',
  ),
  reference: option(
    z.enum(['auto', 'q75', 'original']),
    'auto',
    "What agreement is measured against: quality 75 at the stored size (the paper's), the client's file as it is, or auto: the proxy's default reference (--reference-kind's default, the client's original; text always the original).",
  ),
  features: option(
    z.enum(['all', 'basic', 'size', 'none']),
    'all',
    'Image features the network sees: all, the 5 header scalars of version 1, the size only (megapixels, aspect), or none (action-input network only: quality and the side relative to the image).',
  ),
  maxQuality: option(
    int(5),
    75,
    'Never choose an action above this quality at the stored size (the q75 reference already agrees with itself: higher only costs bytes).',
  ),
  architecture: option(
    z.enum(['auto', 'action-input', 'per-action', 'column-means']),
    'auto',
    "Network: one over image + action features (quality, side vs the image) with 2 outputs, one output per action, no network (each action's training mean: the baseline), or auto: the one cross-validation on the training split finds best.",
  ),
  monotone: option(
    z.enum(['none', 'quality', 'side-quality']),
    'none',
    'Cap each predicted agreement by that of every safer action in the exported agreement head: none, the same side at higher qualities, or also larger sides.',
  ),
  images: option(
    z.string(),
    '',
    'Image folders (comma-separated) to recompute features of older records from; "" = the shared data folders.',
  ),
  hidden: option(intList, [16], 'Hidden layer widths (the action-input network has one hidden layer).', '16'),
  epochs: option(int(1), 30, 'Training epochs.'),
  seed: option(int(0), 1, 'Seed of initialisation and shuffling.'),
  modelId: option(z.string(), '', 'Model id (default: derived from key, data and seed).'),
};

export type TrainConfig = Omit<ReturnType<typeof loadOptions<typeof trainOptions>>, 'help'>;

export interface CvPoint {
  accuracy: number;
  sizeRatio: number;
  hardFoldAccuracy: number;
  targetMet: boolean;
}

export interface TrainResult {
  bytes: Uint8Array;
  modelId: string;
  sizeWeight: number;
  /** The operating point's agreement threshold (metadata operating_point). */
  threshold?: number;
  /** Number of actions the model scores. */
  actions?: number;
  validation?: PolicyMetrics;
  /** The argmax-of-scores rule at the chosen size weight, and the threshold rule at the chosen threshold. */
  crossValidation?: CvPoint & { threshold?: CvPoint & { threshold: number } };
  trainImages: number;
  /** The model family trained (and, with --architecture auto, each family's cross-validated operating point). */
  architecture?: string;
  architectureTrials?: {
    architecture: string;
    threshold: { threshold: number; accuracy: number; sizeRatio: number; hardFoldAccuracy: number };
    met: boolean;
  }[];
  dataset?: Dataset;
  /** How it was trained (ensemble size, accuracy target, CV rule), for the model card. */
  summary?: Record<string, unknown>;
}

/** The 5 header scalars version 1 had (log bpp, source quality, is-JPEG, log megapixels, log aspect). */
export const BASIC_FEATURES = [0, 1, 2, 3, 4];

/** Feature indices of each --features choice. */
export const FEATURE_SETS: Record<'all' | 'basic' | 'size' | 'none', number[]> = {
  all: featureNames.map((_, i) => i),
  basic: BASIC_FEATURES,
  size: [3, 4],
  none: [],
};
