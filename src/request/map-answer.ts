import { AnswerMappingError } from '../providers/answer-mapping.ts';
import type { Headers } from '../providers/types.ts';
import type { SlotWork } from './exchange.ts';
import { answeredSlot } from './read-answer.ts';
import type { Step } from './steps.ts';

/** The image went upstream at another pixel size than the client's (the policy chose a smaller longest side). */
export const wasResized = (slot: SlotWork): boolean =>
  slot.outcome?.kind === 'encoded' &&
  (slot.outcome.width !== slot.outcome.original.width || slot.outcome.height !== slot.outcome.original.height);

/** Headers that describe the upstream's body bytes, not the answer: they no longer hold once the body is rewritten. */
const BODY_HEADERS = new Set(['content-encoding', 'content-length', 'content-md5']);

/**
 * When an image was sent resized, the API's pixel coordinates are in the sent image's pixels: the client gets the
 * answer rewritten by its provider (`mapAnswer`) so that they mean its own, sent identity-encoded with a new
 * Content-Length and every other upstream header as it came. Fails open: an answer that could not be read or
 * rewritten reaches the client as the upstream sent it, and the log says why.
 */
export const mapAnswer: Step = {
  name: 'map answer',
  when: (exchange) => exchange.response !== undefined && exchange.slots.some(wasResized),
  run(exchange, context) {
    const provider = exchange.provider!;
    const response = exchange.response!;
    // Rekognition has no mapping (its coordinates are ratios); error answers carry no coordinates.
    if (!provider.mapAnswer || response.status >= 400) return;
    const where = { provider: provider.name, operation: exchange.operation?.name, requestId: exchange.id };
    const decoded = exchange.decoded;
    if (!decoded) {
      const reason =
        response.raw === undefined ? 'answer larger than --max-response-bytes' : 'answer content coding not decodable';
      context.logger.warn(
        { ...where, reason },
        'answer sent as received: its pixel coordinates are of the resized image',
      );
      return;
    }
    let mapped: Buffer | undefined;
    try {
      mapped = provider.mapAnswer(decoded.body, exchange.slots.map(answeredSlot));
    } catch (error) {
      const reason = error instanceof AnswerMappingError ? error.message : 'answer mapping failed';
      context.logger.warn(
        { ...where, reason, ...(error instanceof AnswerMappingError ? {} : { err: error }) },
        'answer sent as received: its pixel coordinates are of the resized image',
      );
      return;
    }
    if (mapped === undefined) return;
    response.raw = mapped;
    response.headers = { ...withoutBodyHeaders(response.headers), 'content-length': String(mapped.length) };
    context.logger.debug(where, 'answer coordinates mapped to the client image');
  },
};

function withoutBodyHeaders(headers: Headers): Headers {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !BODY_HEADERS.has(name.toLowerCase())));
}
