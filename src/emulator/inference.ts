import { Worker } from 'node:worker_threads';
import { BackendSet, type InferenceAnswer, type InferenceJob } from './backends/runner.ts';
import type { LocatedSpec } from './backends/spec.ts';

/**
 * Where model inference runs. onnxruntime-node's session.run() computes on the calling thread (FIELD-NOTES), so the
 * HTTP server hands jobs to a pool of worker threads, each holding every backend's session; `workers: 0` runs
 * in-process (scripts that want no threads, or a machine where workers misbehave). Both give identical answers.
 */

export type { InferenceAnswer, InferenceJob } from './backends/runner.ts';

export interface Inference {
  run(job: InferenceJob): Promise<InferenceAnswer>;
  close(): Promise<void>;
}

export async function inProcessInference(
  specs: readonly LocatedSpec[],
  modelDir: string,
  intraOpThreads = 1,
): Promise<Inference> {
  const set = await BackendSet.load(specs, modelDir, intraOpThreads);
  return { run: (job) => set.run(job), close: () => set.release() };
}

interface Job {
  id: number;
  job: InferenceJob;
  resolve(value: InferenceAnswer): void;
  reject(error: Error): void;
}

/** A fixed pool of workers; jobs wait in FIFO order for a free worker (admission is bounded per API upstream). */
export async function workerInference(
  specs: readonly LocatedSpec[],
  modelDir: string,
  size: number,
  intraOpThreads = 1,
): Promise<Inference> {
  const workerUrl = new URL('./inference-worker.ts', import.meta.url);
  const idle: Worker[] = [];
  const busy = new Map<Worker, Job>();
  const waiting: Job[] = [];
  let nextId = 1;
  let closed = false;

  const dispatch = () => {
    while (idle.length > 0 && waiting.length > 0) {
      const worker = idle.pop()!;
      const job = waiting.shift()!;
      busy.set(worker, job);
      worker.postMessage({ id: job.id, job: job.job });
    }
  };

  const start = (): Promise<Worker> =>
    new Promise((resolve, reject) => {
      const worker = new Worker(workerUrl, { workerData: { specs, modelDir, intraOpThreads } });
      worker.once('error', reject);
      worker.once('message', (message: { ready?: boolean; error?: string }) => {
        worker.off('error', reject);
        if (!message.ready) {
          reject(new Error(message.error ?? 'inference worker failed to start'));
          return;
        }
        worker.on('message', (reply: { id: number; result?: InferenceAnswer; error?: string; code?: string }) => {
          const job = busy.get(worker);
          busy.delete(worker);
          idle.push(worker);
          if (job && reply.id === job.id) {
            // The error's code survives the thread boundary, so routes answer a bad image as in-process.
            if (reply.error !== undefined) job.reject(Object.assign(new Error(reply.error), { code: reply.code }));
            else job.resolve(reply.result!);
          }
          dispatch();
        });
        worker.on('error', (error: Error) => {
          // A crashed worker fails its job; the pool shrinks rather than hiding the crash.
          busy.get(worker)?.reject(error);
          busy.delete(worker);
        });
        resolve(worker);
      });
    });

  const started = await Promise.allSettled(Array.from({ length: size }, start));
  const workers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failure = started.find((s) => s.status === 'rejected');
  if (failure) {
    await Promise.all(workers.map((w) => w.terminate()));
    throw failure.reason;
  }
  idle.push(...workers);
  return {
    run: (job) =>
      new Promise((resolve, reject) => {
        if (closed) {
          reject(new Error('inference pool closed'));
          return;
        }
        waiting.push({ id: nextId++, job, resolve, reject });
        dispatch();
      }),
    close: async () => {
      closed = true;
      for (const job of waiting.splice(0)) job.reject(new Error('inference pool closed'));
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}

export function createInference(
  specs: readonly LocatedSpec[],
  modelDir: string,
  workers: number,
  intraOpThreads = 1,
): Promise<Inference> {
  return workers > 0
    ? workerInference(specs, modelDir, workers, intraOpThreads)
    : inProcessInference(specs, modelDir, intraOpThreads);
}
