import type { Step } from './steps.ts';

/** Check the client's credentials where the API signs requests (Rekognition: SigV4) before anything is forwarded. */
export const authenticate: Step = {
  name: 'authenticate',
  when: (exchange) => exchange.body !== undefined && exchange.provider!.authenticate !== undefined,
  async run(exchange) {
    await exchange.provider!.authenticate!({ ...exchange.head, body: exchange.body! });
  },
};
