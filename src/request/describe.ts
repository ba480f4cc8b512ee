import type { Exchange, SlotWork } from './exchange.ts';

/**
 * The `x-adacompress` response header: what the proxy did, for the client and for anyone debugging.
 *   q=25;saved=68%                        re-encoded (several images: q=25,35); bytes saved on the wire (the request
 *                                         body as sent upstream against the client's, escaping and all)
 *   q=35;saved=97%;side=768               ... and resized: the longest side sent, per image (`full` = not resized)
 *   q=75;saved=40%;side=4096;fit=dimensions  ... to fit the API's limits (dimensions or bytes): refused as sent
 *   original;reason=not-smaller           the client's bytes went, and why
 *   passthrough;reason=no-image-operation not an image operation: streamed through untouched
 *   error;reason=upstream_timeout         the proxy's own error, in the API's error shape
 */
export function describeExchange(exchange: Exchange): string {
  if (exchange.error) return `error;reason=${exchange.error.code.toLowerCase()}`;
  if (!exchange.operation) return 'passthrough;reason=no-image-operation';
  if (exchange.slots.length === 0) return `original;reason=${exchange.originalReason ?? 'no-image'}`;
  const wire =
    exchange.body && exchange.outgoing
      ? { before: exchange.body.length, after: exchange.outgoing.body.length }
      : undefined;
  return describeSlots(exchange.slots, wire);
}

/** `wire`: the body's size before and after, when it was rebuilt; without it the images' bytes are compared. */
export function describeSlots(slots: readonly SlotWork[], wire?: { before: number; after: number }): string {
  const encoded = slots.flatMap((slot) => (slot.outcome?.kind === 'encoded' ? [slot.outcome] : []));
  if (encoded.length === 0) {
    const reasons = [...new Set(slots.map((slot) => (slot.outcome?.kind === 'original' ? slot.outcome.reason : '')))];
    return `original;reason=${reasons.filter(Boolean).join(',') || 'no-image'}`;
  }
  const before = wire?.before ?? slots.reduce((sum, slot) => sum + slot.bytes.length, 0);
  const after =
    wire?.after ??
    slots.reduce(
      (sum, slot) => sum + (slot.outcome?.kind === 'encoded' ? slot.outcome.bytes.length : slot.bytes.length),
      0,
    );
  const saved = before > 0 ? Math.round((100 * (before - after)) / before) : 0;
  let described = `q=${encoded.map((o) => o.decision.action.quality).join(',')};saved=${saved}%`;
  // Resolution only when some image was resized: its longest side as sent, `full` for the others.
  if (encoded.some((o) => o.decision.action.maxSide !== undefined)) {
    described += `;side=${encoded.map((o) => o.decision.action.maxSide ?? 'full').join(',')}`;
  }
  // An image the API would have refused as sent, made to fit its limits.
  const fits = [...new Set(encoded.flatMap((o) => (o.fitted ? [o.fitted] : [])))];
  return fits.length > 0 ? `${described};fit=${fits.join(',')}` : described;
}
