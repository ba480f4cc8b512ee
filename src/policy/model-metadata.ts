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

/** Optional keys: a model that also predicts agreement and size per action (calibrated thresholds, POLICY.md). */
export const optionalMetadataKeys = ['agreement_output', 'size_output', 'operating_point'] as const;

const actionSchema = z
  .object({ quality: z.number().int().min(1).max(100), maxSide: z.number().int().min(1).optional() })
  .loose();

export const policyMetadataSchema = z
  .object({
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
    /** Output tensor names of the predicted agreement (0..1) and size ratio (bytes / reference bytes) per action. */
    agreement_output: z.string().min(1).optional(),
    size_output: z.string().min(1).optional(),
    /** The threshold cross-validation chose on the training backend at the training target: where calibration starts. */
    operating_point: z.object({ threshold: z.number().min(0).max(1) }).optional(),
  })
  .refine((m) => (m.agreement_output === undefined) === (m.size_output === undefined), {
    message: 'agreement_output and size_output come together',
    path: ['agreement_output'],
  });
export type PolicyMetadata = z.infer<typeof policyMetadataSchema>;

const jsonKeys = new Set([
  'actions',
  'feature_names',
  'reward_weights',
  'data_summary',
  'feature_version',
  'operating_point',
]);

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
  for (const key of optionalMetadataKeys) {
    const value = props[key];
    if (value === undefined) continue;
    if (!jsonKeys.has(key)) raw[key] = value;
    else {
      try {
        raw[key] = JSON.parse(value);
      } catch {
        throw new PolicyError('METADATA_INVALID', `metadata_props "${key}" is not JSON`);
      }
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
  for (const key of [...metadataKeys, ...optionalMetadataKeys]) {
    const value = metadata[key];
    if (value === undefined) continue;
    props[key] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return props;
}
