import sharp from 'sharp';
import type { ImageSize } from '../models.ts';
import { type Backend, loadBackend } from './backend.ts';
import { engines } from './engines.ts';
import { type Orientation, openImage, type WorkingResolution } from './pixels.ts';
import type { LocatedSpec } from './spec.ts';
import type { Task, TaskResult } from './tasks.ts';

/**
 * The generic backend runner: every loaded backend by name, and one job = one operation on one image (decoded once at
 * the operation's working resolution, then each named backend). Runs wherever it is created: an inference worker
 * thread, or the main thread with `workers: 0`.
 */

export interface InferenceJob {
  image: Buffer;
  /** One backend per task the operation asks for. */
  backends: readonly string[];
  resolution: WorkingResolution;
  orientation: Orientation;
}

/** One backend's result, tagged with its task. */
export type BackendResult = { [T in Task]: { backend: string; task: T; value: TaskResult[T] } }[Task];

export interface InferenceAnswer {
  /** The image as the API sees it: EXIF orientation applied or not. Ratios in the results are of this frame. */
  frame: ImageSize;
  /** The size the models started from, after the working resolution. */
  working: ImageSize;
  /** In the job's backend order. */
  results: BackendResult[];
}

/** How many classes travel back from a classification: enough for every answer shape (Baidu top_num <= 100). */
export const CLASSES_KEPT = 100;

export class UnknownBackendError extends Error {
  readonly code = 'EMULATOR_UNKNOWN_BACKEND';
}

export class BackendSet {
  readonly #backends: Map<string, Backend>;

  private constructor(backends: Map<string, Backend>) {
    this.#backends = backends;
  }

  /**
   * Load every spec's model (checked against its spec) and every registered engine, then warm each up: the first run
   * is many times slower.
   */
  static async load(specs: readonly LocatedSpec[], modelDir: string, intraOpThreads = 1): Promise<BackendSet> {
    const loaded = new Map<string, Backend>();
    try {
      for (const spec of specs) loaded.set(spec.name, await loadBackend(spec, modelDir, intraOpThreads));
      for (const engine of engines) loaded.set(engine.name, await engine.load(modelDir, intraOpThreads));
      const set = new BackendSet(loaded);
      await set.warmUp();
      return set;
    } catch (error) {
      await Promise.all([...loaded.values()].map((b) => b.release()));
      throw error;
    }
  }

  names(): string[] {
    return [...this.#backends.keys()];
  }

  async warmUp(): Promise<void> {
    // A grey 96x96 JPEG; its first run also checks each model's label count against its real output.
    const image = await sharp({
      create: { width: 96, height: 96, channels: 3, background: { r: 128, g: 128, b: 128 } },
    })
      .jpeg()
      .toBuffer();
    for (const name of this.#backends.keys())
      await this.run({ image, backends: [name], resolution: 'native', orientation: 'stored' });
  }

  async run(job: InferenceJob): Promise<InferenceAnswer> {
    const chosen = job.backends.map((name) => {
      const backend = this.#backends.get(name);
      if (!backend) throw new UnknownBackendError(`unknown backend ${name} (loaded: ${this.names().join(', ')})`);
      return backend;
    });
    const source = await openImage(job.image, job.orientation, job.resolution);
    const results: BackendResult[] = [];
    for (const backend of chosen) {
      const value = await backend.run(source);
      const kept = backend.task === 'classify' ? value.slice(0, CLASSES_KEPT) : value;
      results.push({ backend: backend.name, task: backend.task, value: kept } as BackendResult);
    }
    return { frame: source.frame, working: { width: source.width, height: source.height }, results };
  }

  async release(): Promise<void> {
    await Promise.all([...this.#backends.values()].map((b) => b.release()));
  }
}
