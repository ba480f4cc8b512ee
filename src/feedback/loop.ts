import type { FastifyBaseLogger } from 'fastify';
import type { Answer } from '../answer.ts';
import { encodeJpeg } from '../codec/index.ts';
import type { CodecLimits, InspectedImage } from '../codec/types.ts';
import type { SlotOutcome } from '../pipeline.ts';
import { FixedQualityPolicy } from '../policy/fixed.ts';
import type { Decision, DecisionContext, Policy } from '../policy/types.ts';
import type { ExtractedRequest, OutgoingRequest, Provider, RequestHead } from '../providers/types.ts';
import {
  type Controller,
  type ControllerConfig,
  type ControllerSnapshot,
  createController,
  type Route,
} from './controller.ts';
import type { DecisionLog } from './decision-log.ts';
import type { AcquireResult, ReferenceSampler } from './reference-sampler.ts';
import { agreement, type RewardWeights, rewardPresets } from './rewards.ts';

/** What the loop decided for one request before its images are touched. */
export interface RequestPlan {
  key: string;
  reference: AcquireResult;
  route: Route;
  /** The policy its images go through: the live one, or the controller's safe action while falling back. */
  policy: Policy;
}

/** One finished image request, as the server hands it over after the client has its answer. */
export interface FinishedExchange {
  id: string;
  provider: Provider;
  operation: string;
  head: RequestHead;
  extracted: ExtractedRequest;
  outcomes: readonly SlotOutcome[];
  upstreamStatus: number;
  upstreamMs: number;
  answer: Answer | undefined;
}

export interface UpstreamAnswer {
  status: number;
  body: Buffer;
  ms: number;
}

/** A policy that may route to per-operation models (the PolicyRouter): controllers then track each model's id. */
type RoutedPolicy = Policy & { policyFor?(context: DecisionContext): Policy };

export interface LearningLoopOptions {
  policy: RoutedPolicy;
  sampler: ReferenceSampler;
  log?: DecisionLog;
  referenceKind: 'q75' | 'original';
  controller: Omit<ControllerConfig, 'modelId'>;
  codecLimits: CodecLimits;
  /** Sends a request to the provider's upstream, signing it where the provider signs (Rekognition). */
  send: (provider: Provider, request: OutgoingRequest, head: RequestHead) => Promise<UpstreamAnswer>;
  logger: FastifyBaseLogger;
  onReference?: (provider: string, result: 'sent' | 'reused' | 'failed') => void;
}

/**
 * The online half of AdaCompress around the proxy: plan each request (reference or not, policy or safe action), log
 * every decision, send reference uploads off the client's path, and feed their agreement to one controller per
 * provider/operation (the inference-estimate-retrain loop of PAPER.md, with a budget).
 */
export class LearningLoop {
  readonly #options: LearningLoopOptions;
  readonly #controllers = new Map<string, { controller: Controller; context: DecisionContext }>();
  readonly #pending = new Set<Promise<void>>();

  constructor(options: LearningLoopOptions) {
    this.#options = options;
  }

  plan(context: DecisionContext): RequestPlan {
    const key = `${context.provider}/${context.operation}`;
    const controller = this.#controllerFor(key, context);
    const reference = this.#options.sampler.tryAcquire(controller.referenceRequest());
    const route = controller.route(reference.granted);
    const policy = route.mode === 'safe' ? safePolicy(route.safeQuality ?? 75) : this.#options.policy;
    return { key, reference, route, policy };
  }

