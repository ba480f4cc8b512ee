import { parentPort, workerData } from 'node:worker_threads';
import { runTask, type Task, warmUp } from './inference.ts';
import { loadModels } from './models.ts';

/** One inference thread: loads the models once, warms them up, then answers { id, task, image } messages in order. */
const { modelDir, intraOpThreads } = workerData as { modelDir: string; intraOpThreads: number };
const port = parentPort!;

try {
  const models = await loadModels(modelDir, intraOpThreads);
  await warmUp((task, image) => runTask(models, task, image));
  port.on('message', async (message: { id: number; task: Task; image: Uint8Array }) => {
    try {
      const result = await runTask(models, message.task, Buffer.from(message.image));
      port.postMessage({ id: message.id, result });
    } catch (error) {
      port.postMessage({ id: message.id, error: error instanceof Error ? error.message : String(error) });
    }
  });
  port.postMessage({ ready: true });
} catch (error) {
  port.postMessage({ ready: false, error: error instanceof Error ? error.message : String(error) });
}
