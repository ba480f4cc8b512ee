import { z } from 'zod';
import { SCAN_LIMITS } from '../codec/inspect.ts';
import { calibrationDefaults } from '../feedback/calibration.ts';
import { controllerDefaults } from '../feedback/controller.ts';
import { ROTATE_SIZE_PATTERN } from '../feedback/decision-log.ts';
import { referenceSamplerDefaults } from '../feedback/reference-sampler.ts';
import { DEFAULT_REFERENCE_KIND } from '../feedback/reward-spec.ts';
import { parseQualityLadder, TEXT_SAFE_LADDER } from '../policy/ladder.ts';
import { IMAGE_LIMITS_PATTERN, providerDescriptors, providerOptions } from '../providers/registry.ts';
import type { ProviderDescriptor } from '../providers/types.ts';
import { bool, type ConfigOf, int, loadOptions, num, type OptionTable, option } from './options.ts';

const MiB = 1024 * 1024;

/**
 * The trained policies shipped in models/ (each with its model card): one per emulated API the trainer learned, and the
 * placeholder `*` for every other image operation.
 */
export const DEFAULT_POLICY_MODELS = [
  'rekognition/DetectLabels=models/rekognition-detectlabels.onnx',
  'rekognition/DetectFaces=models/rekognition-detectfaces.onnx',
  'baidu/image-classify/v2/advanced_general=models/baidu-advanced-general.onnx',
  'baidu/face/v3/detect=models/baidu-face-detect.onnx',
  'facepp/imagepp/beta/detectsceneandobject=models/facepp-detectsceneandobject.onnx',
  'facepp/facepp/v3/detect=models/facepp-detect.onnx',
  '*=models/default.onnx',
].join(',');

