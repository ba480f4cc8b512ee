#!/usr/bin/env node
// Plain JavaScript on purpose: on a Node.js too old to run TypeScript natively (type stripping needs 22.18+; undici 8
// needs 22.19+), this file still runs, and either hands over to a supported Node or says in one sentence what is wrong.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const supported = (version) => {
  const [major, minor] = version.replace(/^v/, '').split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 19);
};

/**
 * The Node `npm ci` installed for this platform (the node-<os>-<cpu> optional dependency, pinned to 24 LTS), when it
 * is there and supported; the same one npm scripts and npx find first on PATH (node_modules/.bin/node).
 */
function bundledNode() {
  const os = process.platform === 'win32' ? 'win' : process.platform;
  const name = `node-${os}-${process.arch}`;
  try {
    const manifest = createRequire(import.meta.url).resolve(`${name}/package.json`);
    const { version } = JSON.parse(readFileSync(manifest, 'utf8'));
    const binary = join(dirname(manifest), 'bin', os === 'win' ? 'node.exe' : 'node');
    return supported(version) && existsSync(binary) ? binary : undefined;
  } catch {
    return undefined;
  }
}

// Set in the handed-over process: if that Node were too old as well, refuse instead of handing over again.
const HANDED_OVER = 'ADACOMPRESS_BUNDLED_NODE';

if (supported(process.versions.node)) {
  await import('../src/cli.ts');
} else {
  const bundled = process.env[HANDED_OVER] ? undefined : bundledNode();
  if (!bundled) {
    console.error(
      `adacompress needs Node.js 22.19 or newer (22 LTS or 24 LTS); this is ${process.version}. ` +
        '`npm ci` in the project installs Node 24 for it (node_modules/.bin/node), which npm scripts and npx use.',
    );
    process.exit(1);
  }
  // Run the same command on the project's Node: same arguments, terminal and exit status. This process stays only to
  // pass on what it is sent. Ctrl-C reaches the whole foreground group, the child included, so SIGINT is not passed
  // on (a second one would make `serve` skip its drain and `collect` quit at once); SIGTERM and SIGHUP, which a
  // service manager or `kill` send to this pid, are. Production runs the proxy on a supported Node directly.
  const child = spawn(bundled, [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, [HANDED_OVER]: bundled },
  });
  const forward = (signal) => child.kill(signal);
  process.on('SIGINT', () => {});
  for (const signal of ['SIGTERM', 'SIGHUP']) process.on(signal, forward);
  child.on('error', (error) => {
    console.error(`adacompress: could not start ${bundled}: ${error.message}`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (signal) {
      // Die of the same signal, so whoever started this sees what happened to the command.
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
      return;
    }
    process.exit(code ?? 1);
  });
}
