import type { ConfigOf, OptionTable } from '../config/options.ts';
import { baidu } from './baidu/index.ts';
import { facepp } from './facepp/index.ts';
import { rekognition } from './rekognition/index.ts';
import type {
  CredentialSource,
  ImageLimits,
  OperationSpec,
  Provider,
  ProviderContext,
  ProviderDescriptor,
} from './types.ts';

/**
 * The one list of upstream APIs. The proxy's option table, the decision log's provider names, the trainer's client
 * and the emulator's routes all derive from it: a fourth API is one module and one line here.
 */
export const providerDescriptors = [rekognition, facepp, baidu] as const satisfies readonly ProviderDescriptor[];

/** Every descriptor's own options, in list order (their keys never collide: each starts with the provider's name). */
export function providerOptions(descriptors: readonly ProviderDescriptor[] = providerDescriptors): OptionTable {
  return Object.assign({}, ...descriptors.map((d) => d.options));
}

export interface ProvidersSetup {
  /** --max-body-bytes */
  maxBodyBytes: number;
  /** --image-limits */
  imageLimits: string;
  listenerIsPrivate: boolean;
  awsCredentials?: CredentialSource;
}

/** The run-time providers, each from its descriptor's own options in `config` (a flat, already validated table). */
export function createProviders(
  config: Readonly<Record<string, unknown>>,
  setup: ProvidersSetup,
  descriptors: readonly ProviderDescriptor[] = providerDescriptors,
): Provider[] {
  const overrides = parseImageLimits(setup.imageLimits);
  return descriptors.map((descriptor) => {
    const context: ProviderContext = {
      maxBodyBytes: setup.maxBodyBytes,
      listenerIsPrivate: setup.listenerIsPrivate,
      operations: effectiveOperations(descriptor, overrides),
      ...(setup.awsCredentials ? { awsCredentials: setup.awsCredentials } : {}),
    };
    return descriptor.create(settingsOf(descriptor, config), context);
  });
}

/** A descriptor's options out of the flat config, defaults where absent (the config was validated by the table). */
export function settingsOf<Table extends OptionTable>(
  descriptor: ProviderDescriptor<Table>,
  config: Readonly<Record<string, unknown>>,
): ConfigOf<Table> {
  const settings: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(descriptor.options)) settings[key] = config[key] ?? spec.default;
  return settings as ConfigOf<Table>;
}

/** `provider/operation` -> the descriptor and the operation's spec (the trainer's and the reward's lookup). */
export function findOperation(
  key: string,
  descriptors: readonly ProviderDescriptor[] = providerDescriptors,
): { descriptor: ProviderDescriptor; operation: OperationSpec } | undefined {
  const slash = key.indexOf('/');
  if (slash <= 0) return undefined;
  const descriptor = descriptors.find((d) => d.name === key.slice(0, slash));
  const operation = descriptor?.operations.find((o) => o.name === key.slice(slash + 1));
  return descriptor && operation ? { descriptor, operation } : undefined;
}

type LimitOverrides = Map<string, Partial<ImageLimits>>;

/** A descriptor's operations with the configured limit overrides applied, by name. */
export function effectiveOperations(descriptor: ProviderDescriptor, overrides: LimitOverrides) {
  const byName = new Map<string, OperationSpec>();
  for (const operation of descriptor.operations) {
    const limits = {
      ...operation.limits,
      ...overrides.get(descriptor.name),
      ...overrides.get(`${descriptor.name}/${operation.name}`),
    };
    byName.set(operation.name, { ...operation, limits });
  }
  return byName;
}

const LIMIT_FIELDS = new Set<keyof ImageLimits>(['minSide', 'maxSide', 'maxBytes', 'workingSide']);
export const IMAGE_LIMITS_PATTERN =
  /^$|^[a-z][a-z0-9]*(\/[A-Za-z0-9_./-]+)?:(minSide|maxSide|maxBytes|workingSide)=\d+(,(minSide|maxSide|maxBytes|workingSide)=\d+)*(;[a-z][a-z0-9]*(\/[A-Za-z0-9_./-]+)?:(minSide|maxSide|maxBytes|workingSide)=\d+(,(minSide|maxSide|maxBytes|workingSide)=\d+)*)*$/;

/**
 * `--image-limits`: overrides of the documented limits, per provider or provider/operation (the more specific wins),
 * e.g. `facepp:maxBytes=2000000;rekognition/DetectLabels:maxSide=4096`. The syntax is checked by the option's
 * pattern (IMAGE_LIMITS_PATTERN) before this runs.
 */
export function parseImageLimits(spec: string): LimitOverrides {
  const overrides: LimitOverrides = new Map();
  for (const entry of spec.split(';').filter(Boolean)) {
    const colon = entry.indexOf(':');
    const limits: Partial<ImageLimits> = {};
    for (const pair of entry.slice(colon + 1).split(',')) {
      const [field, value] = pair.split('=') as [keyof ImageLimits, string];
      if (LIMIT_FIELDS.has(field)) limits[field] = Number(value);
    }
    overrides.set(entry.slice(0, colon), limits);
  }
  return overrides;
}

export const isLoopback = (host: string): boolean => host === 'localhost' || host === '::1' || host.startsWith('127.');
