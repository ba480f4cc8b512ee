import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { taskNames, tasks } from './tasks.ts';

/**
 * A backend model as data: which ONNX file, how pixels become its input tensor, how its output becomes classes or boxes,
 * and where its labels are. Any ImageNet classifier or any detector of a supported family stands behind an emulated API
 * with one JSON file; the weights stay in --model-dir and the spec names them relative to it.
 */

export const shippedSpecDir = fileURLToPath(new URL('./specs/', import.meta.url));

const positive = z.number().int().positive();
const unit = z.number().min(0).max(1);
const triple = z.tuple([z.number(), z.number(), z.number()]);

const fixedSize = z.strictObject({ width: positive, height: positive });
/**
 * Any input size the model accepts: the side rounded up to `multiple`, the longer side at most `maxSide`. `pyramid`:
 * longer sides it also runs at (where smaller than the image), merged by NMS, because a detector with fixed anchors
 * misses objects far larger than them (YuNet drops faces over ~400 px): how a service covers every size.
 */
const dynamicSize = z.strictObject({
  dynamic: z.strictObject({ multiple: positive, maxSide: positive, pyramid: z.array(positive).optional() }),
});

const resize = z.discriminatedUnion('rule', [
  /** Scale so the shorter side is `shorterSide`, then cut the input size out of the centre (ImageNet classifiers). */
  z.strictObject({ rule: z.literal('shorter-side-crop'), shorterSide: positive }),
  /** Stretch to the input size, aspect ratio lost (FastestDet, UltraFace). */
  z.strictObject({ rule: z.literal('fill') }),
  /** Scale to fit inside the input keeping the aspect ratio, top-left, the rest filled with `pad` (YOLOX). */
  z.strictObject({ rule: z.literal('letterbox'), pad: z.number().int().min(0).max(255) }),
  /** As letterbox but never enlarging; with a dynamic size the input is the image itself padded to the multiple (YuNet). */
  z.strictObject({ rule: z.literal('fit-within'), pad: z.number().int().min(0).max(255) }),
]);

const input = z.strictObject({
  name: z.string().min(1),
  layout: z.enum(['NCHW', 'NHWC']),
  size: z.union([fixedSize, dynamicSize]),
  resize,
  channels: z.enum(['RGB', 'BGR']),
  /** value = (pixel x scale - mean[c]) / std[c], pixel 0..255, c in the input's channel order. */
  scale: z.number().positive(),
  mean: triple,
  std: z.tuple([z.number().positive(), z.number().positive(), z.number().positive()]),
});

const nmsFields = { minScore: unit, nmsIou: unit };
const strides = z.array(positive).min(1);

const classifierOutput = z.strictObject({
  kind: z.literal('classifier'),
  name: z.string().min(1),
  /** logits get a softmax; probabilities are used as they are. */
  values: z.enum(['logits', 'probabilities']),
});

const detectorOutput = z.discriminatedUnion('family', [
  /** One [cells, 5 + classes] tensor: cx, cy, w, h in input pixels, objectness, class scores; score = obj x class. */
  z.strictObject({
    kind: z.literal('detector'),
    family: z.literal('fastestdet'),
    name: z.string().min(1),
    ...nmsFields,
  }),
  /** [1, cells, 5 + classes] over the stride grids, rows dx, dy, log w, log h, obj, classes (sigmoided). */
  z.strictObject({
    kind: z.literal('detector'),
    family: z.literal('yolox'),
    name: z.string().min(1),
    strides,
    ...nmsFields,
  }),
  /** `scores` [1, N, 2] (face = 1) and `boxes` [1, N, 4] x1, y1, x2, y2 as ratios of the input. */
  z.strictObject({
    kind: z.literal('detector'),
    family: z.literal('ultraface'),
    scores: z.string().min(1),
    boxes: z.string().min(1),
    ...nmsFields,
  }),
  /** cls_s, obj_s, bbox_s, kps_s per stride s; score = sqrt(cls x obj); five landmarks. */
  z.strictObject({ kind: z.literal('detector'), family: z.literal('yunet'), strides, ...nmsFields }),
]);

const labels = z.strictObject({
  file: z.string().min(1),
  /**
   * lines: one name a line, in output order. lines-with-background: the first line is "background" (dropped, and so is
   * output 0 when the model has one more output than classes). index-name: `index,name`, the name being WordNet's
   * synonyms, of which the first is kept.
   */
  format: z.enum(['lines', 'lines-with-background', 'index-name']),
});

export const modelSpecSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'lower-case letters, digits, dot, dash, underscore'),
  description: z.string().optional(),
  task: z.enum(taskNames),
  file: z.string().min(1),
  input,
  output: z.discriminatedUnion('kind', [classifierOutput, detectorOutput]),
  /** Required for classifiers and object detectors; face detectors name their one class "face". */
  labels: labels.optional(),
});

