import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** The environment the container sets (Dockerfile): the same allocator and thread-pool settings for every measurement. */
export const CONTAINER_ENV = {
  MALLOC_ARENA_MAX: '2',
  UV_THREADPOOL_SIZE: '4',
  NODE_OPTIONS: '--max-semi-space-size=4',
};

export interface ChildServer {
  url: string;
  adminUrl?: string;
  pid: number;
  /** Resident set size now, and its high-water mark since start (/proc/PID/status VmRSS, VmHWM), in bytes. */
  memory(): { rss: number; hwm: number };
  /** CPU time (user + system) the process has used so far, in seconds (/proc/PID/stat). */
  cpuSeconds(): number;
  /** Its JSON log lines so far (stdout and stderr), parsed; lines that are not JSON are left out. */
  logLines(): Record<string, unknown>[];
  stop(): Promise<void>;
}

/**
 * No reference uploads at all, for rows that measure the request path alone. A reference probability of 0 is not
 * enough: calibration boosts references while it explores, within the budget. With no budget nothing can move a
 * key's point, which then stays on the q75 rung (feedback/loop.ts).
 */
export const REFERENCES_OFF = {
  ADACOMPRESS_REFERENCE_PROBABILITY: '0',
  ADACOMPRESS_REFERENCE_BUDGET_PER_MINUTE: '0',
} as const;

/**
 * `node src/cli.ts serve` in its own process, as deployed: own event loop, own heap, measured from outside. Config
 * through ADACOMPRESS_* variables; logs go to a file (a pipe the benchmark had to drain would cost this process CPU).
 */
export async function spawnProxy(env: Record<string, string>): Promise<ChildServer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'adacompress-bench-'));
  return spawnServer(
    ['src/cli.ts', 'serve'],
    {
      ADACOMPRESS_PORT: '0',
      ADACOMPRESS_ADMIN_PORT: '0',
      ADACOMPRESS_DECISION_LOG: path.join(dir, 'decisions.jsonl'),
      AWS_ACCESS_KEY_ID: 'AKIDEMULATOR',
      AWS_SECRET_ACCESS_KEY: 'emulator-secret',
      ...CONTAINER_ENV,
      ...env,
    },
    dir,
    (line) => {
      const parsed = JSON.parse(line) as { msg?: string; url?: string; adminUrl?: string };
      return parsed.msg === 'adacompress proxy listening' && parsed.url
        ? { url: parsed.url, adminUrl: parsed.adminUrl ?? '' }
        : undefined;
    },
  );
}

/** bench/lib/http-proxy-server.ts: @fastify/http-proxy in front of `upstream`, the pass-through baseline. */
export async function spawnHttpProxy(upstream: string): Promise<ChildServer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'adacompress-bench-'));
  return spawnServer(['bench/lib/http-proxy-server.ts', upstream], CONTAINER_ENV, dir, (line) =>
    line.startsWith('listening ') ? { url: line.slice('listening '.length).trim() } : undefined,
  );
}

async function spawnServer(
  args: string[],
  env: Record<string, string>,
  dir: string,
  ready: (line: string) => { url: string; adminUrl?: string } | undefined,
): Promise<ChildServer> {
  const logFile = path.join(dir, 'server.log');
  const fd = openSync(logFile, 'w');
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const exited = once(child, 'exit');
  const deadline = Date.now() + 60_000;
  let found: { url: string; adminUrl?: string } | undefined;
  while (!found) {
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`${args.join(' ')} did not start:\n${readFileSync(logFile, 'utf8').slice(-2000)}`);
    }
    await sleep(50);
    for (const line of readFileSync(logFile, 'utf8').split('\n')) {
      try {
        found = ready(line);
      } catch {
        // not JSON: keep looking
      }
      if (found) break;
    }
  }
  const pid = child.pid!;
  return {
    ...found,
    pid,
    memory: () => readMemory(pid),
    cpuSeconds: () => readCpuSeconds(pid),
    logLines: () =>
      readFileSync(logFile, 'utf8')
        .split('\n')
        .flatMap((line) => {
          try {
            return [JSON.parse(line) as Record<string, unknown>];
          } catch {
            return [];
          }
        }),
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function readMemory(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rss: kib('VmRSS') * 1024, hwm: kib('VmHWM') * 1024 };
}

// Linux reports utime/stime in clock ticks: USER_HZ, 100 on every mainstream kernel configuration.
const CLOCK_TICKS_PER_SECOND = 100;

function readCpuSeconds(pid: number): number {
  // Fields after the command name (which is in parentheses and may contain spaces): utime and stime are 14th and 15th.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/** Read a counter family from a Prometheus text page, summed over the series whose labels contain `match`. */
export async function metricSum(adminUrl: string, name: string, match = ''): Promise<number> {
  return sumOf(await (await fetch(`${adminUrl}/metrics`)).text(), name, match);
}

/** A counter family of a Prometheus text page already read, summed over the series whose labels contain `match`. */
export function sumOf(text: string, name: string, match = ''): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) && l.includes(match))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}
