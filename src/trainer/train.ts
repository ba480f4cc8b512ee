/**
 * `adacompress train`: fit a policy for one provider/operation from collected full-information data (and/or the
 * proxy's decision logs), export it as a policy model file with complete metadata and a model card, and optionally
 * promote it over the live model only when it beats it (promote.ts).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { commandOptions } from '../config/options.ts';
import { FEATURE_VERSION, featureNames } from '../policy/features.ts';
import { createProgress, type Progress } from '../progress.ts';
import { splitKey } from './api-client.ts';
import { recordFileName } from './data.ts';
import { buildDataset, type Dataset, type ImageRow, metricsOf, rewardSpecOf } from './dataset.ts';
import {
  ARCHITECTURES,
  type Architecture,
  allowedActions,
  architectureOrder,
  crossValidate,
  defaultFitOptions,
  exportGridPolicy,
  exportPolicy,
  type FitOptions,
  fitEnsemble,
  forwardExported,
  inputRange,
  networksToFit,
  saferSets,
  type ThresholdTrial,
  thresholdChoice,
} from './fit.ts';
import { fitFromLogs, readLoggedSamples } from './logs.ts';
import { writeModelCard } from './model-card.ts';
import { encodePolicy, writeAtomically } from './policy-model.ts';
import { promote } from './promote.ts';
import { defaultImageDirs, readRecordsWithCurrentFeatures } from './refeature.ts';
import { ENV_PREFIX, FEATURE_SETS, type TrainConfig, type TrainResult, trainOptions } from './train-config.ts';

/** Train from full-information rows of the train split; report (not tune on) the validation split. */
export function trainFromDataset(
  dataset: Dataset,
  config: TrainConfig,
  onProgress?: (networks: number) => Progress,
): TrainResult {
  const train = dataset.rows.filter((r) => r.split === 'train');
  const validation = dataset.rows.filter((r) => r.split === 'validation');
  if (train.length < 20) throw new Error(`${dataset.key}: only ${train.length} training images collected`);
  if (config.features === 'none' && (config.architecture === 'per-action' || config.architecture === 'auto')) {
    throw new Error('--features none needs --architecture action-input (the per-action network has no other input)');
  }
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
    inputs: FEATURE_SETS[config.features],
    maxQuality: config.maxQuality,
    monotone: config.monotone,
    architecture: config.architecture === 'auto' ? ARCHITECTURES[0]! : config.architecture,
    meanInit: true,
    kind: dataset.kind,
  };
  let sizeWeight = config.sizeWeight;
  let threshold = config.threshold > 0 ? config.threshold : undefined;
  const tune = !(sizeWeight > 0) || threshold === undefined;
  if (config.architecture === 'auto' && !tune)
    throw new Error('--architecture auto chooses by cross-validation: leave --threshold and --size-weight at 0');
  const families: Architecture[] = config.architecture === 'auto' ? [...ARCHITECTURES] : [options.architecture];
  // Announced: every family's cross-validation, and the largest final ensemble (a smaller winner ticks the rest).
  const cvNets = (architecture: Architecture) =>
    networksToFit({ ...options, architecture }, tune) - networksToFit({ ...options, architecture }, false);
  const finalNets = Math.max(...families.map((architecture) => networksToFit({ ...options, architecture }, false)));
  const announced = families.reduce((n, f) => n + cvNets(f), 0) + finalNets;
  const progress = onProgress?.(announced);
  let ticked = 0;
  if (progress) {
    options.onFitted = () => {
      ticked++;
      progress.tick();
    };
  }
  let crossValidation: TrainResult['crossValidation'];
  let architectureTrials: { architecture: Architecture; threshold: ThresholdTrial; met: boolean }[] | undefined;
  if (tune) {
    // Each family's cross-validation; with --architecture auto the best (architectureOrder) is the one trained.
    const runs = families.map((architecture) => ({
      architecture,
      cv: crossValidate(train, { ...options, architecture }),
    }));
    const best = runs.reduce((a, b) => (architectureOrder(b.cv, a.cv) < 0 ? b : a));
    options.architecture = best.architecture;
    if (runs.length > 1) {
      architectureTrials = runs.map((r) => ({
        architecture: r.architecture,
        threshold: r.cv.chosenThreshold,
        met: r.cv.thresholdMet,
      }));
    }
    const cv = best.cv;
    if (!(sizeWeight > 0)) sizeWeight = cv.chosen.sizeWeight;
    threshold ??= cv.chosenThreshold.threshold;
    crossValidation = {
      accuracy: cv.chosen.accuracy,
      sizeRatio: cv.chosen.sizeRatio,
      hardFoldAccuracy: cv.chosen.hardFoldAccuracy,
      targetMet: cv.met,
      threshold: { ...cv.chosenThreshold, targetMet: cv.thresholdMet },
    };
  }
  const net = fitEnsemble(train, options);
  if (progress) for (; ticked < announced; ticked++) progress.tick();
  progress?.done();
  const allowed = allowedActions(dataset.actions, options.maxQuality);
  const clip = inputRange(train, featureNames.length);
  const safer = saferSets(dataset.actions, allowed, options.monotone);
  const exported =
    options.architecture === 'action-input'
      ? exportGridPolicy(net, options.inputs, featureNames.length, dataset.actions, sizeWeight, allowed, clip, safer)
      : exportPolicy(net, options.inputs, featureNames.length, sizeWeight, allowed, clip, safer);
  // The trainer's own reading of the export (TS mirror of the graph, the proxy's choice rule), for the card; evaluate
  // scores the written file through onnxruntime and OnnxPolicy.
  const choose = (row: ImageRow) => {
    const out = forwardExported(exported, row.features);
    // The agreement head is already masked and capped in the export: no second cap here.
    return thresholdChoice(
      row,
      { accuracy: Array.from(out.agreement), ratio: Array.from(out.size) },
      threshold!,
      allowed,
    );
  };
  const validationMetrics = validation.length > 0 ? metricsOf(validation, (row) => choose(row)) : undefined;
  const modelId =
    config.modelId ||
    `${dataset.key.replace(/[^A-Za-z0-9]+/g, '-')}-grid${dataset.actions.length}-f${FEATURE_VERSION}-${options.architecture}${options.architecture === 'column-means' ? '' : `-e${config.ensemble}`}-s${config.seed}-t${threshold}`;
  const { provider, operation } = splitKey(dataset.key);
  const rewardWeights = { ...rewardSpecOf(dataset.key, { size: sizeWeight }).weights };
  const bytes = encodePolicy(exported, {
    modelId,
    provider,
    operation,
    actions: dataset.actions,
    rewardWeights,
    threshold: threshold!,
    dataSummary: {
      source: 'collect (full information over the side x quality grid)',
      trainImages: train.length,
      droppedImages: dataset.dropped,
      reference: dataset.reference === 'q75' ? 'quality 75 at the stored size' : "the client's file as it is",
      limits: dataset.limits,
      network:
        options.architecture === 'action-input'
          ? `action-conditioned: (${options.inputs.length} features + quality + side)-${config.hidden.join('-')}-2, over ${dataset.actions.length} actions`
          : options.architecture === 'column-means'
            ? `no network: each action's mean agreement and size over the training photos`
            : `${featureNames.length}-${config.hidden.join('-')}-3x${dataset.actions.length}`,
      architecture: options.architecture,
      ...(architectureTrials ? { architectureTrials } : {}),
      inputRange: { min: Array.from(clip.min), max: Array.from(clip.max) },
      ensemble: config.ensemble,
      foldQuantile: config.foldQuantile,
      cvRepeats: config.cvRepeats,
      features: config.features,
      maxQuality: config.maxQuality,
      monotone: config.monotone,
      accuracyTarget: config.accuracyTarget,
      sizeWeight,
      threshold,
      seed: config.seed,
      epochs: config.epochs,
      crossValidation,
    },
  });
  return {
    bytes,
    modelId,
    sizeWeight,
    threshold: threshold!,
    actions: dataset.actions.length,
    trainImages: train.length,
    dataset,
    architecture: options.architecture,
    ...(architectureTrials ? { architectureTrials } : {}),
    summary: {
      ensemble: options.architecture === 'column-means' ? 1 : config.ensemble,
      accuracyTarget: tune ? config.accuracyTarget : undefined,
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
    const records = await readRecordsWithCurrentFeatures(dataFile, imageDirs);
    const dataset = buildDataset(config.key, records, config.reference);
    if (dataset.stale > 0) {
      console.error(
        `train: ${config.key}: ${dataset.stale} records of an older collect schema left out (newer ones present; collect again to replace them)`,
      );
    }
    result = trainFromDataset(dataset, config, (networks) => createProgress('train', networks, { unit: 'nets' }));
    const cv = result.crossValidation;
    const f3 = (x: number) => x.toFixed(3);
    console.log(
      `train: ${config.key}: ${result.trainImages} training images, ${dataset.actions.length} actions, ` +
        `threshold ${result.threshold}, size weight ${result.sizeWeight}`,
    );
    if (cv?.threshold) {
      const t = cv.threshold;
      console.log(
        `train: cross-validated threshold rule: accuracy ${f3(t.accuracy)}, hardest folds ${f3(t.hardFoldAccuracy)}` +
          `${t.targetMet ? '' : ' (target not met)'}, size ratio ${f3(t.sizeRatio)}; argmax of scores: accuracy ` +
          `${f3(cv.accuracy)}, hardest folds ${f3(cv.hardFoldAccuracy)}${cv.targetMet ? '' : ' (target not met)'}, size ratio ${f3(cv.sizeRatio)}`,
      );
    }
    if (result.validation) {
      const v = result.validation;
      console.log(
        `train: validation (${v.images} images, reported, not tuned on): accuracy ${f3(v.accuracy)}, size ratio ${f3(v.sizeRatio)}, ` +
          `bytes ratio ${f3(v.bytesRatio)}, mean quality ${v.meanQuality.toFixed(1)}, mean side ${Math.round(v.meanSide)} px`,
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
