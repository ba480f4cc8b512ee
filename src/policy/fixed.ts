import type { InspectedImage } from '../codec/types.ts';
import type { Decision, DecisionContext, Policy } from './types.ts';

/** Always the same quality: the paper's q75 baseline, the safe fallback, and the policy when no model is configured. */
export class FixedQualityPolicy implements Policy {
  readonly id: string;
  readonly #quality: number;

  constructor(quality: number) {
    if (!Number.isInteger(quality) || quality < 1 || quality > 100) {
      throw new RangeError(`FixedQualityPolicy: quality must be an integer 1..100, got ${quality}`);
    }
    this.#quality = quality;
    this.id = `fixed-q${quality}`;
  }

  async decide(_image: InspectedImage, _context: DecisionContext): Promise<Decision> {
    // actionIndex 0: a fixed policy has a one-action list of its own.
    return { action: { quality: this.#quality }, actionIndex: 0, propensity: 1, modelId: this.id };
  }
}
