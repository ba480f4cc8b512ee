/**
 * `adacompress train`: fit a policy for one provider/operation from collected full-information data (and/or the
 * proxy's decision logs), export it as a policy model file with complete metadata and a model card, and optionally
 * promote it over the live model only when it beats it (promote.ts).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { commandOptions } from '../config/options.ts';
import { paperActions } from '../policy/actions.ts';
import { FEATURE_VERSION, featureNames } from '../policy/features.ts';
import { forwardMlp } from '../policy/onnx-writer.ts';
import { createProgress, type Progress } from '../progress.ts';
import { splitKey } from './api-client.ts';
import { recordFileName } from './data.ts';
import { buildDataset, type Dataset, metricsOf, rewardSpecOf } from './dataset.ts';
import {
  allowedActions,
  crossValidate,
  defaultFitOptions,
  exportPolicyLayers,
  type FitOptions,
  fitEnsemble,
  networksToFit,
} from './fit.ts';
import { fitFromLogs, readLoggedSamples } from './logs.ts';
import { writeModelCard } from './model-card.ts';
import { encodePolicy, writeAtomically } from './policy-model.ts';
import { promote } from './promote.ts';
import { defaultImageDirs, readRecordsWithCurrentFeatures } from './refeature.ts';
import { BASIC_FEATURES, ENV_PREFIX, type TrainConfig, type TrainResult, trainOptions } from './train-config.ts';

/** Train from full-information rows of the train split; report (not tune on) the validation split. */
export function trainFromDataset(
  dataset: Dataset,
  config: TrainConfig,
  onProgress?: (networks: number) => Progress,
): TrainResult {
  const train = dataset.rows.filter((r) => r.split === 'train');
  const validation = dataset.rows.filter((r) => r.split === 'validation');
  if (train.length < 20) throw new Error(`${dataset.key}: only ${train.length} training images collected`);
  for (const row of train) {
    if (row.featureVersion !== FEATURE_VERSION)
      throw new Error(`data has features v${row.featureVersion}, code v${FEATURE_VERSION}`);
  }
  const options: FitOptions = {
    ...defaultFitOptions,
    hidden: config.hidden,
    epochs: config.epochs,
    seed: config.seed,
    accuracyTarget: config.accuracyTarget,
    foldQuantile: config.foldQuantile,
    cvRepeats: config.cvRepeats,
    ensemble: config.ensemble,
    inputs: config.features === 'basic' ? BASIC_FEATURES : featureNames.map((_, i) => i),
    maxQuality: config.maxQuality,
    kind: dataset.kind,
  };
  let sizeWeight = config.sizeWeight;
  const progress = onProgress?.(networksToFit(options, !(sizeWeight > 0)));
  if (progress) options.onFitted = () => progress.tick();
  let crossValidation: TrainResult['crossValidation'];
  if (!(sizeWeight > 0)) {
    const cv = crossValidate(train, options);
    sizeWeight = cv.chosen.sizeWeight;
    crossValidation = {
      accuracy: cv.chosen.accuracy,
      sizeRatio: cv.chosen.sizeRatio,
      hardFoldAccuracy: cv.chosen.hardFoldAccuracy,
      targetMet: cv.met,
    };
  }
  const net = fitEnsemble(train, options);
  progress?.done();
  const allowed = allowedActions(train[0]!.qualities, options.maxQuality);
  const { layers, activations } = exportPolicyLayers(net, options.inputs, featureNames.length, sizeWeight, allowed);
  const choose = (features: number[]) => {
    const scores = forwardMlp(layers, activations, features);
    let best = 0;
    for (let k = 1; k < scores.length; k++) if (scores[k]! > scores[best]!) best = k;
    return best;
  };
  const validationMetrics = validation.length > 0 ? metricsOf(validation, (row) => choose(row.features)) : undefined;
  const modelId =
    config.modelId ||
    `${dataset.key.replace(/[^A-Za-z0-9]+/g, '-')}-f${FEATURE_VERSION}-e${config.ensemble}-s${config.seed}-w${sizeWeight}`;
  const { provider, operation } = splitKey(dataset.key);
  const rewardWeights = { ...rewardSpecOf(dataset.key, { size: sizeWeight }).weights };
  const bytes = encodePolicy(layers, activations, {
    modelId,
    provider,
    operation,
    rewardWeights,
    dataSummary: {
      source: 'collect (full information)',
      trainImages: train.length,
      droppedImages: dataset.dropped,
      reference: 'quality 75',
      network: `${featureNames.length}-${config.hidden.join('-')}-${paperActions.length}`,
      ensemble: config.ensemble,
      foldQuantile: config.foldQuantile,
      cvRepeats: config.cvRepeats,
      features: config.features,
      maxQuality: config.maxQuality,
      accuracyTarget: config.accuracyTarget,
      seed: config.seed,
      epochs: config.epochs,
      crossValidation,
      validation: validationMetrics,
    },
  });
  return {
    bytes,
    modelId,
    sizeWeight,
    trainImages: train.length,
    dataset,
    summary: {
      ensemble: config.ensemble,
      accuracyTarget: sizeWeight === config.sizeWeight ? undefined : config.accuracyTarget,
      foldQuantile: config.foldQuantile,
      cvRepeats: config.cvRepeats,
    },
    ...(validationMetrics ? { validation: validationMetrics } : {}),
    ...(crossValidation ? { crossValidation } : {}),
  };
}

