import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Answer } from '../answer.ts';
import type { InspectedImage } from '../codec/types.ts';
import type { GridPoint } from '../feedback/calibration.ts';
import type { Route } from '../feedback/controller.ts';
import type { AcquireResult } from '../feedback/reference-sampler.ts';
import type { Decision, OperatingPoint, Policy } from '../policy/types.ts';
import {
  type DecodedResponse,
  type ExtractedRequest,
  type OperationSpec,
  type OutgoingRequest,
  type Provider,
  ProxyError,
  type RequestHead,
} from '../providers/types.ts';
import type { BodyLease } from './body-budget.ts';

/**
 * One request's way through the proxy, as data: what the client sent, what each step made of it, what the upstream
 * answered and what the client got. Steps (steps.ts, paths.ts) read and fill it in order; `observe` and the learning
 * loop read the finished exchange. Reference uploads are exchanges too, made from their parent (`referenceExchange`).
 */
export interface Exchange {
  /** The proxy's own id (decision ids derive from it): unique, whatever the client sends. */
  readonly id: string;
  /** The client's `x-request-id`, kept for correlation only (bounded, never trusted as an id). */
  readonly clientRequestId?: string;
  readonly head: RequestHead;
  /** performance.now() when the request arrived. */
  readonly startedAt: number;
  /**
   * Aborted when the exchange must stop: steps stop, and so does the upstream call. Its reason says why: a ProxyError
   * the client is answered with (its body stalled, the shutdown grace ran out), or anything else when the client went
   * away (nobody to answer).
   */
  readonly signal: AbortSignal;
  /** Set for reference uploads: the exchange whose images it measures. */
  readonly parent?: Exchange;
  provider?: Provider;
  /** The image operation named by the request's head; absent for everything that passes through. */
  operation?: OperationSpec;
  /** The client's body while it is still a stream (pass-through routes never buffer it). */
  bodyStream?: Readable;
  body?: Buffer;
  /** The body's share of --max-buffered-bytes, given back when the exchange ends. */
  bodyLease?: BodyLease;
  /** performance.now() after which steps that only improve the request are skipped (the original goes). */
  workDeadline?: number;
  extracted?: ExtractedRequest;
  slots: SlotWork[];
  /** Why the request goes as the client sent it, decided before any image was processed (overload, bad-request, ...). */
  originalReason?: string;
  /** The reference sampler's verdict for this request (one reference upload covers all of its images). */
  reference?: AcquireResult;
  /** What goes upstream (rebuilt, then signed); the client's bytes when nothing was improved. */
  outgoing?: OutgoingRequest;
  response?: UpstreamReply;
  /** The upstream body, buffered and content-decoded, when the proxy reads the answer. */
  decoded?: DecodedResponse;
  error?: ProxyError;
  /** No configured API matches the request: it is answered 404 and never forwarded (no open relay). */
  noRoute?: boolean;
  /** What the client was sent, for the log. */
  replied?: { status: number; adacompress: string };
}

/** One image of the exchange and what became of it. */
export interface SlotWork {
  readonly field: string;
  readonly operation: OperationSpec;
  /** `provider/operation`: the policy router's and the controller's key. */
  readonly key: string;
  /** The image as the client sent it. */
  readonly bytes: Buffer;
  /** The request refers to this image's pixels elsewhere (a region of interest): it is never resized. */
  readonly keepSize?: boolean;
  plan?: SlotPlan;
  outcome?: SlotOutcome;
  /** Time spent on it (queue, inspect, decide, encode), in ms. */
  workMs?: number;
  /** The normalised answer for this image (client pixels); undefined when the API answered an error. */
  answer?: Answer;
}

/** What the learning loop decided for one image before it was touched. */
export interface SlotPlan {
  route: Route;
  /** The policy it goes through: the live one, or the controller's safe action while falling back. */
  policy: Policy;
  /** The calibrated operating point it is sent at (absent: calibration off, or the safe action). */
  point?: OperatingPoint;
  /** That point on the calibration grid. */
  grid?: GridPoint;
  /**
   * Cheaper candidates calibration tests on this referenced request: the image is also sent at each, off the
   * client's path, and those answers are judged against the same reference (feedback/loop.ts).
   */
  probes?: readonly ShadowPlan[];
  /** This slot is itself such a probe (a shadow exchange's), never what a client got. */
  isProbe?: boolean;
}

/** Where a probe goes: the policy and operating point that decide its upload, and the grid point it tests. */
export interface ShadowPlan {
  policy: Policy;
  point: OperatingPoint;
  grid: GridPoint;
}

/** What happened to one image. */
export type SlotOutcome =
  | {
      kind: 'encoded';
      original: InspectedImage;
      bytes: Buffer;
      /** Pixel size of what was sent (the stored grid; orientation tag kept). */
      width: number;
      height: number;
      decision: Decision;
      /** Set when the image had to change to fit the API's limits (it would have been refused as sent). */
      fitted?: 'dimensions' | 'bytes';
    }
  | { kind: 'original'; reason: string; original?: InspectedImage; decision?: Decision };

