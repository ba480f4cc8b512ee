import { CodecError, inspectImage, recompress } from '../codec/index.ts';
import type { CodecLimits, InspectedImage } from '../codec/types.ts';
import type { WorkBudget, WorkLimiter } from '../limiter.ts';
import type { Decision, Policy } from '../policy/types.ts';
import type { ProviderName } from '../providers/types.ts';
import type { SlotOutcome, SlotWork } from './exchange.ts';
import { fitBytes, overLimits } from './fit-limits.ts';
import type { Step } from './steps.ts';

/** Every image of the request at once, each under the work limiter; the policy is the slot's plan's, or the default. */
export const shrink: Step = {
  name: 'shrink',
  improves: true,
  when: (exchange) => exchange.slots.length > 0,
  async run(exchange, context) {
    const provider = exchange.provider!.name;
    await Promise.all(
      exchange.slots.map(async (slot) => {
        const started = performance.now();
        slot.outcome = await shrinkImage(slot, provider, slot.plan?.policy ?? context.policy, context, exchange.signal);
        slot.workMs = performance.now() - started;
      }),
    );
  },
};

export interface ImageWork {
  codecLimits: CodecLimits;
  limiter: WorkLimiter;
  imageDeadlineMs: number;
}

/**
 * One image's way: inspect -> respect the API's limits -> decide -> re-encode (never larger) -> fit the API's byte
 * limit. Any failure keeps the original: the client's call never fails because of the proxy's own machinery. An image
 * the API would refuse as too large is made to fit (fit-limits.ts), so the call succeeds. The image deadline stops the
 * work, not only the wait (the encode's decode-time limit, and no next stage once it passed); so does `signal` (the
 * client went away): nobody would use the result.
 */
export async function shrinkImage(
  slot: SlotWork,
  provider: ProviderName,
  policy: Policy,
  work: ImageWork,
  signal?: AbortSignal,
): Promise<SlotOutcome> {
  const keep = (reason: string, extra: { original?: InspectedImage; decision?: Decision } = {}): SlotOutcome => ({
    kind: 'original',
    reason,
    ...extra,
  });
  // An image the request refers to by its pixels elsewhere keeps its size: no working side, no resolution floor. A
  // point calibrated above the working side is not capped by it either.
  const plannedPoint = slot.plan?.point;
  const uncapped = slot.keepSize || plannedPoint?.aboveWorkingSide;
  const limits = uncapped ? { ...slot.operation.limits, workingSide: undefined } : slot.operation.limits;
  const point = plannedPoint && slot.keepSize ? { ...plannedPoint, floor: null } : plannedPoint;
  const limited = (job: (budget: WorkBudget) => Promise<SlotOutcome>) =>
    work.limiter.run(job, work.imageDeadlineMs, signal);
  const result = await limited(async (budget): Promise<SlotOutcome> => {
    const stopped = (extra: { original: InspectedImage; decision?: Decision }) =>
      budget.signal.aborted ? keep(String(budget.signal.reason), extra) : undefined;
    let original: InspectedImage;
    try {
      original = await inspectImage(slot.bytes, work.codecLimits);
    } catch (error) {
      return keep(error instanceof CodecError ? error.code.toLowerCase() : 'inspect-failed');
    }
    // An image the API refuses as too small stays as sent: the API's own error is the right answer, and no
    // resizing can fix it without inventing pixels.
    if (Math.min(original.width, original.height) < limits.minSide) return keep('below-minimum', { original });
    const over = overLimits(original, limits);
    // Fitting would move the region the request names: the API's own error is the honest answer then.
    if (over && slot.keepSize) return keep('region-of-interest', { original });
    let decision: Decision;
    const beforeDecide = stopped({ original });
    if (beforeDecide) return beforeDecide;
    try {
      decision = await policy.decide(original, {
        provider,
        operation: slot.operation.name,
        limits,
        ...(point ? { point } : {}),
      });
    } catch {
      // The client's image would fail upstream as it is: make it fit even without the policy's say.
      if (!over) return keep('policy-failed', { original });
      decision = { action: { quality: 75 }, actionIndex: -1, propensity: 1, modelId: 'fit-limits' };
    }
    if (slot.keepSize && decision.action.maxSide !== undefined) {
      // Whatever the policy wanted, the size stays; the action is then not the model's (index -1: no IPS sample).
      decision = { ...decision, action: { quality: decision.action.quality }, actionIndex: -1 };
    }
    const beforeEncode = stopped({ original, decision });
    if (beforeEncode) return beforeEncode;
    try {
      const encoded = await recompress(original, decision.action, work.codecLimits, budget);
      if (encoded.kind === 'original') return keep(encoded.reason, { original, decision });
      const fitted = await fitBytes(original, decision.action, encoded, limits, work.codecLimits, budget);
      if (!fitted) return keep('cannot-fit', { original, decision });
      const bytesRefit = fitted.encoded !== encoded;
      const sentDecision = bytesRefit ? { ...decision, action: fitted.action } : decision;
      return {
        kind: 'encoded',
        original,
        bytes: fitted.encoded.bytes,
        width: fitted.encoded.width,
        height: fitted.encoded.height,
        decision: sentDecision,
        ...(over || bytesRefit ? { fitted: bytesRefit ? ('bytes' as const) : over } : {}),
      };
    } catch (error) {
      return keep(error instanceof CodecError ? error.code.toLowerCase() : 'encode-failed', { original, decision });
    }
  });
  return result.ok ? result.value : keep(result.reason);
}
