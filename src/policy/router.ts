import { type FSWatcher, watch } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { InspectedImage } from '../codec/types.ts';
import type { TaskKind } from '../providers/types.ts';
import { PolicyError } from './errors.ts';
import type { Exploration } from './exploration.ts';
import { OnnxPolicy } from './onnx-policy.ts';
import type { Rng } from './rng.ts';
import type { Decision, DecisionContext, Policy } from './types.ts';

/**
 * Routes each decision to the model configured for its provider/operation, hot-swapping models when their files change.
 *
 * Keys: `provider/operation` (e.g. `rekognition/DetectLabels`), `provider`, or `*`; the most specific wins. A key whose
 * model is missing or refused uses the fallback (a fixed quality) until a good file appears.
 * Kind fallbacks: an operation of a listed task kind (text) without a model of its own (its `provider/operation` key)
 * gets that kind's policy, never a provider's or the `*` model: those learned from other kinds of answers, and a
 * labels-trained placeholder says nothing about what compression does to text.
 * Swaps are atomic: a decision holds the model it started with, and a replaced model's session is released only
 * after its in-flight decisions finish. A failed (re)load keeps the current model and is reported via onEvent/status.
 * Watching uses fs.watch on each file's directory (not the file), so atomic replacement by rename is seen.
 */
export interface PolicyRouterOptions {
  /** key -> ONNX model path. */
  models: Readonly<Record<string, string>>;
  fallback: Policy;
  /** Per task kind, the policy for its operations that have no model of their own; `kindOf` says an operation's kind. */
  kindFallbacks?: {
    policies: Partial<Record<TaskKind, Policy>>;
    kindOf(context: DecisionContext): TaskKind | undefined;
  };
  exploration: Exploration;
  rng?: Rng;
  /** Watch model files and reload on change (default true). */
  watch?: boolean;
  /** Quiet time after the last file event before reloading (default 250 ms): writers touch files several times. */
  debounceMs?: number;
  onEvent?: (event: PolicyRouterEvent) => void;
}

export type PolicyRouterEvent =
  | { type: 'loaded'; key: string; path: string; modelId: string; previousModelId?: string }
  | { type: 'load-failed'; key: string; path: string; error: PolicyError; keptModelId?: string };

export interface ModelSlotStatus {
  key: string;
  path: string;
  /** The model serving this key, absent while the fallback serves it. */
  modelId?: string;
  loadedAt?: string;
  lastError?: { code: string; message: string; at: string };
}

export interface PolicyRouterStatus {
  fallbackId: string;
  /** Per task kind with a kind fallback, its policy's id. */
  kindFallbackIds: Record<string, string>;
  exploration: Exploration;
  models: ModelSlotStatus[];
}

export interface ReloadResult {
  key: string;
  ok: boolean;
  modelId?: string;
  error?: string;
}

interface Lease {
  policy: OnnxPolicy;
  inflight: number;
  retired: boolean;
}

interface Slot {
  key: string;
  path: string;
  current?: Lease;
  loadedAt?: Date;
  lastError?: { code: string; message: string; at: Date };
  /** Serialises loads of one key so two quick events cannot race and install the older file last. */
  loading: Promise<unknown>;
  timer?: NodeJS.Timeout;
}

export class PolicyRouter implements Policy {
  readonly id = 'policy-router';
  readonly #options: PolicyRouterOptions;
  readonly #slots = new Map<string, Slot>();
  readonly #watchers: FSWatcher[] = [];
  #closed = false;

  private constructor(options: PolicyRouterOptions) {
    this.#options = options;
    for (const [key, path] of Object.entries(options.models)) {
      this.#slots.set(key, { key, path: resolve(path), loading: Promise.resolve() });
    }
  }

  /** Load every configured model (failures are reported, not thrown: those keys use the fallback) and start watching. */
  static async create(options: PolicyRouterOptions): Promise<PolicyRouter> {
    const router = new PolicyRouter(options);
    await router.reload();
    if (options.watch ?? true) router.#watch();
    return router;
  }

  async decide(image: InspectedImage, context: DecisionContext): Promise<Decision> {
    const route = this.#route(context);
    if (!('lease' in route)) return route.policy.decide(image, context);
    const { lease } = route;
    lease.inflight++;
    try {
      return await lease.policy.decide(image, context);
    } finally {
      lease.inflight--;
      if (lease.retired && lease.inflight === 0) void lease.policy.release().catch(() => {});
    }
  }

  /** The policy that would decide for this context right now. */
  policyFor(context: DecisionContext): Policy {
    const route = this.#route(context);
    return 'lease' in route ? route.lease.policy : route.policy;
  }