/** The proxy's own options; each provider adds its own (endpoint, credentials) from its descriptor. */
export const coreOptions = {
  host: option(z.string().min(1), '127.0.0.1', 'Address the proxy listens on. Use 0.0.0.0 in a container.'),
  port: option(int(0, 65535), 8080, 'Port of the proxy (the one SDKs point at).'),
  adminHost: option(z.string().min(1), '127.0.0.1', 'Address of the admin listener (health, metrics, reload, status).'),
  adminPort: option(int(0, 65535), 9090, 'Port of the admin listener; never the same as --port.'),
  maxBodyBytes: option(
    int(1024),
    16 * MiB,
    'Largest image request body the proxy buffers (bytes); larger gets 413.',
    '16 MiB',
  ),
  imageLimits: option(
    z
      .string()
      .regex(
        IMAGE_LIMITS_PATTERN,
        'must be key:field=N[,field=N][;key:...] with fields minSide, maxSide, maxBytes, workingSide',
      ),
    '',
    'Overrides of the APIs documented image limits, per provider or provider/operation, e.g. facepp:maxBytes=2000000;rekognition/DetectLabels:maxSide=4096.',
    '""',
  ),
  maxResponseBytes: option(
    int(1024),
    16 * MiB,
    'Largest upstream answer to an image request the proxy buffers to read (bytes); larger ones stream to the client unread and no answer is logged.',
    '16 MiB',
  ),
  maxInputPixels: option(
    int(1),
    100_000_000,
    'Images with more pixels are never decoded (decompression bombs); they go as sent.',
  ),
  maxJpegScans: option(
    int(1),
    SCAN_LIMITS.maxJpegScans,
    'JPEGs with more scans are never decoded (progressive scan bombs: each scan walks the whole image); they go as sent.',
  ),
  maxScanPixels: option(
    int(1),
    SCAN_LIMITS.maxScanPixels,
    'JPEGs whose width x height x scans is over this are never decoded (the cost of a progressive decode); they go as sent.',
  ),
  maxBufferedBytes: option(
    int(0),
    128 * MiB,
    'Request bodies held in memory at once (bytes; 0 = no bound). Past it a body waits --buffer-wait-ms, then streams through as sent (Rekognition: 503, its signature needs the whole body).',
    '128 MiB',
  ),
  bufferWaitMs: option(int(0), 2000, 'How long a request body waits for room under --max-buffered-bytes.'),
  clientBodyTimeoutMs: option(
    int(1),
    15_000,
    'Longest pause between two reads of a request body (like NGINX client_body_timeout); past it the client gets 408 in the API error shape.',
  ),
  clientRequestTimeoutMs: option(
    int(1),
    120_000,
    'Longest time a client may take to send a request body (time the proxy is not reading excluded); past it the client gets 408 in the API error shape.',
  ),
  quality: option(
    int(1, 100),
    35,
    'JPEG quality of the fixed policy, used where no ONNX model serves a provider/operation.',
  ),
  textQualities: option(
    z
      .string()
      .refine((v) => v === '' || parseQualityLadder(v) !== undefined, 'must be falling qualities 1..100, e.g. 85,75'),
    TEXT_SAFE_LADDER.join(','),
    'JPEG qualities, safest first, for text (OCR) operations without a model of their own: they start on the first at the stored size and calibration walks down as references allow (measured in docs/EMULATOR.md). Empty = text operations use the models like any other.',
  ),
  policyModels: option(
    z
      .string()
      .regex(
        /^(\*|[a-z]+(\/[A-Za-z0-9_./-]+)?)=[^,=]+(,(\*|[a-z]+(\/[A-Za-z0-9_./-]+)?)=[^,=]+)*$|^$/,
        'must be key=path[,key=path]',
      ),
    DEFAULT_POLICY_MODELS,
    'ONNX policy per provider/operation, provider or *, as key=path pairs; relative paths are from the package root. Empty = fixed quality everywhere.',
    'the shipped models (README, Policies)',
  ),
  policyExploration: option(
    z.enum(['epsilon-greedy', 'softmax']),
    'epsilon-greedy',
    'How the policy explores (logged with its propensity).',
  ),
  policyEpsilon: option(num(0, 1), 0.05, 'epsilon-greedy: chance of a uniformly random action.'),
  policyTemperature: option(num(0.0001), 0.05, 'softmax: temperature in reward units.'),
  policyWatch: option(
    bool(),
    true,
    'Reload a model file when it changes (POST /policy/reload on the admin port also reloads).',
  ),
  decisionLog: option(
    z.string(),
    'logs/decisions.jsonl',
    'Decision log base path (rotated files decisions.000001.jsonl, ...); empty disables the log.',
  ),
  decisionLogRotateSize: option(
    z.string().regex(ROTATE_SIZE_PATTERN, 'a size like 512k, 64m, 1g'),
    '64m',
    'Start a new decision log file after this many bytes.',
  ),
  decisionLogRotateFrequency: option(
    z.enum(['hourly', 'daily', 'never']),
    'daily',
    'Start a new decision log file at each UTC hour or day.',
  ),
  decisionLogSync: option(
    bool(),
    false,
    'Write each decision line synchronously: SIGKILL then loses nothing, at some latency.',
  ),
  calibration: option(
    bool(),
    true,
    'Calibrate each provider/operation online from the reference uploads: the resolution floor and policy level that hold --target-agreement.',
  ),
  targetAgreement: option(
    num(0, 1),
    calibrationDefaults.target,
    'Agreement with the reference answer that calibration holds per provider/operation.',
  ),
  calibrationReferenceProbability: option(
    num(0, 1),
    calibrationDefaults.calibratingReferenceProbability,
    'Reference probability while calibration has an undecided candidate (still capped by the budget).',
  ),
  calibrationLevels: option(
    z.enum(['model', 'ladder']),
    'model',
    "What calibration walks below the safe quality for a model that predicts agreement: the model's thresholds (it picks each image's quality at the calibrated side), or a model-free quality ladder from the safe quality down (one quality per point, no exploration). Chosen on photos the model never saw (docs/BENCHMARKS.md, run AB, `npm run levels-fold-cv`: a fifth of the training photos held out from a refitted model, on a label backend it was not trained on): the model's levels ended at a median of 1.25x the best fixed action's bytes, the ladder at 1.57x (1.13x and 1.77x in a second run). On validation the ladder led (1.18x against 1.44x), and on a second foreign backend it held agreement better; the spread between streams is as large as the gaps. Rules (a fixed quality, the text ladder) walk their own qualities either way.",
  ),
  calibrationState: option(
    z.string(),
    'auto',
    'Where the calibrated state survives restarts: auto = calibration.json beside the decision log (not kept without one); a path; empty = not kept.',
  ),
  referenceKind: option(
    z.enum(['q75', 'original']),
    DEFAULT_REFERENCE_KIND,
    "What a reference upload sends, and so what agreement means: the client's original (the answer the client would have got calling the API directly) or the image at quality 75 (the paper's reference). Text (OCR) operations always reference the original. Measured in docs/BENCHMARKS.md (photos run U): against the original, q75 at the stored size itself loses about 2% of label answers on phone photos.",
  ),
  controllerDetector: option(
    z.enum(['cusum', 'window']),
    controllerDefaults.detector,
    'How the controller detects an agreement drop: CUSUM over reference samples, or the paper window mean.',
  ),
  controllerCusumReference: option(
    num(0, 1),
    controllerDefaults.cusumReference,
    'CUSUM: agreement above this drains the statistic, below it fills it.',
  ),
  controllerCusumThreshold: option(
    num(0.01),
    controllerDefaults.cusumThreshold,
    'CUSUM: fall back when the statistic passes this.',
  ),
  controllerSuspicionBoost: option(
    num(0),
    controllerDefaults.suspicionBoost,
    'CUSUM: reference probability x (1 + boost x statistic/threshold) while agreement looks shaky (0 = off).',
  ),
  controllerWindow: option(
    int(1, 10_000),
    controllerDefaults.windowSize,
    'Reference samples averaged by the window detector and for recovery from fallback.',
  ),
  controllerThreshold: option(
    num(0, 1),
    controllerDefaults.threshold,
    'Window detector: fall back when the window agreement drops below this.',
  ),
  controllerRecoverThreshold: option(
    num(0, 1),
    controllerDefaults.recoverThreshold,
    'Return to the policy when probe agreement reaches this.',
  ),
  safeQuality: option(
    z.union([z.literal('auto'), int(1, 100)]),
    'auto',
    "JPEG quality of the controller's fallback and of calibration's safest rung (never larger than what the client sent: a smaller file goes as sent). Calibration starts on this rung at the stored size and descends through the grid's qualities to q75 and below as the references allow (with --reference-budget-per-minute 0 it starts, and stays, at q75 or this if lower). auto = the reference's own: 95 with --reference-kind original (close to the client's file), 75 with q75 (the reference itself).",
  ),
  boostedReferenceProbability: option(
    num(0, 1),
    controllerDefaults.boostedReferenceProbability,
    'Reference probability while falling back (still capped by the budget).',
  ),
  imageConcurrency: option(int(1, 256), 2, 'Images re-encoded at once (sharp work); match the cores.'),
  imageQueue: option(
    int(0, 10_000),
    32,
    'Images that may wait for a re-encode slot; beyond it originals go through untouched.',
  ),
  imageDeadlineMs: option(int(1), 1000, 'Longest wait plus work for one image; past it the original goes.'),
  connectTimeoutMs: option(
    int(1),
    5000,
    'Upstream connect timeout; on expiry the client gets 502 in the API error shape.',
  ),
  upstreamTimeoutMs: option(
    int(1),
    60_000,
    'Upstream response timeout (headers and body); on expiry the client gets 504.',
  ),
  upstreamConnections: option(int(1), 128, 'Keep-alive connections per upstream origin.'),
  shutdownGraceMs: option(
    int(0),
    10_000,
    'On SIGTERM, time given to in-flight requests and reference uploads; then unanswered clients get 503 in the API error shape and the process exits.',
  ),
  statusHistoryIntervalMs: option(int(100), 10_000, 'How often the status page history samples the counters.'),
  logLevel: option(
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    'info',
    'Service log level.',
  ),
  trustLoopback: option(bool(), true, 'Treat a loopback listener as private (see --unverified-signatures auto).'),
  referenceProbability: option(
    num(0, 1),
    referenceSamplerDefaults.probability,
    'Chance that a decision also sends a reference upload (learning signal). Calibration raises it while it explores (--calibration-reference-probability); --reference-budget-per-minute 0 turns every extra call off.',
  ),
  referenceBudgetPerMinute: option(
    int(0),
    referenceSamplerDefaults.maxPerMinute,
    'Hard cap of paid extra calls per minute (reference uploads and calibration probes), whatever the probability.',
  ),
};

