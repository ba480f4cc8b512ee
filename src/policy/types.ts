import type { EncodeAction, InspectedImage } from '../codec/types.ts';

/** Where a decision is made: policies may be chosen per provider and operation. */
export interface DecisionContext {
  provider: string;
  operation: string;
}

export interface Decision {
  action: EncodeAction;
  /** Index into the model's action list. */
  actionIndex: number;
  /** Probability with which this action was chosen (1 for a deterministic policy): the trainer's off-policy weights. */
  propensity: number;
  /** Stable id of the model (or fixed rule) that decided. */
  modelId: string;
  /** The features the policy saw, so the trainer can learn from logs without the image. Absent for feature-less policies. */
  features?: { version: number; values: number[] };
}

/** Image features in, action with propensity out. Implementations: fixed quality, ONNX network. */
export interface Policy {
  readonly id: string;
  /** The reward weights it was trained for (a model's `reward_weights`): how its agreement is judged online. */
  readonly rewardWeights?: Readonly<Record<string, number>>;
  decide(image: InspectedImage, context: DecisionContext): Promise<Decision>;
}
