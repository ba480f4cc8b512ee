import { Worker } from 'node:worker_threads';
import {
  type ClassScore,
  classify,
  type Detection,
  detectFaces,
  detectObjects,
  loadModels,
  type Models,
} from './models.ts';

/**
 * Where model inference runs. onnxruntime-node's session.run() computes on the calling thread (FIELD-NOTES), so the
 * HTTP server hands images to a pool of worker threads, each holding its own sessions; `workers: 0` runs in-process
 * (scripts that want no threads, or a machine where workers misbehave). Both give identical answers.
 */

export type Task = 'classify' | 'objects' | 'faces';
export interface TaskResult {
  classify: ClassScore[];
  objects: Detection[];
  faces: Detection[];
}

export interface Inference {
  run<T extends Task>(task: T, image: Buffer): Promise<TaskResult[T]>;
  close(): Promise<void>;
}

/** How many classes travel back from a classification: enough for every answer shape (Baidu top_num <= 100). */
export const CLASSES_KEPT = 100;

export async function runTask(models: Models, task: Task, image: Buffer): Promise<TaskResult[Task]> {
  if (task === 'classify') return (await classify(models, image)).slice(0, CLASSES_KEPT);
  if (task === 'objects') return detectObjects(models, image);
  return detectFaces(models, image);
}

/** A tiny JPEG (a grey 96x96 square) to warm every session up: the first run is many times slower than the rest. */
export async function warmUp(run: (task: Task, image: Buffer) => Promise<unknown>): Promise<void> {
  const { default: sharp } = await import('sharp');
  const image = await sharp({ create: { width: 96, height: 96, channels: 3, background: { r: 128, g: 128, b: 128 } } })
    .jpeg()
    .toBuffer();
  for (const task of ['classify', 'objects', 'faces'] as const) await run(task, image);
}

export async function inProcessInference(modelDir: string, intraOpThreads = 1): Promise<Inference> {
  const models = await loadModels(modelDir, intraOpThreads);
  const inference: Inference = {
    run: (task, image) => runTask(models, task, image) as Promise<never>,
    close: async () => {
      await Promise.all([models.classifier.release(), models.detector.release(), models.faces.release()]);
    },
  };
  await warmUp((task, image) => inference.run(task, image));
  return inference;
}

interface Job {
  id: number;
  task: Task;
  image: Buffer;
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/** A fixed pool of workers; jobs wait in FIFO order for a free worker (admission is bounded per API upstream). */
export async function workerInference(modelDir: string, size: number, intraOpThreads = 1): Promise<Inference> {
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
      worker.postMessage({ id: job.id, task: job.task, image: job.image });
    }
  };

  const start = (): Promise<Worker> =>
    new Promise((resolve, reject) => {
      const worker = new Worker(workerUrl, { workerData: { modelDir, intraOpThreads } });
      worker.once('error', reject);
      worker.once('message', (message: { ready?: boolean; error?: string }) => {
        worker.off('error', reject);
        if (!message.ready) {
          reject(new Error(message.error ?? 'inference worker failed to start'));
          return;
        }
        worker.on('message', (reply: { id: number; result?: unknown; error?: string }) => {
          const job = busy.get(worker);
          busy.delete(worker);
          idle.push(worker);
          if (job && reply.id === job.id) {
            if (reply.error !== undefined) job.reject(new Error(reply.error));
            else job.resolve(reply.result);
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

  const workers = await Promise.all(Array.from({ length: size }, start));
  idle.push(...workers);
  return {
    run: (task, image) =>
      new Promise((resolve, reject) => {
        if (closed) {
          reject(new Error('inference pool closed'));
          return;
        }
        waiting.push({ id: nextId++, task, image, resolve: resolve as (v: unknown) => void, reject });
        dispatch();
      }),
    close: async () => {
      closed = true;
      for (const job of waiting.splice(0)) job.reject(new Error('inference pool closed'));
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}

export function createInference(modelDir: string, workers: number, intraOpThreads = 1): Promise<Inference> {
  return workers > 0
    ? workerInference(modelDir, workers, intraOpThreads)
    : inProcessInference(modelDir, intraOpThreads);
}
