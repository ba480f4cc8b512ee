import type { InspectedImage } from '../codec/types.ts';
import type { Decision } from '../policy/types.ts';
import { type Exchange, type SlotWork, sentBytesOf } from '../request/exchange.ts';
import type { DecisionInput } from './decision-log.ts';

/** The decision log line of one image of a finished exchange (docs/DECISION-LOG.md). */
export function decisionLine(exchange: Exchange, slot: SlotWork, id: string): DecisionInput {
  const outcome = slot.outcome!;
  const original = outcome.original as InspectedImage;
  const decision = outcome.decision as Decision;
  const route = slot.plan?.route ?? { state: 'policy', mode: 'policy' };
  return {
    id,
    ...(exchange.clientRequestId ? { clientRequestId: exchange.clientRequestId } : {}),
    provider: exchange.provider!.name,
    operation: slot.operation.name,
    ...(exchange.slots.length > 1 ? { slot: slot.field } : {}),
    upstreamStatus: exchange.response?.status ?? 0,
    upstreamMs: Math.round((exchange.response?.ms ?? 0) * 100) / 100,
    original: {
      bytes: slot.bytes.length,
      format: original.format,
      width: original.width,
      height: original.height,
      orientation: original.orientation,
    },
    ...(decision.features ? { features: decision.features } : {}),
    action: { ...decision.action },
    actionIndex: decision.actionIndex,
    propensity: decision.propensity,
    modelId: decision.modelId,
    bytesSent: sentBytesOf(slot).length,
    outcome:
      outcome.kind === 'encoded' ? { sent: 'encoded' as const } : { sent: 'original' as const, reason: outcome.reason },
    answer: slot.answer ?? null,
    controllerState: { state: route.state, mode: route.mode },
    ...(slot.plan?.point
      ? {
          point: {
            floor: slot.plan.point.floor,
            level: slot.plan.point.level,
            probe: slot.plan.isProbe ?? false,
            ...(slot.plan.point.aboveWorkingSide ? { aboveWorkingSide: true } : {}),
            ...(slot.plan.point.maxQuality !== undefined ? { maxQuality: slot.plan.point.maxQuality } : {}),
          },
        }
      : {}),
    ...(exchange.reference
      ? { reference: { probability: exchange.reference.probability, requested: exchange.reference.granted } }
      : {}),
  };
}
