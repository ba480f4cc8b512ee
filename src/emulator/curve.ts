import { answerLabels, baiduGeneral, faceppSceneAndObject, rekognitionLabels } from './answers.ts';
import type { LabelsBackend } from './config.ts';
import type { Inference } from './inference.ts';
import type { RatioBox } from './models.ts';

/**
 * The environment's ground truth: what each emulated API answers for an image, reduced to what the paper's metric
 * compares, computed with the same answer functions as the HTTP routes (so in-process equals over-the-wire).
 */

export type CurveApi = 'rekognition' | 'baidu' | 'facepp' | 'faces';
export const curveApis: readonly CurveApi[] = ['rekognition', 'baidu', 'facepp', 'faces'];

export type CurveAnswer = { labels: string[] } | { faces: RatioBox[] };

export type LabelApi = Exclude<CurveApi, 'faces'>;

/** The three label APIs' answers from one classification and one detection of the image (the curve's hot path). */
export async function labelAnswers(
  inference: Inference,
  image: Buffer,
  labelsBackend: LabelsBackend = 'detector+classifier',
): Promise<Record<LabelApi, { labels: string[] }>> {
  const [classes, objects] = await Promise.all([inference.run('classify', image), inference.run('objects', image)]);
  const withDetector = labelsBackend === 'detector+classifier';
  return {
    rekognition: {
      labels: answerLabels('rekognition', rekognitionLabels(classes, withDetector ? objects : undefined)),
    },
    baidu: { labels: answerLabels('baidu', baiduGeneral(classes, 0)) },
    facepp: { labels: answerLabels('facepp', faceppSceneAndObject(objects, classes, '', '')) },
  };
}

/** The answer of `api` for `image` with default request parameters, as a client that sets none would get it. */
export async function curveAnswer(
  inference: Inference,
  api: CurveApi,
  image: Buffer,
  labelsBackend: LabelsBackend = 'detector+classifier',
): Promise<CurveAnswer> {
  if (api === 'faces') return { faces: (await inference.run('faces', image)).map((f) => f.box) };
  return (await labelAnswers(inference, image, labelsBackend))[api];
}

function iou(a: RatioBox, b: RatioBox): number {
  const w = Math.max(0, Math.min(a.left + a.width, b.left + b.width) - Math.max(a.left, b.left));
  const h = Math.max(0, Math.min(a.top + a.height, b.top + b.height) - Math.max(a.top, b.top));
  const inter = w * h;
  const union = a.width * a.height + b.width * b.height - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * Agreement of `answer` with the reference answer (quality 75), 0..1. Labels: the paper's metric, 1 when the reference's
 * top-1 label is among the returned labels (an empty reference agrees only with an empty answer). Faces: recall of the
 * reference faces at IoU >= 0.5 (no reference faces: 1 when none are found either, else 0).
 */
export function agreement(reference: CurveAnswer, answer: CurveAnswer): number {
  if ('labels' in reference && 'labels' in answer) {
    const top = reference.labels[0];
    if (top === undefined) return answer.labels.length === 0 ? 1 : 0;
    return answer.labels.includes(top) ? 1 : 0;
  }
  if ('faces' in reference && 'faces' in answer) {
    if (reference.faces.length === 0) return answer.faces.length === 0 ? 1 : 0;
    const found = reference.faces.filter((r) => answer.faces.some((f) => iou(r, f) >= 0.5)).length;
    return found / reference.faces.length;
  }
  throw new TypeError('answers of different kinds');
}
