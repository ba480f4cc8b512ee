import { pathOf } from '../providers/headers.ts';
import { type Exchange, type SlotWork, sentBytesOf } from './exchange.ts';
import type { PathContext, Step } from './steps.ts';

/** What one request did, in the metrics and in one service log line: the only place either is written. */
export const observe: Step = {
  name: 'observe',
  always: true,
  run(exchange, context) {
    if (exchange.noRoute) return;
    countRequest(exchange, context);
    logRequest(exchange, context);
  },
};

type Outcome = 'encoded' | 'original' | 'passthrough' | 'error';

export function outcomeOf(exchange: Exchange): Outcome {
  if (exchange.error) return 'error';
  if (!exchange.operation) return 'passthrough';
  return exchange.slots.some((slot) => slot.outcome?.kind === 'encoded') ? 'encoded' : 'original';
}

function countRequest(exchange: Exchange, { metrics }: PathContext): void {
  const provider = exchange.provider!.name;
  const operation = exchange.operation?.name ?? 'other';
  metrics.requests.inc({ provider, operation, outcome: outcomeOf(exchange) });
  if (exchange.response) {
    metrics.upstreamSeconds.observe(
      { provider, status: String(exchange.response.status) },
      exchange.response.ms / 1000,
    );
  }
  if (exchange.slots.length === 0 && exchange.originalReason) {
    metrics.originals.inc({ provider, reason: exchange.originalReason });
  }
  for (const slot of exchange.slots) {
    const labels = { provider, operation: slot.operation.name };
    metrics.imageBytesIn.inc(labels, slot.bytes.length);
    metrics.imageBytesOut.inc(labels, sentBytesOf(slot).length);
    if (slot.workMs !== undefined) metrics.imageWorkSeconds.observe(slot.workMs / 1000);
    const outcome = slot.outcome;
    if (outcome?.kind === 'encoded')
      metrics.actions.inc({ ...labels, quality: String(outcome.decision.action.quality) });
    else metrics.originals.inc({ provider, reason: outcome?.reason ?? exchange.originalReason ?? 'not-processed' });
  }
}

const round1 = (ms: number) => Math.round(ms * 10) / 10;

function logRequest(exchange: Exchange, { logger }: PathContext): void {
  const fields = {
    reqId: exchange.id,
    ...(exchange.clientRequestId ? { clientRequestId: exchange.clientRequestId } : {}),
    provider: exchange.provider!.name,
    operation: exchange.operation?.name ?? 'other',
    path: pathOf(exchange.head.url),
    ...(exchange.body ? { bytesIn: exchange.body.length } : {}),
    ...(exchange.response?.sentBytes !== undefined ? { bytesOut: exchange.response.sentBytes } : {}),
    ...(exchange.slots.length > 0 ? { images: exchange.slots.map(slotLogFields) } : {}),
    ...(exchange.originalReason ? { originalReason: exchange.originalReason } : {}),
    ...(exchange.response
      ? { upstreamStatus: exchange.response.status, upstreamMs: round1(exchange.response.ms) }
      : {}),
    totalMs: round1(performance.now() - exchange.startedAt),
  };
  if (exchange.error) {
    const cause = causeOf(exchange.error.cause);
    logger.warn({ ...fields, code: exchange.error.code, ...(cause ? { cause } : {}) }, 'proxy error');
  } else if (exchange.signal.aborted) {
    logger.info(fields, 'client went away');
  } else if (exchange.operation) {
    logger.info(fields, 'proxied');
  } else {
    // Calls the proxy only relays are counted in /metrics; a line each at info cost as much CPU as relaying them
    // (`npm run bench -- passthrough`). `--log-level debug` shows them.
    logger.debug(fields, 'passed through');
  }
}

/** What really went wrong behind a proxy error, in one line: `UND_ERR_NOT_SUPPORTED: expect header not supported`. */
function causeOf(cause: unknown): string | undefined {
  if (cause === undefined) return undefined;
  if (!(cause instanceof Error)) return String(cause);
  const code = (cause as { code?: unknown }).code;
  return typeof code === 'string' ? `${code}: ${cause.message}` : cause.message;
}

const slotLogFields = (slot: SlotWork) => {
  const outcome = slot.outcome;
  return {
    field: slot.field,
    bytesIn: slot.bytes.length,
    bytesOut: sentBytesOf(slot).length,
    quality: outcome?.kind === 'encoded' ? outcome.decision.action.quality : undefined,
    reason: outcome?.kind === 'original' ? outcome.reason : undefined,
    format: outcome?.original?.format,
    width: outcome?.original?.width,
    height: outcome?.original?.height,
  };
};
