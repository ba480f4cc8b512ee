import { CodecError, inspectImage, recompress } from '../codec/index.ts';
import type { CodecLimits, InspectedImage } from '../codec/types.ts';
import type { WorkBudget, WorkLimiter } from '../limiter.ts';
import type { Decision, Policy } from '../policy/types.ts';
import type { ProviderName } from '../providers/types.ts';
import type { SlotOutcome, SlotWork } from './exchange.ts';
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
 * One image's way: inspect -> respect the API's limits -> decide -> re-encode (never larger). Any failure keeps the
 * original: the client's call never fails because of the proxy's own machinery. The image deadline stops the work,
 * not only the wait (the encode's decode-time limit, and no next stage once it passed); so does `signal` (the client
 * went away): nobody would use the result.
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
  const limits = slot.operation.limits;
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
    // An image the API refuses for its size stays as sent: the API's own error is the right answer, and shrinking
    // below the minimum would turn it into a different error.
    if (Math.min(original.width, original.height) < limits.minSide) return keep('below-minimum', { original });
    if (Math.max(original.width, original.height) > limits.maxSide) return keep('above-maximum', { original });
    let decision: Decision;
    const beforeDecide = stopped({ original });
    if (beforeDecide) return beforeDecide;
    try {
      const point = slot.plan?.point;
      decision = await policy.decide(original, {
        provider,
        operation: slot.operation.name,
        limits,
        ...(point ? { point } : {}),
      });
    } catch {
      return keep('policy-failed', { original });
    }
    const beforeEncode = stopped({ original, decision });
    if (beforeEncode) return beforeEncode;
    try {
      const encoded = await recompress(original, decision.action, work.codecLimits, budget);
      if (encoded.kind === 'original') return keep(encoded.reason, { original, decision });
      return {
        kind: 'encoded',
        original,
        bytes: encoded.bytes,
        width: encoded.width,
        height: encoded.height,
        decision,
      };
    } catch (error) {
      return keep(error instanceof CodecError ? error.code.toLowerCase() : 'encode-failed', { original, decision });
    }
  });
  return result.ok ? result.value : keep(result.reason);
}
