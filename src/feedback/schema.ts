/**
 * The decision log's versioned line schema (docs/DECISION-LOG.md). One JSON object per line; two line types:
 * `decision` (what the proxy did with one image and what the API answered) and `reference` (the answer for the
 * reference upload of the same image). The proxy validates with the strict variant before writing, so nothing the
 * schema does not name (a header, a key, image bytes) can reach the file; readers use the lenient variant, so lines
 * from a newer writer that only added optional fields still read.
 *
 * Versioning: `v` changes only for an incompatible change. Adding an optional field keeps v: 1.
 */
import { z } from 'zod';

export const LOG_SCHEMA_VERSION = 1;

/** A provider's name as descriptors spell it; the writer further requires one of the proxy's own (writeSchemasFor). */
const providerName = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'a provider name like rekognition');

function buildSchemas(strict: boolean, providers?: readonly string[]) {
  const object = strict ? z.strictObject : z.object;
  const score = z.number().min(0).max(1);
  const count = z.number().int().nonnegative();

  const answer = object({
    labels: z.array(object({ name: z.string(), score })),
    faces: z.array(
      object({
        box: object({
          left: z.number(),
          top: z.number(),
          width: z.number().nonnegative(),
          height: z.number().nonnegative(),
        }),
        score,
      }),
    ),
    text: z.string().optional(),
  });

  const id = z.string().min(1).max(128);
  /** Upstream HTTP status; 0 when there was no response at all (connection error, timeout). */
  const upstreamStatus = z.number().int().min(0).max(599);
  const code = z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, 'a lower-case code like not-smaller');

  const decision = object({
    type: z.literal('decision'),
    v: z.literal(LOG_SCHEMA_VERSION),
    id,
    time: z.iso.datetime({ offset: true }),
    provider: providers ? z.enum(providers as [string, ...string[]]) : providerName,
    /** The client's own x-request-id, for correlation (the decision id is the proxy's). */
    clientRequestId: z.string().min(1).max(128).optional(),
    operation: z.string().min(1).max(128),
    /** Which image slot of the request this decision is about (e.g. SourceImage), when the request carries several. */
    slot: z.string().min(1).max(64).optional(),
    upstreamStatus,
    upstreamMs: z.number().nonnegative(),
    original: object({
      bytes: count,
      format: z.enum(['jpeg', 'png', 'webp', 'gif', 'tiff', 'bmp', 'other']),
      width: count,
      height: count,
      orientation: z.number().int().min(1).max(8),
    }),
    features: object({ version: z.number().int().nonnegative(), values: z.array(z.number()) }).optional(),
    /** The action sent: quality always, `maxSide` (px) when resized; later knobs are extra primitive fields. */
    action: z
      .object({ quality: z.number().int().min(1).max(100) })
      .catchall(z.union([z.number(), z.string(), z.boolean()])),
    /** Index into the model's action list; -1 when the action is not from it (the controller's safe action). */
    actionIndex: z.number().int().min(-1),
    /** Probability with which the logged action was chosen, given the features: the trainer's off-policy weight. */
    propensity: z.number().gt(0).max(1),
    modelId: z.string().min(1).max(256),
    bytesSent: count,
    /** Whether the re-encoded image or the original went upstream, and why the original when it did. */
    outcome: z.discriminatedUnion('sent', [
      object({ sent: z.literal('encoded') }),
      object({ sent: z.literal('original'), reason: code }),
    ]),
    /** Normalised answer for what was sent; null when the API answered an error or something unreadable. */
    answer: answer.nullable(),
    /** The online controller when deciding: its state and how this decision was routed (controller.ts). */
    controllerState: object({
      state: z.enum(['policy', 'fallback']),
      mode: z.enum(['policy', 'safe', 'probe']),
    }),
    /** The calibrated operating point it was sent at (floor side in px or null, ladder level) and if it was a probe. */
    point: object({
      floor: z.number().int().positive().nullable(),
      level: z.number().int().nonnegative(),
      probe: z.boolean(),
      /** Sent above the API's documented working side (calibration found that ceiling loses answers). */
      aboveWorkingSide: z.boolean().optional(),
      /** A ceiling too: at most this quality and the floor's side (a model's level on a safe-rung grid). */
      maxQuality: z.number().int().min(1).max(100).optional(),
    }).optional(),
    /** The reference sampler's verdict: the probability it drew with, and whether a reference upload follows. */
    reference: object({ probability: z.number().min(0).max(1), requested: z.boolean() }).optional(),
  });

  const reference = object({
    type: z.literal('reference'),
    v: z.literal(LOG_SCHEMA_VERSION),
    id,
    decisionId: id,
    time: z.iso.datetime({ offset: true }),
    /** What was uploaded as the reference: the image at JPEG quality 75 (the paper) or the client's original bytes. */
    kind: z.enum(['q75', 'original']),
    bytes: count,
    upstreamStatus,
    upstreamMs: z.number().nonnegative().optional(),
    answer: answer.nullable(),
  });

  return { answer, decision, reference, line: z.discriminatedUnion('type', [decision, reference]) };
}

/** Lenient: unknown fields are dropped (forward compatible within a version). For readers. */
export const readSchemas = buildSchemas(false);

/**
 * Strict: unknown fields are refused, and the provider must be one the proxy serves (the registry's descriptors). For
 * the writer, so nothing unnamed reaches the log.
 */
export const writeSchemasFor = (providers: readonly string[]) => buildSchemas(true, providers);
export type WriteSchemas = ReturnType<typeof writeSchemasFor>;

export type DecisionLine = z.output<typeof readSchemas.decision>;
export type ReferenceLine = z.output<typeof readSchemas.reference>;
export type LogLine = DecisionLine | ReferenceLine;

export type LogLineErrorCode = 'INVALID_JSON' | 'UNKNOWN_TYPE' | 'UNSUPPORTED_VERSION' | 'INVALID_LINE';

export class LogLineError extends Error {
  readonly code: LogLineErrorCode;
  /** Field paths and messages, for INVALID_LINE. */
  readonly issues: readonly string[];
  constructor(code: LogLineErrorCode, message: string, issues: readonly string[] = []) {
    super(message);
    this.name = 'LogLineError';
    this.code = code;
    this.issues = issues;
  }
}

export type ParseResult = { ok: true; line: LogLine } | { ok: false; error: LogLineError };

export function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.join('.') || '(line)'}: ${issue.message}`);
}

/** Validate one line of the log. Never throws: a torn or foreign line is a typed error the reader can count. */
export function parseLogLine(text: string): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, error: new LogLineError('INVALID_JSON', 'not a JSON line (torn write or foreign content)') };
  }
  if (typeof value !== 'object' || value === null) {
    return { ok: false, error: new LogLineError('INVALID_JSON', 'line is not a JSON object') };
  }
  const { type, v } = value as { type?: unknown; v?: unknown };
  if (type !== 'decision' && type !== 'reference') {
    return { ok: false, error: new LogLineError('UNKNOWN_TYPE', `unknown line type ${JSON.stringify(type)}`) };
  }
  if (v !== LOG_SCHEMA_VERSION) {
    return {
      ok: false,
      error: new LogLineError(
        'UNSUPPORTED_VERSION',
        `schema version ${JSON.stringify(v)}; this reader knows ${LOG_SCHEMA_VERSION}`,
      ),
    };
  }
  const parsed = readSchemas.line.safeParse(value);
  if (!parsed.success) {
    const issues = formatIssues(parsed.error);
    return { ok: false, error: new LogLineError('INVALID_LINE', `invalid ${type} line: ${issues.join('; ')}`, issues) };
  }
  return { ok: true, line: parsed.data };
}