/** The upstream's answer as it came: status, headers, and its body (a stream until someone buffers it). */
export interface UpstreamReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
  /** The body read whole (raw, as the upstream encoded it), once read. */
  raw?: Buffer;
  /** Time from sending to the response head. */
  ms: number;
  /** Bytes of the request body that went upstream (undefined when streamed). */
  sentBytes?: number;
}

/** The proxy's answer to an exchange stopped by its signal; undefined when it runs on, or the client went away. */
export function stopReason(exchange: Exchange): ProxyError | undefined {
  const reason: unknown = exchange.signal.aborted ? exchange.signal.reason : undefined;
  return reason instanceof ProxyError ? reason : undefined;
}

/** Longest client request id kept; longer ones are cut (the id only correlates, it never keys anything). */
export const CLIENT_REQUEST_ID_MAX = 128;

export function createExchange(head: RequestHead, signal: AbortSignal, bodyStream?: Readable): Exchange {
  const header = head.headers['x-request-id'];
  const clientId = (Array.isArray(header) ? header[0] : header)?.slice(0, CLIENT_REQUEST_ID_MAX);
  return {
    id: randomUUID(),
    ...(clientId ? { clientRequestId: clientId } : {}),
    head,
    startedAt: performance.now(),
    signal,
    slots: [],
    ...(bodyStream ? { bodyStream } : {}),
  };
}

/**
 * A reference upload of `parent`: the same request with each image replaced by its reference bytes (or kept), to be
 * run through the same rebuild -> sign -> forward -> read-answer steps as the client's call.
 */
export function referenceExchange(parent: Exchange, references: ReadonlyMap<string, Buffer>): Exchange {
  return shadowExchange(parent, 'ref', (slot) =>
    slot.outcome?.original ? referenceOutcome(slot, references.get(slot.field)) : undefined,
  );
}

/**
 * A proxy-made copy of the client's request (a reference upload, a calibration probe): the same head and body, each
 * image's outcome replaced by `outcomeOf`'s (none: the image as the client sent it), sent and read the same way.
 */
export function shadowExchange(
  parent: Exchange,
  suffix: string,
  outcomeOf: (slot: SlotWork) => SlotOutcome | undefined,
  planOf: (slot: SlotWork) => SlotPlan | undefined = () => undefined,
): Exchange {
  const slots = parent.slots.map((slot) => shadowSlot(slot, outcomeOf(slot), planOf(slot)));
  return {
    id: `${parent.id}.${suffix}`,
    head: parent.head,
    startedAt: performance.now(),
    // A reference is the proxy's own call: the client going away does not cancel it.
    signal: new AbortController().signal,
    parent,
    slots,
    ...(parent.provider ? { provider: parent.provider } : {}),
    ...(parent.operation ? { operation: parent.operation } : {}),
    ...(parent.body ? { body: parent.body } : {}),
    ...(parent.extracted ? { extracted: parent.extracted } : {}),
  };
}

/** A copy of a client's image for a proxy-made upload: the same image and operation, its own outcome and plan. */
export function shadowSlot(slot: SlotWork, outcome?: SlotOutcome, plan?: SlotPlan): SlotWork {
  return {
    field: slot.field,
    operation: slot.operation,
    key: slot.key,
    bytes: slot.bytes,
    ...(slot.keepSize ? { keepSize: true } : {}),
    ...(outcome ? { outcome } : {}),
    ...(plan ? { plan } : {}),
  };
}

function referenceOutcome(slot: SlotWork, bytes: Buffer | undefined): SlotOutcome {
  const original = slot.outcome!.original!;
  if (!bytes || bytes === original.bytes) return { kind: 'original', reason: 'reference', original };
  return {
    kind: 'encoded',
    original,
    bytes,
    width: original.width,
    height: original.height,
    decision: { action: { quality: 75 }, actionIndex: -1, propensity: 1, modelId: 'reference' },
  };
}

/** The bytes that went upstream for a slot: the re-encoded image, or the client's own. */
export const sentBytesOf = (slot: SlotWork): Buffer =>
  slot.outcome?.kind === 'encoded' ? slot.outcome.bytes : slot.bytes;

/**
 * The request goes as the client sent it after all (deadline passed, or the rebuilt body would not be smaller on the
 * wire): every image that was re-encoded is logged as an original, with why, and keeps what was decided for it.
 */
export function revertToOriginal(exchange: Exchange, reason: string): void {
  exchange.originalReason ??= reason;
  for (const slot of exchange.slots) {
    const outcome = slot.outcome;
    if (outcome?.kind === 'encoded') {
      slot.outcome = { kind: 'original', reason, original: outcome.original, decision: outcome.decision };
    }
  }
  delete exchange.outgoing;
}