/** Every option of `adacompress serve`: the core ones, then each provider's. The README's table is generated from it. */
export const proxyOptions = { ...coreOptions, ...providerOptions() } as typeof coreOptions & ProviderOptionTables;

// The static type of the registered providers' options, derived from the descriptor list's own types.
type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;
type OptionsOf<D> = D extends ProviderDescriptor<infer T> ? T : never;
type ProviderOptionTables = UnionToIntersection<OptionsOf<(typeof providerDescriptors)[number]>>;

/** The flat config of `serve`: core options and every provider's (a test-only provider may add keys of its own). */
export type ProxyConfig = ConfigOf<typeof proxyOptions> & Record<string, unknown>;

/** The option table for a list of providers (the registry's by default). */
export const proxyOptionsFor = (descriptors: readonly ProviderDescriptor[]): OptionTable =>
  descriptors === providerDescriptors ? proxyOptions : { ...coreOptions, ...providerOptions(descriptors) };

export const defaultProxyConfig = (
  overrides: Partial<ProxyConfig> = {},
  descriptors: readonly ProviderDescriptor[] = providerDescriptors,
): ProxyConfig => {
  const table = proxyOptionsFor(descriptors);
  const base = Object.fromEntries(Object.entries(table).map(([k, spec]) => [k, spec.default])) as ProxyConfig;
  return { ...base, ...overrides } as ProxyConfig;
};

export function loadProxyConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  descriptors: readonly ProviderDescriptor[] = providerDescriptors,
) {
  const config = loadOptions(proxyOptionsFor(descriptors), argv, env) as ProxyConfig & { help: boolean };
  if (config.adminPort !== 0 && config.adminPort === config.port && config.adminHost === config.host) {
    throw new Error('invalid --admin-port: must differ from --port so admin routes never shadow an upstream path');
  }
  return config;
}
