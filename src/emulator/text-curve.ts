import type { Answer } from '../answer.ts';
import { baiduAnswers } from '../providers/baidu/answers.ts';
import { baidu } from '../providers/baidu/index.ts';
import { rekognitionAnswer } from '../providers/rekognition/answers.ts';
import { REKOGNITION_OPERATIONS } from '../providers/rekognition/index.ts';
import type { AnsweredSlot, OperationSpec } from '../providers/types.ts';
import { emulatorConfig } from './config.ts';
import type { Inference } from './inference.ts';
import { type OperationConfig, runOperations } from './operate.ts';
import { baiduText, type DetectTextParams, detectTextParams, rekognitionText } from './text-answers.ts';

/**
 * The text operations' ground truth for the curve (scripts/emulator-curve.ts): what each answers for an image with
 * default request parameters, turned into the normalised answer (src/answer.ts) by the same readers the proxy uses on
 * the wire, so the curve measures agreement exactly as the proxy's calibration and trainer do.
 */

export const TEXT_CURVE_OPERATIONS = ['rekognitionDetectText', 'baiduGeneralBasic', 'baiduAccurateBasic'] as const;
export type TextCurveOperation = (typeof TEXT_CURVE_OPERATIONS)[number];

function specOf(list: readonly OperationSpec[], name: string): OperationSpec {
  const spec = list.find((o) => o.name === name);
  if (!spec) throw new Error(`no proxy operation ${name}`);
  return spec;
}

const slot = (operation: OperationSpec): AnsweredSlot => ({ field: 'image', operation });
const DEFAULT_FILTERS = detectTextParams(undefined) as DetectTextParams;
const BASIC = { location: false, vertexes: false, probability: false, detectDirection: false };

export async function textAnswers(
  inference: Inference,
  image: Buffer,
  config: OperationConfig = emulatorConfig(),
): Promise<Record<TextCurveOperation, Answer>> {
  const seen = await runOperations(inference, config, TEXT_CURVE_OPERATIONS, image);
  const rekognition = rekognitionAnswer(
    rekognitionText(seen.rekognitionDetectText.text, DEFAULT_FILTERS),
    slot(specOf(REKOGNITION_OPERATIONS, 'DetectText')),
  );
  const fromBaidu = (operation: 'baiduGeneralBasic' | 'baiduAccurateBasic', name: string): Answer => {
    const body = baiduText(seen[operation].text, seen[operation].frame, 0, BASIC);
    const [answer] = baiduAnswers({ status: 200, body: Buffer.from(JSON.stringify(body)) }, [
      slot(specOf(baidu.operations, name)),
    ]);
    if (!answer) throw new Error(`the proxy's Baidu reader refused the emulator's ${name} answer`);
    return answer;
  };
  return {
    rekognitionDetectText: rekognition,
    baiduGeneralBasic: fromBaidu('baiduGeneralBasic', 'ocr/v1/general_basic'),
    baiduAccurateBasic: fromBaidu('baiduAccurateBasic', 'ocr/v1/accurate_basic'),
  };
}
