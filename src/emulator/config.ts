import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { type ConfigOf, int, type OptionSpec, option } from '../config/options.ts';
import { BINDING_SYNTAX, type OperationName, operations, orientationDefaults, parseBinding } from './operations.ts';

/** ../shared/data/models beside the repository, resolved from this file so the working directory does not matter. */
export const defaultModelDir = fileURLToPath(new URL('../../../shared/data/models', import.meta.url));

export const labelsBackends = ['detector+classifier', 'classifier'] as const;
export type LabelsBackend = (typeof labelsBackends)[number];

const binding = z.string().refine((v) => parseBinding(v) !== undefined, `must be ${BINDING_SYNTAX}`);
const orientation = z.enum(['exif', 'stored']);

/** One option per emulated operation: its backend(s) and working resolution (operations.ts says why each default). */
const operationOptions = Object.fromEntries(
  Object.entries(operations).map(([key, op]) => [
    key,
    option(binding, op.default as string, `Backend(s) and working resolution of ${op.title}; switchable at run time.`),
  ]),
) as Record<OperationName, OptionSpec<string>>;

/** Every option of `adacompress emulate` (flags --kebab-case, env ADACOMPRESS_EMULATOR_*). */
export const emulatorOptions = {
  host: option(z.string().min(1), '127.0.0.1', 'Address the emulator listens on.'),
  port: option(int(0, 65535), 4566, 'Port of the emulator; 0 = any free port.'),
  modelDir: option(
    z.string().min(1),
    defaultModelDir,
    'Directory with the ONNX models and label files.',
    '../shared/data/models',
  ),
  latencyMs: option(int(0, 600_000), 0, 'Added latency per API call (ms), on top of upload time and inference.'),
  uplinkBytesPerSecond: option(
    int(0),
    0,
    'Shared uplink bandwidth for request bodies (bytes/s); each call waits its turn on the link. 0 = unlimited.',
  ),
  awsAccessKeyId: option(z.string().min(1), 'AKIDEMULATOR', 'The AWS access key id Rekognition accepts.'),
  awsSecretAccessKey: option(
    z.string().min(1),
    'emulator-secret',
    'Its secret (SigV4 verification).',
    '"emulator-secret"',
  ),
  faceppApiKey: option(z.string().min(1), 'emulator-key', 'The Face++ api_key accepted.'),
  faceppApiSecret: option(z.string().min(1), 'emulator-secret', 'The Face++ api_secret accepted.', '"emulator-secret"'),
  baiduApiKey: option(z.string().min(1), 'emulator-ak', 'The Baidu API key (AK) that gets tokens.'),
  baiduSecretKey: option(z.string().min(1), 'emulator-sk', 'The Baidu secret key (SK).', '"emulator-sk"'),
  concurrency: option(int(1, 1024), 4, 'Calls per API answered at once; more wait in the queue.'),
  queue: option(
    int(0, 100_000),
    64,
    'Calls per API that may wait; beyond it the API answers its throttling error (Face++ 403, Baidu 18, AWS Throttling).',
  ),
  workers: option(int(0, 64), 2, 'Inference worker threads (each loads the models once); 0 = run on the main thread.'),
  intraOpThreads: option(int(1, 64), 1, 'onnxruntime intra-op threads per model session.'),
  modelSpecs: option(
    z.string(),
    '',
    'More model spec files (comma-separated JSON paths) beside the shipped ones in src/emulator/backends/specs/.',
  ),
  ...operationOptions,
  rekognitionOrientation: option(
    orientation,
    orientationDefaults.rekognition,
    'Rekognition and EXIF orientation: exif = applied to JPEGs, boxes of the corrected image (as AWS documents); stored = ignored.',
  ),
  faceppOrientation: option(
    orientation,
    orientationDefaults.facepp,
    'Face++ and EXIF orientation (undocumented by Face++): stored = pixels as stored; exif = applied to JPEGs.',
  ),
  baiduOrientation: option(
    orientation,
    orientationDefaults.baidu,
    'Baidu and EXIF orientation (undocumented by Baidu): stored = pixels as stored; exif = applied to JPEGs.',
  ),
  labelsBackend: option(
    z.enum(labelsBackends),
    'detector+classifier',
    'classifier = Rekognition DetectLabels without its detector (the older drift knob; switchable at run time).',
  ),
  logLevel: option(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), 'warn', 'Log level.'),
};

export type EmulatorConfig = ConfigOf<typeof emulatorOptions>;

export function emulatorConfig(overrides: Partial<EmulatorConfig> = {}): EmulatorConfig {
  const defaults = Object.fromEntries(Object.entries(emulatorOptions).map(([k, spec]) => [k, spec.default]));
  const merged = { ...defaults, ...overrides } as Record<string, unknown>;
  // Overrides come from code, not strings: validate them with the same schemas so a typo fails at start-up.
  for (const [key, spec] of Object.entries(emulatorOptions)) {
    const parsed = (spec.schema as z.ZodType).safeParse(merged[key]);
    if (!parsed.success)
      throw new Error(
        `invalid emulator option ${key}=${JSON.stringify(merged[key])}: ${parsed.error.issues[0]?.message}`,
      );
    merged[key] = parsed.data;
  }
  return merged as EmulatorConfig;
}