export type ModelSpec = z.infer<typeof modelSpecSchema>;
/** A spec with the file it came from, so every later complaint can name it. */
export type LocatedSpec = ModelSpec & { path: string };
export type ClassifierOutput = z.infer<typeof classifierOutput>;
export type DetectorOutput = z.infer<typeof detectorOutput>;
export type InputSpec = ModelSpec['input'];
export type ResizeRule = InputSpec['resize'];

/** A spec that cannot be used, naming the file and the field at fault. */
export class ModelSpecError extends Error {
  readonly code = 'EMULATOR_MODEL_SPEC_INVALID';
  readonly file: string;
  readonly field: string;
  constructor(file: string, field: string, problem: string) {
    super(`model spec ${file}: ${field ? `${field}: ` : ''}${problem}`);
    this.name = 'ModelSpecError';
    this.file = file;
    this.field = field;
  }
}

const fieldOf = (path: readonly PropertyKey[]) =>
  path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('');

/** A spec that passes zod, plus the rules zod cannot see field by field (task and output agree, labels where needed). */
export function parseSpec(value: unknown, file: string): ModelSpec {
  const parsed = modelSpecSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const message = /received undefined$/.test(issue.message) ? `missing (${issue.message})` : issue.message;
    throw new ModelSpecError(file, fieldOf(issue.path), message);
  }
  const spec = parsed.data;
  const { output, input: inp } = spec;
  if (tasks[spec.task].outputs.length === 0)
    throw new ModelSpecError(
      file,
      'task',
      `${spec.task} is answered by an engine (backends/engines.ts), not by a spec`,
    );
  if (spec.task === 'classify' && output.kind !== 'classifier')
    throw new ModelSpecError(file, 'output.kind', `task classify needs a classifier output, not ${output.kind}`);
  if (spec.task !== 'classify' && output.kind !== 'detector')
    throw new ModelSpecError(file, 'output.kind', `task ${spec.task} needs a detector output, not ${output.kind}`);
  const facesOnly = output.kind === 'detector' && (output.family === 'ultraface' || output.family === 'yunet');
  if (facesOnly && spec.task !== 'faces')
    throw new ModelSpecError(
      file,
      'task',
      `the ${output.kind === 'detector' ? output.family : ''} family finds faces only`,
    );
  if (!facesOnly && spec.labels === undefined)
    throw new ModelSpecError(file, 'labels', 'required for classifiers and object detectors');
  if ('dynamic' in inp.size && inp.resize.rule !== 'fit-within' && inp.resize.rule !== 'fill')
    throw new ModelSpecError(file, 'input.resize.rule', `${inp.resize.rule} needs a fixed input size`);
  return spec;
}

/** Read and validate one spec file; `modelDir` is where its weights and labels must exist (when `checkFiles`). */
export function loadSpecFile(path: string, modelDir: string, checkFiles = true): LocatedSpec {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ModelSpecError(path, '', `not readable JSON (${error instanceof Error ? error.message : error})`);
  }
  const spec = parseSpec(value, path);
  if (!checkFiles) return { ...spec, path };
  if (!existsSync(join(modelDir, spec.file)))
    throw new ModelSpecError(path, 'file', `${spec.file} not found in ${modelDir} (set --model-dir)`);
  if (spec.labels && !existsSync(join(modelDir, spec.labels.file)))
    throw new ModelSpecError(path, 'labels.file', `${spec.labels.file} not found in ${modelDir}`);
  return { ...spec, path };
}

/** The shipped specs plus `extra` files; names must be unique (a later file may not silently replace a model). */
export function loadSpecs(
  modelDir: string,
  extra: readonly string[] = [],
  { dir = shippedSpecDir, checkFiles = true }: { dir?: string; checkFiles?: boolean } = {},
): LocatedSpec[] {
  const paths = [
    ...readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((f) => join(dir, f)),
    ...extra,
  ];
  const byName = new Map<string, string>();
  const specs: LocatedSpec[] = [];
  for (const path of paths) {
    const spec = loadSpecFile(path, modelDir, checkFiles);
    const previous = byName.get(spec.name);
    if (previous) throw new ModelSpecError(path, 'name', `${spec.name} is already defined by ${previous}`);
    byName.set(spec.name, path);
    specs.push(spec);
  }
  return specs;
}

/** Label names in output order, from the label file's text. */
export function parseLabels(text: string, format: NonNullable<ModelSpec['labels']>['format']): string[] {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  if (format === 'lines') return lines;
  if (format === 'lines-with-background') return lines.slice(1);
  const names: string[] = [];
  for (const line of lines) {
    const m = /^(\d+)\s*,\s*(.+)$/.exec(line);
    if (!m) throw new Error(`not an "index,name" line: ${line.slice(0, 60)}`);
    names[Number(m[1])] = m[2]!.split(',')[0]!.trim();
  }
  // Object.keys skips holes: equal counts mean every index 0..n-1 was given once.
  if (names.length !== lines.length || Object.keys(names).length !== lines.length)
    throw new Error(`indices are not 0..${lines.length - 1}`);
  return names;
}
