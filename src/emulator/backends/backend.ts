import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { decodeClassifier, decodeDetector, detectorOutputNames, nms, type Outputs } from './decoders.ts';
import { modelInput, type PixelSource } from './pixels.ts';
import { type LocatedSpec, ModelSpecError, parseLabels } from './spec.ts';
import type { Task, TaskResult } from './tasks.ts';

/**
 * One model from its spec, loaded in an onnxruntime session and checked against it: the spec's input name, size and
 * layout, output names and label count must match what the ONNX file declares, or loading fails naming the spec field.
 */

/** Anything that answers a task from pixels: a spec'd ONNX model here, or an engine (engines.ts). */
export interface Backend {
  readonly name: string;
  readonly task: Task;
  run(source: PixelSource): Promise<TaskResult[Task]>;
  release(): Promise<void>;
}

const tensorShape = (meta: ort.InferenceSession.ValueMetadata | undefined) =>
  meta && 'shape' in meta ? meta.shape : [];

function checkInput(spec: LocatedSpec, session: ort.InferenceSession): void {
  const { input } = spec;
  if (!session.inputNames.includes(input.name))
    throw new ModelSpecError(
      spec.path,
      'input.name',
      `no input "${input.name}" in ${spec.file} (it has ${session.inputNames.join(', ')})`,
    );
  const shape = tensorShape(session.inputMetadata.find((m) => m.name === input.name));
  if (shape.length !== 4) return; // the model does not declare its shape: nothing to compare
  const [c, h, w] = input.layout === 'NCHW' ? [shape[1], shape[2], shape[3]] : [shape[3], shape[1], shape[2]];
  if (typeof c === 'number' && c !== 3)
    throw new ModelSpecError(
      spec.path,
      'input.layout',
      `${input.layout} puts ${c} where the 3 channels belong (${spec.file} is [${shape.join(',')}])`,
    );
  const fixed = typeof h === 'number' && typeof w === 'number';
  if ('dynamic' in input.size) {
    if (fixed) throw new ModelSpecError(spec.path, 'input.size', `${spec.file} takes a fixed ${w}x${h} input`);
  } else if (fixed && (w !== input.size.width || h !== input.size.height)) {
    throw new ModelSpecError(
      spec.path,
      'input.size',
      `${spec.file} takes ${w}x${h}, the spec says ${input.size.width}x${input.size.height}`,
    );
  }
}

function outputNames(spec: LocatedSpec): string[] {
  return spec.output.kind === 'classifier' ? [spec.output.name] : detectorOutputNames(spec.output);
}

/** The spec field that names an output tensor, for the error. */
function outputField(spec: LocatedSpec, name: string): string {
  const { output } = spec;
  if (output.kind === 'detector' && output.family === 'yunet') return 'output.strides';
  if (output.kind === 'detector' && output.family === 'ultraface')
    return name === output.scores ? 'output.scores' : 'output.boxes';
  return 'output.name';
}

function checkOutputs(spec: LocatedSpec, session: ort.InferenceSession): void {
  for (const name of outputNames(spec)) {
    if (!session.outputNames.includes(name))
      throw new ModelSpecError(
        spec.path,
        outputField(spec, name),
        `no output "${name}" in ${spec.file} (it has ${session.outputNames.join(', ')})`,
      );
  }
}

/** How many classes an output carries, from its last dimension (classifier: classes; detectors: 5 + classes). */
function declaredClasses(spec: LocatedSpec, lastDim: number): number {
  return spec.output.kind === 'classifier' ? lastDim : lastDim - 5;
}

/** Labels against the output: equal counts, or one background output more than a lines-with-background list. */
function labelOffset(spec: LocatedSpec, labels: readonly string[], lastDim: number): number {
  const classes = declaredClasses(spec, lastDim);
  if (classes === labels.length) return 0;
  if (spec.labels?.format === 'lines-with-background' && classes === labels.length + 1) return 1;
  throw new ModelSpecError(
    spec.path,
    'labels',
    `${spec.labels?.file} has ${labels.length} classes, ${spec.file}'s output has ${classes}`,
  );
}

const FACE_LABELS = ['face'];
/** The answers group classes by ImageNet-1k index (categories.ts), so a classifier must speak that vocabulary. */
const IMAGENET_CLASSES = 1000;

export async function loadBackend(spec: LocatedSpec, modelDir: string, intraOpNumThreads = 1): Promise<Backend> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(join(modelDir, spec.file), {
      executionProviders: ['cpu'],
      intraOpNumThreads,
      interOpNumThreads: 1,
      // UltraFace's export lists its weights as graph inputs: onnxruntime warns once per weight at load. Not our concern.
      logSeverityLevel: 3,
    });
  } catch (error) {
    throw new ModelSpecError(
      spec.path,
      'file',
      `${spec.file} does not load as ONNX (${error instanceof Error ? error.message : error})`,
    );
  }
  try {
    checkInput(spec, session);
    checkOutputs(spec, session);
  } catch (error) {
    await session.release();
    throw error;
  }
  let labels = FACE_LABELS;
  if (spec.labels) {
    try {
      labels = parseLabels(await readFile(join(modelDir, spec.labels.file), 'utf8'), spec.labels.format);
    } catch (error) {
      await session.release();
      throw new ModelSpecError(
        spec.path,
        'labels.format',
        `${spec.labels.file}: ${error instanceof Error ? error.message : error}`,
      );
    }
  }
  if (spec.task === 'classify' && labels.length !== IMAGENET_CLASSES) {
    await session.release();
    throw new ModelSpecError(
      spec.path,
      'labels',
      `classify backends answer ImageNet-1k classes (the answers' categories); ${spec.labels?.file} has ${labels.length}`,
    );
  }
  // The label count against the output: from the declared shape when it is numeric, else on the first (warm-up) run.
  const probe = outputNames(spec)[0]!;
  let offset: number | undefined;
  const declared = tensorShape(session.outputMetadata.find((m) => m.name === probe)).at(-1);
  if (spec.labels && typeof declared === 'number') {
    try {
      offset = labelOffset(spec, labels, declared);
    } catch (error) {
      await session.release();
      throw error;
    }
  }
  const checkLabels = (outputs: Outputs) => {
    if (offset !== undefined || !spec.labels) return;
    const dims = outputs[probe]!.dims;
    offset = labelOffset(spec, labels, dims[dims.length - 1]!);
  };

  const infer = async (source: PixelSource, longSide?: number) => {
    const input = await modelInput(source, spec.input, longSide);
    const feeds = { [spec.input.name]: new ort.Tensor('float32', input.data, input.dims) };
    const result = await session.run(feeds);
    const outputs: Outputs = {};
    for (const name of outputNames(spec)) {
      const t = result[name]!;
      outputs[name] = { data: t.data as Float32Array, dims: t.dims };
    }
    checkLabels(outputs);
    return { input, outputs };
  };
  const pyramid = 'dynamic' in spec.input.size ? (spec.input.size.dynamic.pyramid ?? []) : [];

  const run = async (source: PixelSource) => {
    const { output } = spec;
    if (output.kind === 'classifier') {
      const { outputs } = await infer(source);
      return decodeClassifier(output, outputs, labels, offset ?? 0);
    }
    const longest = Math.max(source.width, source.height);
    const levels = [undefined, ...pyramid.filter((side) => side < longest)];
    const found = [];
    for (const level of levels) {
      const { input, outputs } = await infer(source, level);
      found.push(...decodeDetector(output, outputs, input, labels));
    }
    return nms(found, output.nmsIou);
  };
  return { name: spec.name, task: spec.task, run, release: () => session.release() };
}
