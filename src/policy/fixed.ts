import type { InspectedImage } from '../codec/types.ts';
import { effectiveAction } from './actions.ts';
import type { Decision, DecisionContext, Policy } from './types.ts';

/**
 * A fixed rule: the paper's q75 baseline, the controller's safe action, and the policy when no model is configured.
 * It sends its own quality; the resolution is the operating point's floor (calibration may lower it), else the stored
 * size, always within the API's limits. Its ladder is its one quality: an operator's explicit quality is kept.
 */
export class FixedQualityPolicy implements Policy {
  readonly id: string;
  readonly ladder: readonly number[];
  readonly ladderKind = 'quality';
  readonly trainedLevel = 0;
  readonly #quality: number;

  constructor(quality: number, id = `fixed-q${quality}`) {
    if (!Number.isInteger(quality) || quality < 1 || quality > 100) {
      throw new RangeError(`FixedQualityPolicy: quality must be an integer 1..100, got ${quality}`);
    }
    this.#quality = quality;
    this.id = id;
    this.ladder = Object.freeze([quality]);
  }

  async decide(image: InspectedImage, context: DecisionContext): Promise<Decision> {
    const quality = this.#quality;
    const floor = context.point?.floor;
    // -1: a fixed rule has no model action list; its action is fully described by `action`.
    const action = effectiveAction(floor ? { quality, maxSide: floor } : { quality }, image, context.limits) ?? {
      quality,
    };
    return { action, actionIndex: -1, propensity: 1, modelId: this.id };
  }
}
