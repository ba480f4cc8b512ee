import type { CatalogEntry } from './backends/engines.ts';
import { type EmulatorConfig, labelsBackends } from './config.ts';
import type { EmulatorContext } from './context.ts';
import { checkBinding, formatBinding, type OperationName, operationNames, parseBinding } from './operations.ts';
import { apiNames } from './runtime.ts';

/**
 * The run-time knobs (GET/POST /__emulator/config): every operation's binding, each API's EXIF rule, the older
 * labelsBackend alias, latency and uplink. A benchmark points an API at a backend it was never trained on this way.
 */

const orientationKeys = apiNames.map((api) => `${api}Orientation` as const);
type OrientationKey = (typeof orientationKeys)[number];

/** Every run-time knob with its current value. */
export type Knobs = Pick<
  EmulatorConfig,
  OperationName | OrientationKey | 'labelsBackend' | 'latencyMs' | 'uplinkBytesPerSecond'
>;
const knobKeys = [...operationNames, ...orientationKeys, 'labelsBackend', 'latencyMs', 'uplinkBytesPerSecond'] as const;

/** The detector DetectLabels gets back with labelsBackend 'detector+classifier' when its binding has none. */
const DEFAULT_LABELS_DETECTOR = 'fastestdet';

const taskOf = (specs: readonly CatalogEntry[], name: string) => specs.find((s) => s.name === name)?.task;

/** labelsBackend as it reads from the DetectLabels binding: 'classifier' when no object detector is bound. */
function labelsBackendOf(config: EmulatorConfig, specs: readonly CatalogEntry[]) {
  const binding = parseBinding(config.rekognitionDetectLabels)!;
  return binding.backends.some((b) => taskOf(specs, b) === 'objects') ? 'detector+classifier' : 'classifier';
}

/** The DetectLabels binding with its detector removed ('classifier') or restored ('detector+classifier'). */
function withLabelsBackend(binding: string, value: string, specs: readonly CatalogEntry[]): string {
  const parsed = parseBinding(binding)!;
  const classifiers = parsed.backends.filter((b) => taskOf(specs, b) !== 'objects');
  const detectors = parsed.backends.filter((b) => taskOf(specs, b) === 'objects');
  const backends =
    value === 'classifier'
      ? classifiers
      : [...classifiers, ...(detectors.length ? detectors : [DEFAULT_LABELS_DETECTOR])];
  return formatBinding({ ...parsed, backends });
}

/** At start: every binding must fit the loaded specs (the error names the option), then the labelsBackend alias. */
export function checkStartBindings(config: EmulatorConfig, specs: readonly CatalogEntry[]): void {
  for (const operation of operationNames) {
    const problem = checkBinding(operation, config[operation], specs);
    if (problem)
      throw new Error(`invalid emulator option ${operation}=${JSON.stringify(config[operation])}: ${problem}`);
  }
  // 'detector+classifier' is the default and leaves the binding as configured; only 'classifier' changes it.
  if (config.labelsBackend === 'classifier')
    config.rekognitionDetectLabels = withLabelsBackend(config.rekognitionDetectLabels, 'classifier', specs);
}

export function publicKnobs(ctx: EmulatorContext): Knobs {
  const { config, catalog: specs } = ctx;
  return {
    ...(Object.fromEntries(operationNames.map((op) => [op, config[op]])) as Pick<Knobs, OperationName>),
    ...(Object.fromEntries(orientationKeys.map((key) => [key, config[key]])) as Pick<Knobs, OrientationKey>),
    labelsBackend: labelsBackendOf(config, specs),
    latencyMs: config.latencyMs,
    uplinkBytesPerSecond: config.uplinkBytesPerSecond,
  };
}

/** Apply a patch of knobs, all or nothing; returns a problem description or undefined. */
export function applyKnobs(ctx: EmulatorContext, patch: Record<string, unknown>): string | undefined {
  for (const key of Object.keys(patch)) {
    if (!(knobKeys as readonly string[]).includes(key)) return `unknown knob ${key} (known: ${knobKeys.join(', ')})`;
  }
  const bindings: Partial<Record<OperationName, string>> = {};
  for (const op of operationNames) {
    const value = patch[op];
    if (value === undefined) continue;
    if (typeof value !== 'string') return `${op} must be a string`;
    const problem = checkBinding(op, value, ctx.catalog);
    if (problem) return `${op}: ${problem}`;
    bindings[op] = value.trim();
  }
  for (const key of orientationKeys) {
    const value = patch[key];
    if (value !== undefined && value !== 'exif' && value !== 'stored') return `${key} must be exif or stored`;
  }
  const { labelsBackend, latencyMs, uplinkBytesPerSecond } = patch;
  if (labelsBackend !== undefined && !labelsBackends.includes(labelsBackend as never)) {
    return `labelsBackend must be one of ${labelsBackends.join(', ')}`;
  }
  if (labelsBackend !== undefined && bindings.rekognitionDetectLabels !== undefined)
    return 'set rekognitionDetectLabels or labelsBackend, not both';
  const nonNegativeInt = (v: unknown) => v === undefined || (Number.isInteger(v) && (v as number) >= 0);
  if (!nonNegativeInt(latencyMs)) return 'latencyMs must be a non-negative integer';
  if (!nonNegativeInt(uplinkBytesPerSecond)) return 'uplinkBytesPerSecond must be a non-negative integer';

  const { config } = ctx;
  Object.assign(config, bindings);
  for (const key of orientationKeys) if (patch[key] !== undefined) config[key] = patch[key] as 'exif' | 'stored';
  if (labelsBackend !== undefined) {
    config.labelsBackend = labelsBackend as EmulatorConfig['labelsBackend'];
    config.rekognitionDetectLabels = withLabelsBackend(
      config.rekognitionDetectLabels,
      labelsBackend as string,
      ctx.catalog,
    );
  }
  if (latencyMs !== undefined) config.latencyMs = latencyMs as number;
  if (uplinkBytesPerSecond !== undefined) {
    config.uplinkBytesPerSecond = uplinkBytesPerSecond as number;
    ctx.uplink.bytesPerSecond = uplinkBytesPerSecond as number;
  }
  return undefined;
}

/** What GET /__emulator/backends lists: every loaded model, its task and input, then the engines. */
export function backendList(ctx: EmulatorContext) {
  const models = ctx.specs.map((s) => ({
    name: s.name,
    task: s.task,
    file: s.file,
    input: 'dynamic' in s.input.size ? s.input.size.dynamic : s.input.size,
    output: s.output.kind === 'detector' ? `detector/${s.output.family}` : `classifier/${s.output.values}`,
    spec: s.path,
  }));
  const engines = ctx.catalog
    .filter((c) => !ctx.specs.some((s) => s.name === c.name))
    .map((c) => ({ ...c, engine: true }));
  return [...models, ...engines];
}