  /** Reload one key or all (admin request). Resolves with what happened per key; never throws for a bad file. */
  async reload(key?: string): Promise<ReloadResult[]> {
    const slots = key === undefined ? [...this.#slots.values()] : [this.#slots.get(key)].filter((s) => s !== undefined);
    if (key !== undefined && slots.length === 0) return [{ key, ok: false, error: 'no such policy key' }];
    return Promise.all(slots.map((slot) => this.#load(slot)));
  }

  status(): PolicyRouterStatus {
    const kinds = Object.entries(this.#options.kindFallbacks?.policies ?? {});
    return {
      fallbackId: this.#options.fallback.id,
      kindFallbackIds: Object.fromEntries(kinds.map(([kind, policy]) => [kind, policy!.id])),
      exploration: this.#options.exploration,
      models: [...this.#slots.values()].map((slot) => {
        const status: ModelSlotStatus = { key: slot.key, path: slot.path };
        if (slot.current) status.modelId = slot.current.policy.id;
        if (slot.loadedAt) status.loadedAt = slot.loadedAt.toISOString();
        if (slot.lastError) status.lastError = { ...slot.lastError, at: slot.lastError.at.toISOString() };
        return status;
      }),
    };
  }

  /** Stop watching and release every model (after in-flight decisions finish). */
  async close(): Promise<void> {
    this.#closed = true;
    for (const watcher of this.#watchers) watcher.close();
    const releases: Promise<void>[] = [];
    for (const slot of this.#slots.values()) {
      clearTimeout(slot.timer);
      await slot.loading;
      if (slot.current) releases.push(this.#retire(slot.current));
      slot.current = undefined;
    }
    await Promise.all(releases);
  }

  /** The live model serving a context, or the policy standing in for one (the kind's, else the fallback). */
  #route(context: DecisionContext): { lease: Lease } | { policy: Policy } {
    const own = this.#slots.get(`${context.provider}/${context.operation}`)?.current;
    if (own) return { lease: own };
    const kinds = this.#options.kindFallbacks;
    const kind = kinds?.kindOf(context);
    const kindPolicy = kind ? kinds?.policies[kind] : undefined;
    if (kindPolicy) return { policy: kindPolicy };
    const lease = this.#slotFor(context)?.current;
    return lease ? { lease } : { policy: this.#options.fallback };
  }

  #slotFor(context: DecisionContext): Slot | undefined {
    return (
      this.#slots.get(`${context.provider}/${context.operation}`) ??
      this.#slots.get(context.provider) ??
      this.#slots.get('*')
    );
  }

  #load(slot: Slot): Promise<ReloadResult> {
    const run = slot.loading.then(() => this.#loadNow(slot));
    slot.loading = run.catch(() => {});
    return run;
  }

  async #loadNow(slot: Slot): Promise<ReloadResult> {
    // Operations may contain slashes (Baidu `image-classify/v2/advanced_general`): only the first one ends the provider.
    const slash = slot.key.indexOf('/');
    const [provider, operation] =
      slot.key === '*' ? [] : slash === -1 ? [slot.key] : [slot.key.slice(0, slash), slot.key.slice(slash + 1)];
    const expect: { provider?: string; operation?: string } = {};
    if (provider) expect.provider = provider;
    if (operation) expect.operation = operation;
    try {
      const options = {
        exploration: this.#options.exploration,
        expect,
        ...(this.#options.rng ? { rng: this.#options.rng } : {}),
      };
      const policy = await OnnxPolicy.load(slot.path, options);
      if (this.#closed) {
        await policy.release();
        return { key: slot.key, ok: false, error: 'router closed' };
      }
      const previous = slot.current;
      slot.current = { policy, inflight: 0, retired: false }; // the swap: one assignment
      slot.loadedAt = new Date();
      slot.lastError = undefined;
      if (previous) void this.#retire(previous);
      const event: PolicyRouterEvent = { type: 'loaded', key: slot.key, path: slot.path, modelId: policy.id };
      if (previous) event.previousModelId = previous.policy.id;
      this.#options.onEvent?.(event);
      return { key: slot.key, ok: true, modelId: policy.id };
    } catch (cause) {
      const error =
        cause instanceof PolicyError
          ? cause
          : new PolicyError('MODEL_UNREADABLE', String((cause as Error)?.message ?? cause), { cause });
      slot.lastError = { code: error.code, message: error.message, at: new Date() };
      const event: PolicyRouterEvent = { type: 'load-failed', key: slot.key, path: slot.path, error };
      if (slot.current) event.keptModelId = slot.current.policy.id;
      this.#options.onEvent?.(event);
      return { key: slot.key, ok: false, error: `${error.code}: ${error.message}` };
    }
  }

  async #retire(lease: Lease): Promise<void> {
    lease.retired = true;
    if (lease.inflight === 0) await lease.policy.release().catch(() => {});
  }

  #watch(): void {
    const byDirectory = new Map<string, Slot[]>();
    for (const slot of this.#slots.values()) {
      const dir = dirname(slot.path);
      byDirectory.set(dir, [...(byDirectory.get(dir) ?? []), slot]);
    }
    const debounceMs = this.#options.debounceMs ?? 250;
    for (const [dir, slots] of byDirectory) {
      let watcher: FSWatcher;
      try {
        watcher = watch(dir, { persistent: false }, (_event, filename) => {
          for (const slot of slots) {
            // Some platforms give no filename: then any change in the directory may concern any of its models.
            if (filename && filename.toString() !== basename(slot.path)) continue;
            clearTimeout(slot.timer);
            slot.timer = setTimeout(() => void this.#load(slot), debounceMs);
            slot.timer.unref();
          }
        });
      } catch (cause) {
        for (const slot of slots) {
          slot.lastError = {
            code: 'MODEL_UNREADABLE',
            message: `cannot watch ${dir}: ${(cause as Error).message}`,
            at: new Date(),
          };
        }
        continue;
      }
      watcher.on('error', () => {}); // a vanished directory must not crash the proxy; reload() still works
      this.#watchers.push(watcher);
    }
  }
}