export async function run(argv: string[]): Promise<void> {
  const summary = 'Fit a policy from collected data or decision logs; export ONNX.';
  const config = commandOptions('train', summary, trainOptions, argv, process.env, ENV_PREFIX);
  if (!config) return;
  let result: TrainResult;
  const dataFile = config.data ? join(config.data, recordFileName(config.key)) : '';
  if (dataFile && existsSync(dataFile)) {
    const imageDirs = config.images ? config.images.split(',') : defaultImageDirs;
    const dataset = buildDataset(config.key, await readRecordsWithCurrentFeatures(dataFile, imageDirs));
    result = trainFromDataset(dataset, config, (networks) => createProgress('train', networks, { unit: 'nets' }));
    console.log(
      `train: ${config.key}: ${result.trainImages} training images, size weight ${result.sizeWeight}` +
        (result.crossValidation
          ? ` (cross-validated accuracy ${result.crossValidation.accuracy.toFixed(3)}, hardest folds ${result.crossValidation.hardFoldAccuracy.toFixed(3)}${result.crossValidation.targetMet ? '' : ' (target not met)'}, at size ratio ${result.crossValidation.sizeRatio.toFixed(3)})`
          : ''),
    );
    if (result.validation) {
      const v = result.validation;
      console.log(
        `train: validation (${v.images} images): accuracy ${v.accuracy.toFixed(3)}, size ratio ${v.sizeRatio.toFixed(3)}, mean quality ${v.meanQuality.toFixed(1)}`,
      );
    }
  } else if (config.logs) {
    const samples = await readLoggedSamples(config.logs, config.key);
    result = fitFromLogs(samples, config);
    console.log(`train: ${config.key}: ${samples.length} logged decisions with references, IPS-weighted regression`);
  } else {
    throw new Error(`no data: ${dataFile || '(no --data)'} does not exist and no --logs given`);
  }
  if (config.out) {
    await writeAtomically(config.out, result.bytes);
    await writeModelCard(config.out, config.key, result);
    console.log(`train: wrote ${config.out} (${result.bytes.length} bytes) and its model card`);
  }
  if (config.promoteTo) {
    const verdict = await promote(result, config.promoteTo, config.key, config.logs);
    console.log(`train: ${verdict.promoted ? 'PROMOTED' : 'NOT promoted'}: ${verdict.reason}`);
  }
}
