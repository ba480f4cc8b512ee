import type { EncodeAction } from '../codec/types.ts';
import type { ImageLimits } from '../providers/types.ts';

/**
 * The action space: JPEG quality x resolution (the longest side sent), and how an action becomes what one image of one
 * API may actually be sent. The one place the grid is defined; the trainer's collect sweeps it, models list it.
 */

/** Qualities of the grid: the paper's 5..75 in steps of 10, and 85 (above the q75 reference, for low resolutions). */
export const QUALITIES: readonly number[] = Object.freeze([5, 15, 25, 35, 45, 55, 65, 75, 85]);

/**
 * Longest sides of the grid, largest first; null = as stored. Services resize uploads to their working resolution
 * (classifiers look at ~224-416 px, detectors for small faces at ~1920), so the ladder spans both.
 */
export const SIDES: readonly (number | null)[] = Object.freeze([null, 2048, 1536, 1024, 768, 512, 384, 256]);

/** The joint grid: every side x every quality. */
export const gridActions: readonly EncodeAction[] = Object.freeze(
  SIDES.flatMap((side) =>
    QUALITIES.map((quality) => Object.freeze(side === null ? { quality } : { quality, maxSide: side })),
  ),
);

/** The paper's action set: JPEG qualities 5, 15, ..., 95 at the stored size (the placeholder rule's and older models'). */
export const paperActions: readonly EncodeAction[] = Object.freeze(
  Array.from({ length: 10 }, (_, i) => Object.freeze({ quality: 5 + 10 * i })),
);

/**
 * Calibrated levels for policies that predict agreement: the threshold a chosen action's predicted agreement must clear,
 * safest first. Fine near the usual targets (0.95-0.99), coarse far from them.
 */
export const AGREEMENT_LADDER: readonly number[] = Object.freeze([
  0.999, 0.995, 0.99, 0.985, 0.98, 0.975, 0.97, 0.96, 0.95, 0.94, 0.92, 0.9, 0.85, 0.8, 0.7,
]);

export interface ImageSize {
  width: number;
  height: number;
}

/**
 * The longest side one image is sent at under an action and the API's limits: the action's side, never above the
 * stored size, the API's maximum side or its working side (what it resizes to anyway), and never so small that the
 * shorter side falls under the API's minimum. Undefined when even the stored size is under that minimum.
 */
export function sentLongSide(action: EncodeAction, image: ImageSize, limits?: ImageLimits): number | undefined {
  const long = Math.max(image.width, image.height);
  const short = Math.min(image.width, image.height);
  let side = Math.min(long, action.maxSide ?? long, limits?.maxSide ?? long, limits?.workingSide ?? long);
  if (limits) {
    if (short < limits.minSide) return undefined;
    // The shorter side after scaling must stay at or above the minimum: raise the long side as far as needed.
    const needed = Math.ceil((limits.minSide * long) / short);
    if (Math.round((short * side) / long) < limits.minSide) side = Math.min(long, needed);
  }
  return side;
}

/** The action as one image is sent: `maxSide` only when it really resizes. */
export function effectiveAction(
  action: EncodeAction,
  image: ImageSize,
  limits?: ImageLimits,
): EncodeAction | undefined {
  const side = sentLongSide(action, image, limits);
  if (side === undefined) return undefined;
  return side < Math.max(image.width, image.height)
    ? { quality: action.quality, maxSide: side }
    : { quality: action.quality };
}

/** A stable key of an effective action (two grid actions that send the same thing share it). */
export const actionKey = (action: EncodeAction): string => `${action.quality}@${action.maxSide ?? 'full'}`;

export interface Candidate {
  /** Index in the action list (the first of the grid actions that send the same thing). */
  index: number;
  /** What it sends for this image. */
  action: EncodeAction;
}

/**
 * The distinct things an image may be sent as under a list of actions: fitted to the API's limits, deduplicated (on a
 * small image many sides send the stored size), and never below the operating point's floor resolution (null: only
 * the largest size the limits allow). With `maxQuality` (and a floor), never above the floor's side nor that quality
 * either, unless no action fits under that ceiling.
 */
export function candidatesFor(
  actions: readonly EncodeAction[],
  image: ImageSize,
  limits: ImageLimits | undefined,
  floor: number | null | undefined,
  maxQuality?: number,
): Candidate[] {
  const all = floorCandidates(actions, image, limits, floor);
  if (maxQuality === undefined || floor === undefined) return all;
  const floorSide = Math.min(...all.map((c) => sentLongSide(c.action, image, limits) ?? Number.POSITIVE_INFINITY));
  const capped = all.filter(
    (c) => c.action.quality <= maxQuality && (sentLongSide(c.action, image, limits) ?? 0) <= floorSide,
  );
  return capped.length > 0 ? capped : all;
}

function floorCandidates(
  actions: readonly EncodeAction[],
  image: ImageSize,
  limits: ImageLimits | undefined,
  floor: number | null | undefined,
): Candidate[] {
  const largest = sentLongSide({ quality: 100 }, image, limits);
  if (largest === undefined) return [];
  const lowest = floor === undefined ? 0 : floor === null ? largest : Math.min(floor, largest);
  const seen = new Set<string>();
  const candidates: Candidate[] = [];
  actions.forEach((action, index) => {
    const side = sentLongSide(action, image, limits);
    if (side === undefined || side < lowest) return;
    const sent = effectiveAction(action, image, limits)!;
    const key = actionKey(sent);
    if (seen.has(key)) return;
    seen.add(key);
    candidates.push({ index, action: sent });
  });
  return candidates;
}
