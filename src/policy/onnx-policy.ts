import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import type { EncodeAction, InspectedImage } from '../codec/types.ts';
import { AGREEMENT_LADDER, type Candidate, candidatesFor } from './actions.ts';
import { PolicyError } from './errors.ts';
import { actionProbabilities, type Exploration, sampleIndex } from './exploration.ts';
import { FEATURE_VERSION, featureNames, featuresOf } from './features.ts';
import { type PolicyMetadata, parsePolicyMetadata } from './model-metadata.ts';
import { readOnnxMetadata } from './onnx-writer.ts';
import type { Rng } from './rng.ts';
import type { Decision, DecisionContext, Policy } from './types.ts';

export interface OnnxPolicyOptions {
  exploration: Exploration;
  /** Uniform [0,1) source for exploration; Math.random by default, seeded in tests. */
  rng?: Rng;
  /** What the caller will use it for: metadata provider/operation must equal these or be '*'. */
  expect?: { provider?: string; operation?: string };
}

/** What a model says of every action for one image. */
export interface ModelOutputs {
  /** Expected reward per action (the contract's one MUST output). */
  reward: Float32Array;
  /** Predicted agreement with the reference (0..1) and size ratio per action, when the model has those heads. */
  agreement?: Float32Array;
  size?: Float32Array;
}

/**
 * An ONNX network over the image's header features. Every model scores each action (expected reward); a model with
 * agreement and size heads is steered by a calibrated threshold instead: it sends the cheapest action whose predicted
 * agreement clears the operating point's threshold (AGREEMENT_LADDER), which is what online calibration moves. Either
 * way the choice is among the actions the image may really be sent as (the API's limits, the point's floor), the
 * exploration rule mixes in the others, and the exact probability of the chosen action is the propensity.
 *
 * Loading validates the file against what this code provides (feature version and names, input/output names and sizes)
 * and warms the session up, so the first real decision is not the slow one. Any mismatch throws PolicyError and
 * nothing is replaced: the caller keeps its current model.
 */
export class OnnxPolicy implements Policy {
  readonly id: string;
  readonly metadata: PolicyMetadata;
  readonly actions: readonly EncodeAction[];
  readonly rewardWeights: Readonly<Record<string, number>>;
  readonly ladder: readonly number[];
  readonly ladderKind: 'agreement' | undefined;
  readonly trainedLevel: number | undefined;
  readonly #session: ort.InferenceSession;
  readonly #exploration: Exploration;
  readonly #rng: Rng;

  private constructor(session: ort.InferenceSession, metadata: PolicyMetadata, options: OnnxPolicyOptions) {
    this.#session = session;
    this.metadata = metadata;
    this.id = metadata.model_id;
    this.actions = Object.freeze(metadata.actions.map((a) => Object.freeze({ ...a })));
    this.rewardWeights = Object.freeze({ ...metadata.reward_weights });
    // Without agreement heads there is nothing to threshold: one level, the reward's argmax.
    this.ladder = metadata.agreement_output ? AGREEMENT_LADDER : [1];
    this.ladderKind = metadata.agreement_output ? 'agreement' : undefined;
    const trained = metadata.operating_point?.threshold;
    this.trainedLevel = trained === undefined || !metadata.agreement_output ? undefined : nearestLevel(trained);
    this.#exploration = options.exploration;
    this.#rng = options.rng ?? Math.random;
  }

  static async load(path: string, options: OnnxPolicyOptions): Promise<OnnxPolicy> {
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (error) {
      throw new PolicyError('MODEL_UNREADABLE', `cannot read ${path}: ${(error as Error).message}`, { cause: error });
    }
    return OnnxPolicy.fromBytes(bytes, options);
  }