  /** Log the decisions and, when the plan asked for one, schedule the reference upload. Never throws. */
  record(exchange: FinishedExchange, plan: RequestPlan): void {
    const decided = exchange.outcomes.filter((o) => o.original && o.decision);
    if (decided.length === 0) return;
    const ids = decided.map((_outcome, i) => (decided.length > 1 ? `${exchange.id}.${i}` : exchange.id));
    decided.forEach((outcome, i) => {
      this.#options.log?.logDecision(decisionLine(exchange, outcome, ids[i]!, plan));
    });
    if (!plan.reference.granted || !exchange.answer) return;
    const job = this.#reference(exchange, decided, ids, plan)
      .catch((error) => this.#options.logger.warn({ err: error, key: plan.key }, 'reference upload failed'))
      .finally(() => this.#pending.delete(job));
    this.#pending.add(job);
  }

  /** A model went live: controllers whose policy changed trust the new model again. */
  onModelLoaded(policyIdFor: (context: DecisionContext) => string): void {
    for (const { controller, context } of this.#controllers.values()) {
      const id = policyIdFor(context);
      if (id !== controller.snapshot().modelId) controller.onModelLoaded(id);
    }
  }

  controllers(): Record<string, ControllerSnapshot> {
    return Object.fromEntries([...this.#controllers].map(([key, { controller }]) => [key, controller.snapshot()]));
  }

  /** Wait for reference uploads in flight (shutdown), at most `timeoutMs`. */
  async drain(timeoutMs: number): Promise<void> {
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref());
    await Promise.race([Promise.allSettled([...this.#pending]).then(() => undefined), timeout]);
  }

  #controllerFor(key: string, context: DecisionContext): Controller {
    let entry = this.#controllers.get(key);
    if (!entry) {
      const modelId = modelIdOf(this.#options.policy, context);
      const controller = createController({ ...this.#options.controller, modelId });
      controller.on('transition', (t) => this.#options.logger.warn({ key, ...t }, 'controller state changed'));
      controller.on('retraining-needed', (s) =>
        this.#options.logger.warn({ key, modelId: s.modelId, windowMean: s.windowMean }, 'policy needs retraining'),
      );
      entry = { controller, context };
      this.#controllers.set(key, entry);
    }
    return entry.controller;
  }

  async #reference(
    exchange: FinishedExchange,
    decided: readonly SlotOutcome[],
    ids: readonly string[],
    plan: RequestPlan,
  ): Promise<void> {
    const { kind, replacements, same } = await this.#referenceImages(decided);
    let answer: Answer | undefined;
    let status = exchange.upstreamStatus;
    let ms = 0;
    if (same) {
      // What was sent is byte for byte the reference: its answer is the reference answer, no second paid call.
      answer = exchange.answer;
      this.#options.onReference?.(exchange.provider.name, 'reused');
    } else {
      const request = exchange.extracted.rebuild(replacements);
      try {
        const result = await this.#options.send(exchange.provider, request, exchange.head);
        status = result.status;
        ms = result.ms;
        const image = decided.at(-1)?.original;
        answer = exchange.provider.answer(exchange.operation, result.status, result.body, image);
        this.#options.onReference?.(exchange.provider.name, 'sent');
      } catch (error) {
        this.#options.onReference?.(exchange.provider.name, 'failed');
        throw error;
      }
    }
    decided.forEach((outcome, i) => {
      this.#options.log?.logReference({
        id: `${ids[i]}.ref`,
        decisionId: ids[i]!,
        kind,
        bytes: replacements.get(outcome.field)?.length ?? outcome.inputBytes,
        upstreamStatus: status,
        upstreamMs: ms,
        answer: answer ?? null,
      });
    });
    if (!answer || !exchange.answer) return;
    const controller = this.#controllers.get(plan.key)?.controller;
    const modelId = decided[0]?.decision?.modelId ?? '';
    controller?.record({
      agreement: agreement(answer, exchange.answer, weightsFor(exchange.operation, answer)),
      mode: plan.route.mode,
      modelId,
    });
  }

  async #referenceImages(decided: readonly SlotOutcome[]) {
    const replacements = new Map<string, Buffer>();
    let kind: 'q75' | 'original' = this.#options.referenceKind;
    let same = true;
    for (const outcome of decided) {
      const original = outcome.original as InspectedImage;
      let reference = original.bytes;
      if (kind === 'q75') {
        const encoded = await encodeJpeg(original, { quality: 75 }, this.#options.codecLimits).catch(() => undefined);
        // A q75 larger than what the client sent would only cost more: the original is the better reference then.
        if (encoded && encoded.bytes.length < original.bytes.length) reference = encoded.bytes;
        else kind = 'original';
      }
      replacements.set(outcome.field, reference);
      const sent = outcome.kind === 'encoded' ? outcome.bytes : original.bytes;
      if (!sent.equals(reference)) same = false;
    }
    return { kind, replacements, same };
  }
}

const safePolicies = new Map<number, Policy>();
/** The controller's safe action: a fixed quality outside the model's action list (actionIndex -1 in the log). */
function safePolicy(quality: number): Policy {
  let policy = safePolicies.get(quality);
  if (!policy) {
    const fixed = new FixedQualityPolicy(quality);
    policy = {
      id: `controller-safe-q${quality}`,
      decide: async (image, context): Promise<Decision> => ({
        ...(await fixed.decide(image, context)),
        actionIndex: -1,
        modelId: `controller-safe-q${quality}`,
      }),
    };
    safePolicies.set(quality, policy);
  }
  return policy;
}

function modelIdOf(policy: RoutedPolicy, context: DecisionContext): string {
  return policy.policyFor ? policy.policyFor(context).id : policy.id;
}

/** Which agreement the controller tracks: face recall for face operations, text similarity for OCR, else the paper's. */
export function weightsFor(operation: string, reference: Answer): Partial<RewardWeights> {
  if (/face|celebrit/i.test(operation) || reference.faces.length > 0) return rewardPresets.faces;
  if (/text|ocr/i.test(operation) || reference.text !== undefined) return rewardPresets.text;
  return rewardPresets.paper;
}

function decisionLine(exchange: FinishedExchange, outcome: SlotOutcome, id: string, plan: RequestPlan) {
  const original = outcome.original as InspectedImage;
  const decision = outcome.decision as Decision;
  return {
    id,
    provider: exchange.provider.name,
    operation: exchange.operation,
    ...(exchange.outcomes.length > 1 ? { slot: outcome.field } : {}),
    upstreamStatus: exchange.upstreamStatus,
    upstreamMs: Math.round(exchange.upstreamMs * 100) / 100,
    original: {
      bytes: outcome.inputBytes,
      format: original.format,
      width: original.width,
      height: original.height,
      orientation: original.orientation,
    },
    ...(decision.features ? { features: decision.features } : {}),
    action: { quality: decision.action.quality },
    actionIndex: decision.actionIndex,
    propensity: decision.propensity,
    modelId: decision.modelId,
    bytesSent: outcome.kind === 'encoded' ? outcome.bytes.length : outcome.inputBytes,
    outcome:
      outcome.kind === 'encoded' ? { sent: 'encoded' as const } : { sent: 'original' as const, reason: outcome.reason },
    answer: exchange.answer ?? null,
    controllerState: { state: plan.route.state, mode: plan.route.mode },
    reference: { probability: plan.reference.probability, requested: plan.reference.granted },
  };
}
