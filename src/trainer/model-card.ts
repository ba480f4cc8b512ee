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
  if (s.accuracyTarget === undefined) return 'fixed by the command line';
  const where =
    (s.foldQuantile ?? 0) > 0
      ? `on the hardest folds (the ${s.foldQuantile} quantile of per-fold accuracies over ${s.cvRepeats ?? 1} x 5-fold CV)`
      : 'on pooled out-of-fold predictions';
  return `the cheapest that keeps accuracy ≥ ${s.accuracyTarget} ${where}`;
}

function networkOf(result: TrainResult, actions: number): string {
  if (result.architecture === 'column-means')
    return `no learnt network: every action's mean agreement and size ratio over the training photos (the cross-validated baseline won)`;
  if (result.architecture === 'action-input')
    return `action-conditioned MLP (image features + the action's quality and side relative to the image) → hidden (ReLU) → agreement, ln size, evaluated for each of the ${actions} actions${ensembleOf(result)}`;
  return `MLP ${featureNames.length} → hidden (ReLU) → three heads of ${actions} (linear)${ensembleOf(result)}`;
}

function familiesOf(result: TrainResult): string {
  const trials = result.architectureTrials;
  if (!trials) return '';
  const f = (t: (typeof trials)[number]) =>
    `${t.architecture} ${f3(t.threshold.accuracy)} (hardest folds ${f3(t.threshold.hardFoldAccuracy)}${t.met ? '' : ', target not met'}) at ${f3(t.threshold.sizeRatio)}`;
  return `- family chosen by cross-validation on the training split (threshold rule, accuracy at size ratio): ${trials.map(f).join('; ')}\n`;
}

export function modelCard(modelFile: string, key: string, result: TrainResult, extra = ''): string {
  const v = result.validation;
  const cv = result.crossValidation;
  const t = cv?.threshold;
  const actions = result.actions ?? 0;
  const measure = key.includes('ace')
    ? 'face recall at IoU 0.5'
    : 'paper accuracy: reference top-1 label among the labels';
  return `# Model card: ${modelFile}

- model_id: \`${result.modelId}\`
- for: \`${key}\` (router key provider/operation)
- network: ${networkOf(result, actions)}; input \`features\` float32 [batch, ${featureNames.length}] (clipped to the training range inside the graph); outputs \`scores\`, \`agreement\`, \`size\` float32 [batch, ${actions}]; ${result.bytes.length} bytes
${familiesOf(result)}- features: version ${FEATURE_VERSION} (src/policy/features.ts)
- actions: the joint grid, longest side (stored size, 2048, 1536, 1024, 768, 512, 384, 256) x JPEG quality (5, 15, ..., 85), fitted per image to the API's limits; at the stored size qualities above 75 are masked (they only cost bytes)
- operating point: threshold **${result.threshold ?? '–'}**: the proxy sends the cheapest candidate whose predicted agreement clears it (its online calibration starts there); chosen by cross-validation on the training split only: ${choiceOf(result)}${t && !t.targetMet ? ' (not reachable on these folds: the most accurate there, then the cheapest)' : ''}
- scores (argmax rule, for proxies without heads and for OPE): agreement − ${result.sizeWeight} × size ratio, the size weight chosen by the same rule
- reward: agreement with the quality-75 reference at the stored size (${measure}); size ratio = bytes / bytes of the reference
- training data: ${result.trainImages} images (fixed split, training part), every distinct upload of the grid sent to the emulated API (\`adacompress collect\`)
${t ? `- cross-validated threshold rule (training split, out of fold): accuracy ${f3(t.accuracy)} (hardest folds ${f3(t.hardFoldAccuracy)}${t.targetMet ? '' : ', target not reachable'}) at size ratio ${f3(t.sizeRatio)}\n` : ''}${cv ? `- cross-validated argmax of scores: accuracy ${f3(cv.accuracy)} (hardest folds ${f3(cv.hardFoldAccuracy)}${cv.targetMet ? '' : ', target not reachable'}) at size ratio ${f3(cv.sizeRatio)}\n` : ''}${v ? `- **validation** (${v.images} held-out images, scored once, nothing tuned on it): accuracy ${f3(v.accuracy)}, ${key.includes('ace') ? 'recall' : 'label overlap'} ${f3(v.overlap)}, size ratio ${f3(v.sizeRatio)} (bytes ratio ${f3(v.bytesRatio)}), mean bytes ${Math.round(v.meanBytes)}, mean quality ${v.meanQuality.toFixed(1)}, mean side ${Math.round(v.meanSide)} px\n` : ''}${extra}- reproduce: \`scripts/train-defaults.sh\` (docs/TRAINING.md)
`;
}

export async function writeModelCard(modelPath: string, key: string, result: TrainResult, extra = ''): Promise<void> {
  const name = modelPath.split('/').at(-1)!;
  await writeAtomically(modelPath.replace(/\.onnx$/, '.md'), modelCard(name, key, result, extra));
}
