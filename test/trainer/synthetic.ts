/**
 * Synthetic full-information rows over the real action grid, for trainer tests. Every image is 500x375 (so every side
 * from 512 up sends the stored size, as on ImageNet photos); feature 0 decides how much it can lose:
 *  - easy images (feature 0 <= 0) keep their answer at any quality at the stored size and at 384 px, and from q15 at 256 px;
 *  - hard images need q45 at the stored size, q65 at 384 px, and lose it at 256 px whatever the quality.
 * Size ratio vs the reference (q75 at the stored size) = (0.2 + 0.8 q / 75) x (side / 500)^2.
 */
import type { EncodeAction } from '../../src/codec/types.ts';
import { actionKey, candidatesFor, effectiveAction, gridActions } from '../../src/policy/actions.ts';
import { FEATURE_VERSION, featureNames } from '../../src/policy/features.ts';
import { seededRng } from '../../src/policy/rng.ts';
import type { ImageLimits } from '../../src/providers/types.ts';
import type { Dataset, ImageRow } from '../../src/trainer/dataset.ts';

export const LIMITS: ImageLimits = { minSide: 80, maxSide: 10_000, maxBytes: 5 * 1024 * 1024 };
export const WIDTH = 500;
export const HEIGHT = 375;

/** Lowest quality that keeps the answer at this side, for an easy or a hard image (Infinity: none does). */
export function safeQuality(hard: boolean, side: number): number {
  if (side >= WIDTH) return hard ? 45 : 5;
  if (side >= 384) return hard ? 65 : 5;
  return hard ? Number.POSITIVE_INFINITY : 15;
}

export const ratioOf = (action: EncodeAction) =>
  (0.2 + (0.8 * action.quality) / 75) * ((action.maxSide ?? WIDTH) / WIDTH) ** 2;

export function gridRows(
  count: number,
  seed: number,
  split: (i: number) => 'train' | 'validation' = () => 'train',
): ImageRow[] {
  const rng = seededRng(seed);
  const size = { width: WIDTH, height: HEIGHT };
  const sent = gridActions.map((a) => effectiveAction(a, size, LIMITS)!);
  const candidates = candidatesFor(gridActions, size, LIMITS, undefined);
  return Array.from({ length: count }, (_, i) => {
    const features = Array.from({ length: featureNames.length }, () => rng() * 2 - 1);
    // The size features say what the image is (500x375), as features v2 would.
    features[3] = Math.log((WIDTH * HEIGHT) / 1e6);
    features[4] = Math.log(WIDTH / HEIGHT);
    const hard = features[0]! > 0;
    const accuracy = sent.map((a) => (a.quality >= safeQuality(hard, a.maxSide ?? WIDTH) ? 1 : 0));
    const ratio = sent.map(ratioOf);
    return {
      image: `img${i}`,
      split: split(i),
      features,
      featureVersion: FEATURE_VERSION,
      ...size,
      actions: gridActions,
      sent,
      candidates,
      accuracy,
      overlap: accuracy,
      bytes: ratio.map((r) => Math.round(r * 30000)),
      ratio,
      referenceBytes: 30000,
    };
  });
}

export function gridDataset(rows: ImageRow[], key = 'rekognition/DetectLabels'): Dataset {
  return { key, kind: 'labels', actions: gridActions, limits: LIMITS, reference: 'q75', rows, dropped: 0, stale: 0 };
}

/** The column of the grid that is this action (quality at a side; undefined side = stored size). */
export const column = (quality: number, maxSide?: number) =>
  gridActions.findIndex((a) => actionKey(a) === actionKey(maxSide === undefined ? { quality } : { quality, maxSide }));
