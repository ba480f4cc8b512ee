import { CodecError, inspectImage, recompress } from './codec/index.ts';
import type { CodecLimits, InspectedImage } from './codec/types.ts';
import type { WorkLimiter } from './limiter.ts';
import type { Decision, DecisionContext, Policy } from './policy/types.ts';
import type { ImageLimits, ImageSlot } from './providers/types.ts';

/** What happened to one image of a request. */
export type SlotOutcome =
  | { kind: 'encoded'; field: string; inputBytes: number; original: InspectedImage; bytes: Buffer; decision: Decision }
  | {
      kind: 'original';
      field: string;
      inputBytes: number;
      reason: string;
      original?: InspectedImage;
      decision?: Decision;
    };

/** What every image of the server shares; the policy is chosen per request (the controller may route to a safe one). */
export interface ImageStepDeps {
  codecLimits: CodecLimits;
  limiter: WorkLimiter;
  deadlineMs: number;
}

/**
 * One image's way through the proxy, as named steps: inspect → respect the API's limits → decide → re-encode (never larger).
 * Any failure keeps the original: the client's call never fails because of the proxy's own machinery.
 */
export async function processSlot(
  slot: ImageSlot,
  apiLimits: ImageLimits,
  context: DecisionContext,
  policy: Policy,
  deps: ImageStepDeps,
): Promise<SlotOutcome> {
  const keep = (reason: string, extra: Partial<SlotOutcome> = {}): SlotOutcome =>
    ({ kind: 'original', field: slot.field, inputBytes: slot.bytes.length, reason, ...extra }) as SlotOutcome;
  const result = await deps.limiter.run(async (): Promise<SlotOutcome> => {
    let original: InspectedImage;
    try {
      original = await inspectImage(slot.bytes, deps.codecLimits);
    } catch (error) {
      return keep(error instanceof CodecError ? error.code.toLowerCase() : 'inspect-failed');
    }
    // An image the API refuses for its size stays as sent: the API's own error is the right answer, and shrinking
    // below the minimum would turn it into a different error.
    if (Math.min(original.width, original.height) < apiLimits.minSide) return keep('below-minimum', { original });
    if (Math.max(original.width, original.height) > apiLimits.maxSide) return keep('above-maximum', { original });
    let decision: Decision;
    try {
      decision = await policy.decide(original, context);
    } catch {
      return keep('policy-failed', { original });
    }
    try {
      const encoded = await recompress(original, decision.action, deps.codecLimits);
      if (encoded.kind === 'original') return keep(encoded.reason, { original, decision });
      return {
        kind: 'encoded',
        field: slot.field,
        inputBytes: slot.bytes.length,
        original,
        bytes: encoded.bytes,
        decision,
      };
    } catch (error) {
      return keep(error instanceof CodecError ? error.code.toLowerCase() : 'encode-failed', { original, decision });
    }
  }, deps.deadlineMs);
  return result.ok ? result.value : keep(result.reason);
}

/** The `x-adacompress` response header: what the proxy did, for the client and for anyone debugging. */
export function describeOutcomes(outcomes: readonly SlotOutcome[]): string {
  const encoded = outcomes.filter((o): o is Extract<SlotOutcome, { kind: 'encoded' }> => o.kind === 'encoded');
  if (encoded.length === 0) {
    const reasons = [...new Set(outcomes.map((o) => (o.kind === 'original' ? o.reason : '')))].join(',');
    return `original;reason=${reasons || 'no-image'}`;
  }
  const before = outcomes.reduce((sum, o) => sum + o.inputBytes, 0);
  const after = outcomes.reduce((sum, o) => sum + (o.kind === 'encoded' ? o.bytes.length : o.inputBytes), 0);
  const saved = before > 0 ? Math.round((100 * (before - after)) / before) : 0;
  return `q=${encoded.map((o) => o.decision.action.quality).join(',')};saved=${saved}%`;
}
