import { z } from 'zod';
import type { Exploration } from './exploration.ts';

/**
 * Policy settings. Environment:
 *   ADACOMPRESS_POLICY_MODELS        JSON object or `key=path,key=path`; keys `provider/operation`, `provider` or `*`
 *                                    (default `*=models/default.onnx` resolved by the caller)
 *   ADACOMPRESS_POLICY_FIXED_QUALITY fallback quality when no model serves a key (default 75, the paper's reference)
 *   ADACOMPRESS_POLICY_EXPLORATION   `epsilon-greedy` (default) or `softmax`
 *   ADACOMPRESS_POLICY_EPSILON       probability of a uniform random action (default 0.05)
 *   ADACOMPRESS_POLICY_TEMPERATURE   softmax temperature in score units (default 0.05)
 *   ADACOMPRESS_POLICY_WATCH         reload model files when they change (default true)
 */
export const policyConfigSchema = z.object({
  models: z
    .record(z.string().regex(/^(\*|[a-z]+(\/[A-Za-z0-9_.-]+)?)$/), z.string().min(1))
    .default({ '*': 'models/default.onnx' }),
  fixedQuality: z.coerce.number().int().min(1).max(100).default(75),
  exploration: z.enum(['epsilon-greedy', 'softmax']).default('epsilon-greedy'),
  epsilon: z.coerce.number().min(0).max(1).default(0.05),
  temperature: z.coerce.number().positive().default(0.05),
  watch: z
    .union([z.boolean(), z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1')])
    .default(true),
});
export type PolicyConfig = z.infer<typeof policyConfigSchema>;

const envNames = {
  models: 'ADACOMPRESS_POLICY_MODELS',
  fixedQuality: 'ADACOMPRESS_POLICY_FIXED_QUALITY',
  exploration: 'ADACOMPRESS_POLICY_EXPLORATION',
  epsilon: 'ADACOMPRESS_POLICY_EPSILON',
  temperature: 'ADACOMPRESS_POLICY_TEMPERATURE',
  watch: 'ADACOMPRESS_POLICY_WATCH',
} as const;

export function policyConfigFromEnv(env: NodeJS.ProcessEnv, overrides: Partial<PolicyConfig> = {}): PolicyConfig {
  const raw: Record<string, unknown> = {};
  for (const [key, name] of Object.entries(envNames)) {
    const value = env[name];
    if (value === undefined) continue;
    raw[key] = key === 'models' ? parseModelMap(value, name) : value;
  }
  const parsed = policyConfigSchema.safeParse({ ...raw, ...overrides });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = issue?.path[0] as keyof typeof envNames | undefined;
    throw new Error(`invalid ${key ? envNames[key] : 'policy config'}: ${issue?.path.join('.')} ${issue?.message}`);
  }
  return parsed.data;
}

function parseModelMap(value: string, name: string): Record<string, string> {
  if (value.trim().startsWith('{')) {
    try {
      return JSON.parse(value) as Record<string, string>;
    } catch {
      throw new Error(`invalid ${name}: not JSON`);
    }
  }
  const map: Record<string, string> = {};
  for (const pair of value.split(',').filter(Boolean)) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new Error(`invalid ${name}: expected key=path, got "${pair}"`);
    map[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
  }
  return map;
}

export function explorationOf(config: PolicyConfig): Exploration {
  return config.exploration === 'softmax'
    ? { kind: 'softmax', temperature: config.temperature }
    : { kind: 'epsilon-greedy', epsilon: config.epsilon };
}
