import type { FastifyBaseLogger } from 'fastify';
import type { Agent } from 'undici';
import type { Metrics } from '../admin/metrics.ts';
import type { CodecLimits } from '../codec/types.ts';
import type { WorkLimiter } from '../limiter.ts';
import type { Policy } from '../policy/types.ts';
import { type Provider, ProxyError } from '../providers/types.ts';
import type { BodyBudget } from './body-budget.ts';
import type { ClientTimeouts } from './client-timeouts.ts';
import { type Exchange, revertToOriginal, stopReason } from './exchange.ts';
import type { InFlight } from './in-flight.ts';

/**
 * A step of the request path: one small function over the exchange, in the manner of imgproxy's pipeline. Steps run in
 * the order their path lists them (paths.ts); each may be skipped by its `when`.
 *  - `improves`: the step only makes the request cheaper (extract, plan, shrink, rebuild). It is skipped once the
 *    exchange's work deadline has passed, or once an earlier step decided the original goes: fail open.
 *  - `always`: the step runs even after an earlier step failed (answering the client, observing).
 */
export interface Step {
  readonly name: string;
  readonly improves?: boolean;
  readonly always?: boolean;
  when?(exchange: Exchange): boolean;
  run(exchange: Exchange, context: PathContext): void | Promise<void>;
}

/** What every step may use; one per server (tests build their own). */
export interface PathContext {
  providers: readonly Provider[];
  agent: Agent;
  limiter: WorkLimiter;
  codecLimits: CodecLimits;
  /** Longest wait plus work for one image (--image-deadline-ms); also bounds the request's improvement steps. */
  imageDeadlineMs: number;
  /** Largest upstream answer the proxy buffers to read; larger ones stream through unread. */
  maxResponseBytes: number;
  /**
   * Request bodies held in memory at once (--max-buffered-bytes), and how long a body waits for room. The server
   * always sets them; without (the trainer's client) bodies are not bounded.
   */
  bodyBudget?: BodyBudget;
  bufferWaitMs?: number;
  /** How long a client may take over its body (the server watches; a stalled body stops its exchange). */
  clientTimeouts?: ClientTimeouts;
  /** Client exchanges being handled (shutdown waits for them, and stops them when its grace runs out). */
  inFlight?: InFlight;
  /** The policy when no learning loop routes the request (a plain recompressing proxy). */
  policy: Policy;
  loop?: LearningHooks;
  metrics: Metrics;
  logger: FastifyBaseLogger;
  /** Sends the proxy's answer to the client; absent for exchanges nobody waits for (reference uploads). */
  reply?: ClientReply;
}

/** The learning loop's two hooks: plan each image before it is touched, record the finished exchange. */
export interface LearningHooks {
  plan(exchange: Exchange): void;
  record(exchange: Exchange): void;
}

export interface ClientReply {
  readonly sent: boolean;
  send(
    status: number,
    headers: Record<string, string | string[]>,
    body: Buffer | string | NodeJS.ReadableStream,
  ): Promise<void>;
}

/** A client's request that matches no configured API: answered 404, never forwarded anywhere (no open relay). */
export class NoRouteError extends Error {
  override readonly name = 'NoRouteError';
}

/**
 * Run the steps in order. A ProxyError (or any other failure) in one step ends the normal run: it is kept on the
 * exchange and only `always` steps run after it. An `improves` step that fails is skipped instead (fail open: the
 * client's bytes go). Between steps the work deadline is checked (imgproxy's `checkTimeout`): improvement steps past
 * it are skipped and the request goes as the client sent it. Once the exchange's signal aborts, nothing but `always`
 * steps runs: a client that went away is owed nothing, one whose body stalled gets the signal's error.
 */
export async function runPath(steps: readonly Step[], exchange: Exchange, context: PathContext): Promise<void> {
  let failure: unknown;
  for (const step of steps) {
    if (failure === undefined && exchange.signal.aborted) failure = stopped(exchange);
    if (failure !== undefined && !step.always) continue;
    if (step.improves && !mayImprove(exchange)) continue;
    if (step.when && !step.when(exchange)) continue;
    try {
      // Most steps are synchronous: awaiting their undefined would still cost a microtask each (14 steps: about
      // 1 us of CPU per request, measured in a loop).
      const running = step.run(exchange, context);
      if (running) await running;
    } catch (error) {
      if (failure !== undefined) throw error; // an `always` step failing after a failure: nothing left to do
      if (exchange.signal.aborted) {
        // Whatever the step threw (undici's abort, a destroyed stream), the signal's reason is the real one.
        failure = stopped(exchange);
      } else if (step.improves) {
        context.logger.warn(
          { err: error, step: step.name, provider: exchange.provider?.name },
          'step failed; original goes',
        );
        revertToOriginal(exchange, `${step.name}-failed`);
      } else {
        failure = error;
        if (error instanceof ProxyError) exchange.error = error;
        else if (!(error instanceof NoRouteError)) exchange.error = unexpected(error, context, step, exchange);
        else exchange.noRoute = true;
      }
    }
  }
}

/** The exchange's signal aborted: its error when the proxy must answer one, else a marker (the client went away). */
function stopped(exchange: Exchange): unknown {
  const reason = stopReason(exchange);
  if (reason) exchange.error ??= reason;
  return reason ?? exchange.signal.reason ?? new Error('stopped');
}

/** Improvement is still worth trying: nothing decided the original goes, and the work deadline has not passed. */
function mayImprove(exchange: Exchange): boolean {
  if (exchange.originalReason !== undefined) return false;
  if (exchange.workDeadline !== undefined && performance.now() > exchange.workDeadline) {
    revertToOriginal(exchange, 'deadline');
    return false;
  }
  return true;
}

/** A bug or an unforeseen failure in a step: the client gets a 502 in the API's shape, the log gets the cause. */
function unexpected(error: unknown, context: PathContext, step: Step, exchange: Exchange): ProxyError {
  context.logger.error({ err: error, step: step.name, provider: exchange.provider?.name }, 'request step failed');
  return new ProxyError('INTERNAL', 502, 'The proxy could not complete the request', { cause: error });
}
