import type { EncodeAction, InspectedImage } from '../codec/types.ts';
import type { ImageLimits } from '../providers/types.ts';

/**
 * Where an image is sent, as calibration chose it for its provider/operation (feedback/calibration.ts): the smallest
 * resolution it may go at, and how cautious the choice is (`level` into the policy's ladder, 0 = safest).
 */
export interface OperatingPoint {
  /** Smallest longest side (px) the image may be sent at; null = as stored (no resize). */
  floor: number | null;
  level: number;
  /**
   * The API's documented working side does not cap this point: calibration found that ceiling loses answers on this
   * backend (it works at a higher resolution than documented), so the stored size goes as it is.
   */
  aboveWorkingSide?: boolean;
  /**
   * A ceiling as well as a floor: the policy sends at most this JPEG quality and at most the floor's side (so, on a
   * safe-rung grid, a model's level never sends more than the safe rung at the same point). Absent = no ceiling.
   */
  maxQuality?: number;
}

/** Where a decision is made: policies may be chosen per provider and operation. */
export interface DecisionContext {
  provider: string;
  operation: string;
  /** The API's limits for this operation: an action is fitted into them (sides, working resolution). */
  limits?: ImageLimits;
  /** The calibrated operating point; absent = the policy's own default (no calibration). */
  point?: OperatingPoint;
}

export interface Decision {
  /** What is sent: the quality and, when the image is resized, the longest side in pixels. */
  action: EncodeAction;
  /** Index into the model's action list (-1 when the action is not from it: a safe or fixed rule). */
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
  /**
   * The calibrated dimension of its choices, safest first: agreement thresholds for a model that predicts agreement,
   * JPEG qualities for a fixed rule. Calibration moves an operating point's `level` along it. Absent (a router, which
   * has one per model it routes to: ask it for the policy of a context): a single level.
   */
  readonly ladder?: readonly number[];
  /**
   * What the ladder's levels are: agreement thresholds on a model's predictions ('agreement'), which calibration
   * makes earn trust from below a model-free safe rung, or JPEG qualities of a rule ('quality').
   */
  readonly ladderKind?: 'agreement' | 'quality';
  /** The level it was trained to run at on its own backend (a model's cross-validated operating point). */
  readonly trainedLevel?: number;
  decide(image: InspectedImage, context: DecisionContext): Promise<Decision>;
}
