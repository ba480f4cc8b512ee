import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import type { EncodeAction, InspectedImage } from '../codec/types.ts';
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

/**
 * An ONNX network that scores every action (expected reward) from the image features; the choice among them follows
 * the exploration rule and the exact probability of the chosen action is returned as the propensity.
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
  readonly #session: ort.InferenceSession;
  readonly #exploration: Exploration;
  readonly #rng: Rng;

  private constructor(session: ort.InferenceSession, metadata: PolicyMetadata, options: OnnxPolicyOptions) {
    this.#session = session;
    this.metadata = metadata;
    this.id = metadata.model_id;
    this.actions = Object.freeze(metadata.actions.map((a) => Object.freeze({ ...a })));
    this.rewardWeights = Object.freeze({ ...metadata.reward_weights });
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

  /** Expected reward per action, in the order of `actions`. */
  async scores(features: Float32Array): Promise<Float32Array> {
    const input = new ort.Tensor('float32', features, [1, features.length]);
    let output: ort.InferenceSession.ReturnType;
    try {
      output = await this.#session.run({ [this.metadata.input]: input });
    } catch (error) {
      throw new PolicyError('INFERENCE_FAILED', `${this.id}: ${(error as Error).message}`, { cause: error });
    }
    const data = output[this.metadata.output]?.data;
    if (!(data instanceof Float32Array) || data.length !== this.actions.length) {
      throw new PolicyError('INFERENCE_FAILED', `${this.id}: output is not ${this.actions.length} float32 scores`);
    }
    return data;
  }

  /** The distribution the policy draws from for these features (for tests, evaluation and status). */
  async probabilities(features: Float32Array): Promise<Float64Array> {
    return actionProbabilities(await this.scores(features), this.#exploration);
  }

  async decide(image: InspectedImage, _context: DecisionContext): Promise<Decision> {
    return this.decideFromFeatures(featuresOf(image));
  }

  async decideFromFeatures(features: Float32Array): Promise<Decision> {
    const probabilities = await this.probabilities(features);
    const actionIndex = sampleIndex(probabilities, this.#rng);
    return {
      action: this.actions[actionIndex]!,
      actionIndex,
      propensity: probabilities[actionIndex]!,
      modelId: this.id,
      features: { version: FEATURE_VERSION, values: Array.from(features) },
    };
  }

  async release(): Promise<void> {
    await this.#session.release();
  }

  #checkSession(): void {
    const { input, output } = this.metadata;
    if (!this.#session.inputNames.includes(input)) {
      throw new PolicyError('METADATA_MISMATCH', `model has no input "${input}" (has ${this.#session.inputNames})`);
    }
    if (!this.#session.outputNames.includes(output)) {
      throw new PolicyError('METADATA_MISMATCH', `model has no output "${output}" (has ${this.#session.outputNames})`);
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
    // The first run allocates and plans; do it now, and prove the output shape matches the action list.
    const scores = await this.scores(new Float32Array(featureNames.length));
    if (!Array.from(scores).every(Number.isFinite)) {
      throw new PolicyError('METADATA_MISMATCH', `${this.id}: warm-up produced non-finite scores`);
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
