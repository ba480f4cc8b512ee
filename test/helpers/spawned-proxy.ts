import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));

/** `adacompress serve` in its own process, as deployed, configured by ADACOMPRESS_* variables; its log lines kept. */
export async function spawnServe(env: Record<string, string>) {
  const child: ChildProcess = spawn(process.execPath, [cli, 'serve'], {
    env: {
      ...process.env,
      ADACOMPRESS_PORT: '0',
      ADACOMPRESS_ADMIN_PORT: '0',
      AWS_ACCESS_KEY_ID: 'AKIDPROXY',
      AWS_SECRET_ACCESS_KEY: 'proxy-secret-key',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: Record<string, unknown>[] = [];
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const url = await new Promise<string>((resolve, reject) => {
    void exited.then((code) => reject(new Error(`proxy exited early with ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      lines.push(entry);
      if (entry.msg === 'adacompress proxy listening') resolve(String(entry.url));
    });
  });
  return {
    url,
    pid: child.pid!,
    lines,
    exited,
    /**
     * SIGTERM, then how long the process took to exit and its exit code; one still running after `withinMs` is
     * killed (code null), so a shutdown that hangs fails the test instead of hanging it.
     */
    async terminate(withinMs = 15_000): Promise<{ code: number | null; ms: number }> {
      const started = performance.now();
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<null>((resolve) => {
        timer = setTimeout(() => resolve(null), withinMs);
      });
      const code = await Promise.race([exited, late]);
      clearTimeout(timer);
      if (child.exitCode === null) child.kill('SIGKILL');
      return { code, ms: performance.now() - started };
    },
    kill: () => child.kill('SIGKILL'),
  };
}
