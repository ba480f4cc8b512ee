import type { Step } from './steps.ts';

/** Hand the finished exchange to the learning loop: decision lines, and the reference upload when one was granted. */
export const record: Step = {
  name: 'record',
  when: (exchange) => exchange.slots.some((slot) => slot.outcome?.original && slot.outcome.decision),
  run(exchange, context) {
    context.loop?.record(exchange);
  },
};