  /** Metadata and weights come from the same bytes, so a file replaced mid-read cannot mix two models. */
  static async fromBytes(bytes: Uint8Array, options: OnnxPolicyOptions): Promise<OnnxPolicy> {
    let props: Record<string, string>;
    try {
      props = readOnnxMetadata(bytes);
    } catch (error) {
      throw new PolicyError('MODEL_UNREADABLE', `not an ONNX model: ${(error as Error).message}`, { cause: error });
    }
    const metadata = parsePolicyMetadata(props);
    checkContract(metadata, options);
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(bytes, {
        // A policy net runs in microseconds: threads would only add contention with sharp and the event loop.
        intraOpNumThreads: 1,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
      });
    } catch (error) {
      throw new PolicyError('MODEL_UNREADABLE', `onnxruntime refused the model: ${(error as Error).message}`, {
        cause: error,
      });
    }
    const policy = new OnnxPolicy(session, metadata, options);
    try {
      policy.#checkSession();
      await policy.#warmUp();
    } catch (error) {
      await session.release().catch(() => {});
      throw error;
    }
    return policy;
  }

  /** Everything the model says for these features, per action in the order of `actions`. */
  async outputs(features: Float32Array): Promise<ModelOutputs> {
    const input = new ort.Tensor('float32', features, [1, features.length]);
    let result: ort.InferenceSession.ReturnType;
    try {
      result = await this.#session.run({ [this.metadata.input]: input });
    } catch (error) {
      throw new PolicyError('INFERENCE_FAILED', `${this.id}: ${(error as Error).message}`, { cause: error });
    }
    const read = (name: string): Float32Array => {
      const data = result[name]?.data;
      if (!(data instanceof Float32Array) || data.length !== this.actions.length) {
        throw new PolicyError('INFERENCE_FAILED', `${this.id}: output ${name} is not ${this.actions.length} float32s`);
      }
      return data;
    };
    const { agreement_output: agreement, size_output: size } = this.metadata;
    return {
      reward: read(this.metadata.output),
      ...(agreement && size ? { agreement: read(agreement), size: read(size) } : {}),
    };
  }

  /** Expected reward per action, in the order of `actions`. */
  async scores(features: Float32Array): Promise<Float32Array> {
    return (await this.outputs(features)).reward;
  }

  async decide(image: InspectedImage, context: DecisionContext): Promise<Decision> {
    return this.decideFromFeatures(featuresOf(image), image, context);
  }

  /** The decision for an image of these features (the trainer scores data sets through this, as the proxy decides). */
  async decideFromFeatures(
    features: Float32Array,
    image: { width: number; height: number },
    context: Pick<DecisionContext, 'limits' | 'point'> = {},
  ): Promise<Decision> {
    const outputs = await this.outputs(features);
    const point = context.point;
    let candidates = candidatesFor(this.actions, image, context.limits, point?.floor, point?.maxQuality);
    // An image under the API's minimum has no candidate: the stored size is all there is (the API answers its error).
    if (candidates.length === 0) candidates = [{ index: 0, action: { quality: this.actions[0]!.quality } }];
    const probabilities = this.#distribution(outputs, candidates, context.point?.level);
    const chosen = sampleIndex(probabilities, this.#rng);
    const candidate = candidates[chosen]!;
    return {
      action: candidate.action,
      actionIndex: candidate.index,
      propensity: probabilities[chosen]!,
      modelId: this.id,
      features: { version: FEATURE_VERSION, values: Array.from(features) },
    };
  }

  /** The distribution over candidates the choice is drawn from: the greedy pick plus the exploration rule. */
  #distribution(outputs: ModelOutputs, candidates: readonly Candidate[], level: number | undefined): Float64Array {
    const threshold = this.#threshold(level);
    if (threshold === undefined || !outputs.agreement || !outputs.size) {
      return actionProbabilities(
        candidates.map((c) => outputs.reward[c.index]!),
        this.#exploration,
      );
    }
    const greedy = cheapestAgreeing(candidates, outputs.agreement, outputs.size, threshold);
    // Greedy as a score vector (1 for the pick, 0 otherwise): epsilon-greedy keeps its exact mixture; softmax over
    // it spreads by the temperature. Ties cannot occur: one pick.
    return actionProbabilities(
      candidates.map((_, i) => (i === greedy ? 1 : 0)),
      this.#exploration,
    );
  }

  #threshold(level: number | undefined): number | undefined {
    if (!this.metadata.agreement_output) return undefined;
    const index = level ?? this.trainedLevel;
    return index === undefined ? undefined : this.ladder[Math.min(Math.max(0, index), this.ladder.length - 1)];
  }

  async release(): Promise<void> {
    await this.#session.release();
  }

  #checkSession(): void {
    const { input, output } = this.metadata;
    if (!this.#session.inputNames.includes(input)) {
      throw new PolicyError('METADATA_MISMATCH', `model has no input "${input}" (has ${this.#session.inputNames})`);
    }
    for (const name of [output, this.metadata.agreement_output, this.metadata.size_output]) {
      if (name !== undefined && !this.#session.outputNames.includes(name)) {
        throw new PolicyError('METADATA_MISMATCH', `model has no output "${name}" (has ${this.#session.outputNames})`);
      }
    }
    const meta = this.#session.inputMetadata.find((m) => m.name === input);
    const width = meta?.isTensor ? meta.shape.at(-1) : undefined;
    if (typeof width === 'number' && width !== featureNames.length) {
      throw new PolicyError(
        'METADATA_MISMATCH',
        `input "${input}" takes ${width} features, code provides ${featureNames.length}`,
      );
    }
  }

  async #warmUp(): Promise<void> {
    // The first run allocates and plans; do it now, and prove the output shapes match the action list.
    const outputs = await this.outputs(new Float32Array(featureNames.length));
    for (const values of [outputs.reward, outputs.agreement, outputs.size]) {
      if (values && !Array.from(values).every(Number.isFinite)) {
        throw new PolicyError('METADATA_MISMATCH', `${this.id}: warm-up produced non-finite outputs`);
      }
    }
  }
}

