import { answerLabels, baiduGeneral, faceppSceneAndObject, rekognitionLabels } from './answers.ts';
import { emulatorConfig } from './config.ts';
import type { Inference } from './inference.ts';
import type { RatioBox } from './models.ts';
import { type OperationConfig, runOperation, runOperations } from './operate.ts';

/**
 * The environment's ground truth: what each emulated API answers for an image, reduced to what the paper's metric
 * compares, computed with the same operations and answer functions as the HTTP routes (in-process equals over-the-wire).
 * `config` chooses the backends as the emulator's options do (defaults: the emulator's defaults).
 */

export type CurveApi = 'rekognition' | 'baidu' | 'facepp' | 'faces';
export const curveApis: readonly CurveApi[] = ['rekognition', 'baidu', 'facepp', 'faces'];

export type CurveAnswer = { labels: string[] } | { faces: RatioBox[] };

export type LabelApi = Exclude<CurveApi, 'faces'>;

const defaults = (): OperationConfig => emulatorConfig();

/** The three label APIs' answers for one image (the curve's hot path: shared decodes, each backend once). */
export async function labelAnswers(
  inference: Inference,
  image: Buffer,
  config: OperationConfig = defaults(),
): Promise<Record<LabelApi, { labels: string[] }>> {
  const seen = await runOperations(
    inference,
    config,
    ['rekognitionDetectLabels', 'baiduAdvancedGeneral', 'faceppDetectsceneandobject'],
    image,
  );
  const rekognition = seen.rekognitionDetectLabels;
  const baidu = seen.baiduAdvancedGeneral;
  const facepp = seen.faceppDetectsceneandobject;
  return {
    rekognition: { labels: answerLabels('rekognition', rekognitionLabels(rekognition.classify, rekognition.objects)) },
    baidu: { labels: answerLabels('baidu', baiduGeneral(baidu.classify, 0)) },
    facepp: { labels: answerLabels('facepp', faceppSceneAndObject(facepp.objects ?? [], facepp.classify, '', '')) },
  };
}

/** The answer of `api` for `image` with default request parameters, as a client that sets none would get it. */
export async function curveAnswer(
  inference: Inference,
  api: CurveApi,
  image: Buffer,
  config: OperationConfig = defaults(),
): Promise<CurveAnswer> {
  if (api === 'faces')
    return { faces: (await runOperation(inference, config, 'rekognitionDetectFaces', image)).faces.map((f) => f.box) };
  return (await labelAnswers(inference, image, config))[api];
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
