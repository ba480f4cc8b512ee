import { z } from 'zod';
import { PolicyError } from './errors.ts';

/**
 * The policy model contract: ONNX metadata_props (string values; structured ones are JSON). A model for this proxy
 * MUST carry all of these. See docs/POLICY.md.
 */
export const metadataKeys = [
  'model_id',
  'actions',
  'input',
  'output',
  'feature_version',
  'feature_names',
  'provider',
  'operation',
  'reward_weights',
  'data_summary',
] as const;

const actionSchema = z.object({ quality: z.number().int().min(1).max(100) }).loose();

export const policyMetadataSchema = z.object({
  model_id: z.string().min(1).max(200),
  /** One per output score, in output order. */
  actions: z.array(actionSchema).min(1).max(256),
  /** Input tensor name: float32 [batch, feature_names.length]. */
  input: z.string().min(1),
  /** Output tensor name: float32 [batch, actions.length], expected reward per action. */
  output: z.string().min(1),
  feature_version: z.number().int().positive(),
  feature_names: z.array(z.string()).min(1),
  /** Provider and operation it was trained for; '*' means any. */
  provider: z.string().min(1),
  operation: z.string().min(1),
  reward_weights: z.record(z.string(), z.number()),
  data_summary: z.unknown(),
});
export type PolicyMetadata = z.infer<typeof policyMetadataSchema>;

const jsonKeys = new Set(['actions', 'feature_names', 'reward_weights', 'data_summary', 'feature_version']);

/** Parse and type-check metadata_props. Throws PolicyError('METADATA_INVALID') naming the bad key. */
export function parsePolicyMetadata(props: Record<string, string>): PolicyMetadata {
  const raw: Record<string, unknown> = {};
  for (const key of metadataKeys) {
    const value = props[key];
    if (value === undefined) throw new PolicyError('METADATA_INVALID', `metadata_props lacks "${key}"`);
    if (!jsonKeys.has(key)) {
      raw[key] = value;
      continue;
    }
    try {
      raw[key] = JSON.parse(value);
    } catch {
      // data_summary may be free text; everything else must be JSON.
      if (key !== 'data_summary') throw new PolicyError('METADATA_INVALID', `metadata_props "${key}" is not JSON`);
      raw[key] = value;
    }
  }
  const parsed = policyMetadataSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new PolicyError('METADATA_INVALID', `metadata_props "${issue?.path.join('.')}": ${issue?.message}`);
  }
  return parsed.data;
}

/** The inverse, for writers: typed metadata -> metadata_props strings. */
export function policyMetadataProps(metadata: PolicyMetadata): Record<string, string> {
  const props: Record<string, string> = {};
  for (const key of metadataKeys) {
    const value = metadata[key];
    props[key] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return props;
}
