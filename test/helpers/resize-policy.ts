import { effectiveAction } from '../../src/policy/actions.ts';
import type { Policy } from '../../src/policy/types.ts';

/** A policy that sends every image at `maxSide` px on its longest side (fitted to the API's limits), at `quality`. */
export function resizingPolicy(maxSide: number, quality = 80): Policy {
  const id = `resize-${maxSide}`;
  return {
    id,
    async decide(image, context) {
      const action = effectiveAction({ quality, maxSide }, image, context.limits) ?? { quality };
      return { action, actionIndex: -1, propensity: 1, modelId: id };
    },
  };
}
