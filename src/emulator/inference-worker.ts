import { parentPort, workerData } from 'node:worker_threads';
import { BackendSet, type InferenceJob } from './backends/runner.ts';
import type { LocatedSpec } from './backends/spec.ts';

/** One inference thread: loads and warms every backend once, then answers { id, job } messages in order. */
const { specs, modelDir, intraOpThreads } = workerData as {
  specs: LocatedSpec[];
  modelDir: string;
  intraOpThreads: number;
};
const port = parentPort!;

try {
  const set = await BackendSet.load(specs, modelDir, intraOpThreads);
  port.on('message', async (message: { id: number; job: InferenceJob }) => {
    try {
      const job = { ...message.job, image: Buffer.from(message.job.image) };
      port.postMessage({ id: message.id, result: await set.run(job) });
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      port.postMessage({
        id: message.id,
        error: error instanceof Error ? error.message : String(error),
        ...(typeof code === 'string' ? { code } : {}),
      });
    }
  });
  port.postMessage({ ready: true });
} catch (error) {
  port.postMessage({ ready: false, error: error instanceof Error ? error.message : String(error) });
}