function checkContract(metadata: PolicyMetadata, options: OnnxPolicyOptions): void {
  const mismatch = (message: string): never => {
    throw new PolicyError('METADATA_MISMATCH', `${metadata.model_id}: ${message}`);
  };
  if (metadata.feature_version !== FEATURE_VERSION) {
    mismatch(`trained on features v${metadata.feature_version}, code provides v${FEATURE_VERSION}`);
  }
  const names = metadata.feature_names;
  if (names.length !== featureNames.length || names.some((name, i) => name !== featureNames[i])) {
    mismatch(`feature_names differ from the code's v${FEATURE_VERSION} list`);
  }
  const { provider, operation } = options.expect ?? {};
  if (provider && metadata.provider !== '*' && metadata.provider !== provider) {
    mismatch(`trained for provider ${metadata.provider}, configured for ${provider}`);
  }
  if (operation && metadata.operation !== '*' && metadata.operation !== operation) {
    mismatch(`trained for operation ${metadata.operation}, configured for ${operation}`);
  }
}

/** The candidate with the smallest predicted size whose predicted agreement clears `threshold`; else the most agreeing. */
export function cheapestAgreeing(
  candidates: readonly Candidate[],
  agreement: ArrayLike<number>,
  size: ArrayLike<number>,
  threshold: number,
): number {
  let best = -1;
  let safest = 0;
  candidates.forEach((candidate, i) => {
    const a = agreement[candidate.index]!;
    if (a > agreement[candidates[safest]!.index]!) safest = i;
    if (!(a >= threshold)) return;
    if (best < 0 || size[candidate.index]! < size[candidates[best]!.index]!) best = i;
  });
  return best >= 0 ? best : safest;
}

/** The ladder level whose threshold is nearest a model's trained threshold. */
function nearestLevel(threshold: number): number {
  let best = 0;
  AGREEMENT_LADDER.forEach((t, i) => {
    if (Math.abs(t - threshold) < Math.abs(AGREEMENT_LADDER[best]! - threshold)) best = i;
  });
  return best;
}
