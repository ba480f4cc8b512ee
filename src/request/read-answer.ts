import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { headerValue } from '../providers/headers.ts';
import type { AnsweredSlot, DecodedResponse, Headers } from '../providers/types.ts';
import type { Exchange, SlotWork } from './exchange.ts';
import type { Step } from './steps.ts';
import { toProxyError } from './upstream.ts';

/**
 * Read the upstream's answer to an image request: the body whole (up to --max-response-bytes), content-decoded, then
 * the provider's parser gives one normalised answer per image. The one place answers are read, for client calls and
 * reference uploads alike. An answer too large to buffer streams on to the client unread (no answer is logged); one
 * that cannot be decoded or parsed gives no answer; neither ever fails the client's call.
 */
export const readAnswer: Step = {
  name: 'read answer',
  when: (exchange) => exchange.response !== undefined && exchange.slots.length > 0,
  async run(exchange, context) {
    const response = exchange.response!;
    let buffered: Buffer | undefined;
    try {
      buffered = await bufferUpTo(response, context.maxResponseBytes);
    } catch (error) {
      throw toProxyError(error);
    }
    if (buffered === undefined) return;
    response.raw = buffered;
    const body = await decodeBody(buffered, response.headers, context.maxResponseBytes);
    if (body === undefined) return;
    exchange.decoded = { status: response.status, body };
    answerSlots(exchange, exchange.decoded);
  },
};

/** Give each slot its answer from a decoded response (the provider's parser never throws into the request). */
export function answerSlots(exchange: Exchange, decoded: DecodedResponse): void {
  try {
    const answers = exchange.provider!.answers(decoded, exchange.slots.map(answeredSlot));
    exchange.slots.forEach((slot, i) => {
      const answer = answers[i];
      if (answer) slot.answer = answer;
    });
  } catch {
    // An answer the parser chokes on is no answer: the client still gets the upstream's bytes.
  }
}

export function answeredSlot(slot: SlotWork): AnsweredSlot {
  const original = slot.outcome?.original;
  const described: AnsweredSlot = { field: slot.field, operation: slot.operation };
  if (!original) return described;
  described.clientSize = { width: original.width, height: original.height };
  described.clientOrientation = original.orientation;
  described.sentSize =
    slot.outcome?.kind === 'encoded'
      ? { width: slot.outcome.width, height: slot.outcome.height }
      : described.clientSize;
  return described;
}

/**
 * The body whole when it fits `limit`; otherwise undefined, and the response's body becomes a stream of what was read
 * followed by the rest, so the client still gets every byte.
 */
async function bufferUpTo(response: NonNullable<Exchange['response']>, limit: number): Promise<Buffer | undefined> {
  const declared = Number(headerValue(response.headers, 'content-length'));
  if (Number.isFinite(declared) && declared > limit) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  const iterator = response.body[Symbol.asyncIterator]();
  for (;;) {
    const { value, done } = await iterator.next();
    if (done) return Buffer.concat(chunks, size);
    const chunk = value as Buffer;
    chunks.push(chunk);
    size += chunk.length;
    if (size > limit) {
      response.body = Readable.from(resume(chunks, iterator));
      return undefined;
    }
  }
}

async function* resume(read: Buffer[], rest: AsyncIterator<unknown>): AsyncGenerator<Buffer> {
  yield* read;
  for (;;) {
    const { value, done } = await rest.next();
    if (done) return;
    yield value as Buffer;
  }
}

const decoders: Record<string, (body: Buffer, options: zlib.ZlibOptions) => Promise<Buffer>> = {
  gzip: promisify(zlib.gunzip),
  'x-gzip': promisify(zlib.gunzip),
  deflate: promisify(zlib.inflate),
  br: promisify(zlib.brotliDecompress) as (body: Buffer, options: zlib.ZlibOptions) => Promise<Buffer>,
};

/** More content codings than this on one answer is not something an API sends: no answer is read. */
export const MAX_CONTENT_CODINGS = 2;

/**
 * Undo the Content-Encoding (listed in the order applied, so undone last first), each step capped at `limit` output
 * bytes (a decompression bomb stops there). Undefined for an unknown coding, too many codings, or a corrupt body.
 */
export async function decodeBody(body: Buffer, headers: Headers, limit: number): Promise<Buffer | undefined> {
  const codings = (headerValue(headers, 'content-encoding') ?? '')
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
  if (codings.length > MAX_CONTENT_CODINGS) return undefined;
  let decoded = body;
  for (const coding of codings.reverse()) {
    const decode = decoders[coding];
    if (!decode) return undefined;
    try {
      decoded = await decode(decoded, { maxOutputLength: limit });
    } catch {
      return undefined;
    }
  }
  return decoded;
}
