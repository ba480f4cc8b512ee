import type { Step } from './steps.ts';

/**
 * The learning loop's say before any image is touched: whether this request also gets a reference upload, and per
 * image which policy decides (the live model, or the controller's safe action while it falls back).
 */
export const plan: Step = {
  name: 'plan',
  improves: true,
  when: (exchange) => exchange.slots.length > 0,
  run(exchange, context) {
    context.loop?.plan(exchange);
  },
};
