/**
 * The one definition of "how good was this answer, and was it worth its bytes", per task kind. The controller (online
 * agreement), the trainer (dataset targets, the size weight's trade-off), the promotion gate and off-policy evaluation
 * all take their measure from `rewardSpec(kind, weights)`, and a model's `reward_weights` metadata is such a weight
 * set, so online and offline judge an operation by the same yardstick.
 *
 *   agreement(reference, answer) = weighted mean of the measures in rewards.ts (0..1; 0 for a failed upload)
 *   reward(agreement, sizeRatio) = agreement - size * sizeRatio
 *
 * The reward is linear in both terms on purpose: the trainer predicts agreement and size per action and combines
 * them with any size weight without refitting.
 */
import type { Answer } from '../answer.ts';
import type { TaskKind } from '../providers/types.ts';
import {
  faceRecall,
  isUsableReference,
  labelOverlap,
  paperAccuracy,
  textSimilarity,
  wordAgreement,
} from './rewards.ts';

/** What agreement is measured against: q75 at the stored size (the paper's), or the client's file as it is. */
export type ReferenceKind = 'q75' | 'original';

/**
 * The client's file: agreement then means the answer the client would have got calling the API directly. Against it,
 * q75 at the stored size is not safe by construction (on phone photos it loses about 2% of label answers: docs/
 * BENCHMARKS.md, photos run U), so the safe rung follows the reference (`safeQualityFor`).
 */
export const DEFAULT_REFERENCE_KIND: ReferenceKind = 'original';

/**
 * The safe rung's JPEG quality for a reference kind: the reference itself for q75; near the client's file for the
 * original (the codec never sends more than the client did, so a smaller original goes as it is).
 */
export const safeQualityFor = (kind: ReferenceKind): number => (kind === 'q75' ? 75 : 95);

/**
 * Kinds whose reference is not the configured one, online and offline alike. Text is judged against the client's
 * original: the q75 answer itself already loses words (docs/EMULATOR.md, "Text operations").
 */
export const referenceKindOverrides: Readonly<Partial<Record<TaskKind, ReferenceKind>>> = Object.freeze({
  text: 'original',
});

/** The reference of a kind: its override, else the configured kind. */
export const referenceKindOf = (kind: TaskKind, configured: ReferenceKind): ReferenceKind =>
  referenceKindOverrides[kind] ?? configured;

export interface RewardWeights {
  /** Weight of `paperAccuracy` (the reference's top-1 label is among the answer's). */
  accuracy: number;
  /** Weight of `labelOverlap` (confidence-weighted Jaccard of the label sets). */
  overlap: number;
  /** Weight of `faceRecall` at IoU 0.5. */
  faces: number;
  /** Weight of `textSimilarity` of the answers' text (characters: 1 - normalised edit distance). */
  text: number;
  /** Weight of `wordAgreement` of the answers' text (words: F1 of the word multisets). */
  words: number;
  /** Weight of the size ratio (bytes sent / reference bytes), subtracted. */
  size: number;
}

const none: RewardWeights = Object.freeze({ accuracy: 0, overlap: 0, faces: 0, text: 0, words: 0, size: 1 });

/**
 * Defaults per kind, size weight 1 as in the paper (so rewards stay on the published scale). Labels: the paper's
 * top-1 accuracy. Faces: recall of the reference's faces. Text: similarity of the text read. Compare: the match
 * (similarity labels, confidence-weighted) and the faces it was computed on, half each.
 */
export const defaultRewardWeights: Readonly<Record<TaskKind, Readonly<RewardWeights>>> = Object.freeze({
  labels: Object.freeze({ ...none, accuracy: 1 }),
  faces: Object.freeze({ ...none, faces: 1 }),
  text: Object.freeze({ ...none, words: 1 }),
  compare: Object.freeze({ ...none, overlap: 0.5, faces: 0.5 }),
});

/**
 * The measures that can say something about a kind's answers. A text answer has no labels or faces, and the other
 * kinds' answers no text: a weight on a measure outside this list would score every answer of the kind alike (the
 * placeholder model's `accuracy: 1` judged OCR answers 1 whatever text came back, so calibration saw no harm), so it
 * is dropped.
 */
export const MEASURES_OF: Readonly<Record<TaskKind, readonly AgreementMeasure[]>> = Object.freeze({
  labels: ['accuracy', 'overlap', 'faces'],
  faces: ['accuracy', 'overlap', 'faces'],
  compare: ['accuracy', 'overlap', 'faces'],
  text: ['text', 'words'],
});
export type AgreementMeasure = Exclude<keyof RewardWeights, 'size'>;

export interface RewardSpec {
  readonly kind: TaskKind;
  readonly weights: Readonly<RewardWeights>;
  /** 0..1: how well `answer` agrees with the reference answer. `undefined` answer (failed upload) is 0. */
  agreement(reference: Answer, answer: Answer | undefined): number;
  /** agreement - size * sizeRatio. */
  reward(agreement: number, sizeRatio: number): number;
  /**
   * Whether a reference answer can judge anything: for labels, the paper's rule (an API error or an empty answer is
   * no training sample); for the other kinds any answer is evidence (no face, no text is an answer too).
   */
  usableReference(reference: Answer | null | undefined): reference is Answer;
}

/**
 * The spec for a kind, with some weights replaced (e.g. a model's `reward_weights`, or the trainer's tuned size
 * weight). Unknown weight names, and weights of measures that cannot read the kind's answers (MEASURES_OF), are
 * ignored; with no agreement weight left above 0 the kind's defaults measure agreement.
 */
export function rewardSpec(kind: TaskKind, weights: Partial<Record<string, number>> = {}): RewardSpec {
  const base = defaultRewardWeights[kind];
  const applies = MEASURES_OF[kind];
  const valid = (name: keyof RewardWeights) => {
    const value = weights[name];
    return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
  };
  // Weights that say how to measure replace the defaults as a set (a measure they leave out weighs 0); none given
  // (a trained model card with only its size weight, or only weights for other kinds), the kind's defaults measure.
  const given = applies.some((name) => (valid(name) ?? 0) > 0);
  const pick = (name: AgreementMeasure) => (!applies.includes(name) ? 0 : given ? (valid(name) ?? 0) : base[name]);
  const measured: RewardWeights = {
    accuracy: pick('accuracy'),
    overlap: pick('overlap'),
    faces: pick('faces'),
    text: pick('text'),
    words: pick('words'),
    size: valid('size') ?? base.size,
  };
  const sumOfWeights = measured.accuracy + measured.overlap + measured.faces + measured.text + measured.words;
  return Object.freeze({
    kind,
    weights: Object.freeze(measured),
    agreement(reference: Answer, answer: Answer | undefined): number {
      // Terms with weight 0 are not computed (text similarity is the costly one).
      let sum = 0;
      if (measured.accuracy) sum += measured.accuracy * paperAccuracy(reference, answer);
      if (measured.overlap) sum += measured.overlap * labelOverlap(reference, answer);
      if (measured.faces) sum += measured.faces * faceRecall(reference, answer);
      if (answer && measured.text) sum += measured.text * textSimilarity(reference.text, answer.text);
      if (answer && measured.words) sum += measured.words * wordAgreement(reference.text, answer.text);
      return sum / sumOfWeights;
    },
    reward: (agreement: number, sizeRatio: number) => agreement - measured.size * sizeRatio,
    usableReference: (reference: Answer | null | undefined): reference is Answer =>
      kind === 'labels' ? isUsableReference(reference) : reference !== undefined && reference !== null,
  });
}
