import { revertToOriginal } from './exchange.ts';
import type { Step } from './steps.ts';

/**
 * Put the re-encoded images back into the request, every other byte as the client sent it. What counts is the wire:
 * if the rebuilt body is not smaller than the client's (escaping, base64 padding, ...), the client's bytes go.
 */
export const rebuild: Step = {
  name: 'rebuild',
  improves: true,
  when: (exchange) => exchange.slots.some((slot) => slot.outcome?.kind === 'encoded'),
  run(exchange) {
    const replacements = new Map<string, Buffer>();
    for (const slot of exchange.slots) {
      if (slot.outcome?.kind === 'encoded') replacements.set(slot.field, slot.outcome.bytes);
    }
    const rebuilt = exchange.extracted!.rebuild(replacements);
    if (rebuilt.body.length >= exchange.body!.length) {
      revertToOriginal(exchange, 'not-smaller');
      return;
    }
    exchange.outgoing = rebuilt;
  },
};
