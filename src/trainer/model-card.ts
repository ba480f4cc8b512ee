/** The model card written beside every exported model: what it is, what it learnt from, how it scores. */
import { FEATURE_VERSION, featureNames } from '../policy/features.ts';
import { writeAtomically } from './policy-model.ts';
import type { TrainResult } from './train-config.ts';

const f3 = (x: number) => x.toFixed(3);

interface TrainingSummary {
  ensemble?: number;
  accuracyTarget?: number;
  foldQuantile?: number;
  cvRepeats?: number;
}

function summaryOf(result: TrainResult): TrainingSummary {
  return (result.summary ?? {}) as TrainingSummary;
}

function ensembleOf(result: TrainResult): string {
  const k = summaryOf(result).ensemble ?? 1;
  return k > 1
    ? `; the mean of ${k} nets trained with different seeds, exported as one MLP (hidden units side by side)`
    : '';
}

function choiceOf(result: TrainResult): string {
  const s = summaryOf(result);
  if (s.accuracyTarget === undefined) return 'the largest that keeps accuracy ≥ the target';
  const where =
    (s.foldQuantile ?? 0) > 0
      ? `on the hardest folds (the ${s.foldQuantile} quantile of per-fold accuracies over ${s.cvRepeats ?? 1} x 5-fold CV)`
      : 'on pooled out-of-fold predictions';
  return `the largest that keeps accuracy ≥ ${s.accuracyTarget} ${where}`;
}

export function modelCard(modelFile: string, key: string, result: TrainResult, extra = ''): string {
  const v = result.validation;
  const cv = result.crossValidation;
  return `# Model card: ${modelFile}

- model_id: \`${result.modelId}\`
- for: \`${key}\` (router key provider/operation)
- network: MLP ${featureNames.length} → hidden (ReLU) → 10 expected rewards (linear)${ensembleOf(result)}, input \`features\` float32 [batch, ${featureNames.length}], output \`scores\`; ${result.bytes.length} bytes
- features: version ${FEATURE_VERSION} (src/policy/features.ts)
- actions: JPEG qualities 5, 15, ..., 95; the proxy picks the argmax (plus its configured exploration)
- reward: agreement with the quality-75 reference (${key.includes('ace') ? 'face recall at IoU 0.5' : 'paper accuracy: reference top-1 label among the labels'}) − ${result.sizeWeight} × bytes / bytes(q75); the size weight was chosen by cross-validation on the training split only: ${choiceOf(result)}
- training data: ${result.trainImages} images (fixed split, training part), every action sent to the emulated API (\`adacompress collect\`)
${cv ? `- cross-validated (training split, out of fold): accuracy ${f3(cv.accuracy)} (hardest folds ${f3(cv.hardFoldAccuracy)}${cv.targetMet ? '' : ', target not reachable'}) at size ratio ${f3(cv.sizeRatio)}\n` : ''}${v ? `- **validation** (${v.images} held-out images): accuracy ${f3(v.accuracy)}, label overlap ${f3(v.overlap)}, size ratio vs q75 ${f3(v.sizeRatio)} (bytes ratio ${f3(v.bytesRatio)}), mean bytes ${Math.round(v.meanBytes)}, mean quality ${v.meanQuality.toFixed(1)}\n` : ''}${extra}- reproduce: \`scripts/train-defaults.sh\` (docs/TRAINING.md)
`;
}

export async function writeModelCard(modelPath: string, key: string, result: TrainResult, extra = ''): Promise<void> {
  const name = modelPath.split('/').at(-1)!;
  await writeAtomically(modelPath.replace(/\.onnx$/, '.md'), modelCard(name, key, result, extra));
}
