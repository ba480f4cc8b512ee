import { existsSync } from 'node:fs';
import { commandOptions } from '../config/options.ts';
import { type EmulatorConfig, emulatorOptions } from './config.ts';
import { applyKnobs, type Knobs } from './knobs.ts';
import type { ApiCounters, ApiName } from './runtime.ts';
import { buildEmulator } from './server.ts';

/** `adacompress emulate`, and the same emulator started from code (tests, benchmarks, the trainer). */

export type { EmulatorConfig } from './config.ts';
export { buildEmulator } from './server.ts';

export interface RunningEmulator {
  /** http://host:port, for SDK endpoints. */
  url: string;
  counters(): Record<ApiName, ApiCounters>;
  resetCounters(): void;
  /** Switch the Rekognition DetectLabels backend mid-stream (same as POST /__emulator/config). */
  setLabelsBackend(backend: EmulatorConfig['labelsBackend']): void;
  /** Change run-time knobs (bindings, EXIF rules, latency...), as POST /__emulator/config; throws on a bad patch. */
  configure(patch: Partial<Knobs>): void;
  close(): Promise<void>;
}

/** Listen on `port` (0 = a free one) at `host` (127.0.0.1 by default); models are loaded and warm when this resolves. */
export async function startEmulator(options: Partial<EmulatorConfig> = {}): Promise<RunningEmulator> {
  const app = await buildEmulator({ port: 0, ...options });
  const { host, port } = app.emulator.config;
  await app.listen({ host, port });
  const address = app.server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  const shownHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  return {
    url: `http://${shownHost}:${actualPort}`,
    counters: () => app.emulator.stats.snapshot(),
    resetCounters: () => app.emulator.stats.reset(),
    setLabelsBackend: (backend) => {
      const problem = applyKnobs(app.emulator, { labelsBackend: backend });
      if (problem) throw new Error(problem);
    },
    configure: (patch) => {
      const problem = applyKnobs(app.emulator, patch);
      if (problem) throw new Error(`emulator config: ${problem}`);
    },
    close: () => app.close(),
  };
}

export const ENV_PREFIX = 'ADACOMPRESS_EMULATOR_';

export async function run(argv: string[]): Promise<void> {
  const summary = 'Local emulators of Rekognition, Face++ and Baidu backed by real models.';
  const config = commandOptions('emulate', summary, emulatorOptions, argv, process.env, ENV_PREFIX);
  if (!config) return;
  if (!existsSync(config.modelDir)) {
    throw new Error(`model directory ${config.modelDir} does not exist: set --model-dir or ${ENV_PREFIX}MODEL_DIR`);
  }
  const emulator = await startEmulator({ ...config, port: config.port });
  console.log(
    `adacompress emulate: listening on ${emulator.url} (Rekognition POST /, Face++ /facepp, /imagepp, Baidu /oauth, /rest)`,
  );
  const stop = async () => {
    await emulator.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
