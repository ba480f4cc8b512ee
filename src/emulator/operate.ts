import sharp from 'sharp';
import type { Orientation } from './backends/pixels.ts';
import type { InferenceAnswer } from './backends/runner.ts';
import type { EmulatorConfig } from './config.ts';
import type { Inference } from './inference.ts';
import type { ClassScore, Detection, ImageSize, TextLine } from './models.ts';
import { type Binding, type OperationName, type OperationSpec, operations, parseBinding } from './operations.ts';

/**
 * An emulated operation on one image: its binding's job on the inference pool, then the operation's documented face
 * rules. The HTTP routes and the curve script both come through here, so in-process answers equal the wire's.
 */

/** The part of the emulator's config that decides what an operation computes. */
export type OperationConfig = Pick<
  EmulatorConfig,
  OperationName | 'rekognitionOrientation' | 'faceppOrientation' | 'baiduOrientation'
>;

/** What an operation's backends saw in one image. Boxes are ratios of `frame`, the image as the API sees it. */
export interface OperationResult {
  frame: ImageSize;
  working: ImageSize;
  classify: ClassScore[];
  /** Undefined when the operation runs without an (optional) object detector. */
  objects: Detection[] | undefined;
  faces: Detection[];
  /** Lines of text, polygons as ratios of `frame` (empty unless the operation reads text). */
  text: TextLine[];
}

/** The operation's documented face rules, applied at its working resolution: minimum size, then the largest N. */
function faceRules(op: OperationSpec, faces: Detection[], working: ImageSize): Detection[] {
  const min = op.minFacePx;
  const kept = min
    ? faces.filter((f) => f.box.width * working.width >= min && f.box.height * working.height >= min)
    : faces;
  if (op.maxFaces === undefined || kept.length <= op.maxFaces) return kept;
  return [...kept].sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height).slice(0, op.maxFaces);
}

function resultOf(operation: OperationName, binding: Binding, answer: InferenceAnswer): OperationResult {
  const mine = answer.results.filter((r) => binding.backends.includes(r.backend));
  let classify: ClassScore[] = [];
  let objects: Detection[] | undefined;
  let faces: Detection[] = [];
  let text: TextLine[] = [];
  for (const r of mine) {
    if (r.task === 'classify') classify = r.value;
    else if (r.task === 'objects') objects = r.value;
    else if (r.task === 'faces') faces = r.value;
    else text = r.value;
  }
  return {
    frame: answer.frame,
    working: answer.working,
    classify,
    objects,
    faces: faceRules(operations[operation], faces, answer.working),
    text,
  };
}

const orientationOf = (config: OperationConfig, operation: OperationName): Orientation =>
  config[`${operations[operation].api}Orientation`];

export async function runOperation(
  inference: Inference,
  config: OperationConfig,
  operation: OperationName,
  image: Buffer,
): Promise<OperationResult> {
  const binding = parseBinding(config[operation])!;
  const answer = await inference.run({
    image,
    backends: binding.backends,
    resolution: binding.resolution,
    orientation: orientationOf(config, operation),
  });
  return resultOf(operation, binding, answer);
}

/**
 * Several operations on one image with as few jobs as possible: operations at the same working resolution and EXIF
 * rule share one decode and each backend runs once (an image without an EXIF orientation reads the same either way).
 * Same results as one runOperation each.
 */
export async function runOperations<Op extends OperationName>(
  inference: Inference,
  config: OperationConfig,
  ops: readonly Op[],
  image: Buffer,
): Promise<Record<Op, OperationResult>> {
  const meta = await sharp(image).metadata();
  const tagged = meta.format === 'jpeg' && (meta.orientation ?? 1) !== 1;
  const groups = new Map<string, { orientation: Orientation; binding: Binding; ops: Op[] }>();
  for (const op of ops) {
    const binding = parseBinding(config[op])!;
    const orientation = tagged ? orientationOf(config, op) : 'stored';
    const key = `${JSON.stringify(binding.resolution)}|${orientation}`;
    const group = groups.get(key) ?? {
      orientation,
      binding: { backends: [], resolution: binding.resolution },
      ops: [],
    };
    for (const b of binding.backends) if (!group.binding.backends.includes(b)) group.binding.backends.push(b);
    group.ops.push(op);
    groups.set(key, group);
  }
  const out = {} as Record<Op, OperationResult>;
  await Promise.all(
    [...groups.values()].map(async (group) => {
      const answer = await inference.run({
        image,
        backends: group.binding.backends,
        resolution: group.binding.resolution,
        orientation: group.orientation,
      });
      for (const op of group.ops) out[op] = resultOf(op, parseBinding(config[op])!, answer);
    }),
  );
  return out;
}
