import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { machineEnv, machineNode, supportedNode } from '../helpers/machine-node.ts';

/**
 * The README's quick start as a newcomer runs it: a fresh clone, the machine's own Node (whatever it is: 20 on the
 * machines this project is built on), `npm ci`, `npm start`, and the proxy must answer /readyz. The clone is of the
 * committed tree (HEAD), as a newcomer gets it. npm ci reaches the registry (its cache makes reruns quicker).
 */
const root = fileURLToPath(new URL('../../', import.meta.url));
const exec = promisify(execFile);

/** The indented command block under "## Quick start", comments dropped. */
function quickStartCommands(): string[] {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  const section = readme.slice(
    readme.indexOf('## Quick start'),
    readme.indexOf('\n## ', readme.indexOf('## Quick start') + 1),
  );
  const block = section.split(/\n\n/).find((paragraph) => /^ {4}npm /.test(paragraph)) ?? '';
  return block.split('\n').map((line) => line.replace(/#.*$/, '').trim());
}

const node = machineNode();
const commands = quickStartCommands();

async function registryReachable(): Promise<boolean> {
  try {
    await exec('npm', ['ping'], { env: machineEnv(), timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

const skip = !node
  ? "no node on the machine's PATH (outside node_modules)"
  : !(await registryReachable())
    ? 'the npm registry is unreachable (npm ping failed): npm ci cannot run'
    : false;

describe("the README's quick start in a scratch clone, on the machine's own Node", { skip, timeout: 900_000 }, () => {
  let dir: string;
  let clone: string;
  let npmCiSeconds = 0;
  const env = (extra: Record<string, string> = {}) => machineEnv(extra);

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'adacompress-quickstart-'));
    clone = path.join(dir, 'adacompress-proxy');
    await exec('git', ['clone', '--quiet', root, clone], { env: env() });
    const started = performance.now();
    await exec('npm', ['ci', '--no-audit', '--no-fund'], {
      cwd: clone,
      env: env(),
      maxBuffer: 64 * 1024 * 1024,
      timeout: 600_000,
    });
    npmCiSeconds = (performance.now() - started) / 1000;
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the README shows exactly npm ci, npm start, npm test', () => {
    assert.deepEqual(commands, ['npm ci', 'npm start', 'npm test']);
  });

  test(`npm ci (${node?.version}) gives the npm scripts a supported Node`, async (t) => {
    t.diagnostic(`npm ci took ${npmCiSeconds.toFixed(0)} s`);
    const { stdout } = await exec('npm', ['exec', '--offline', '--', 'node', '--version'], { cwd: clone, env: env() });
    assert.ok(supportedNode(stdout.trim()), `the scripts' node is ${stdout.trim()}`);
  });

  test("`node bin/adacompress.js` on the machine's Node runs the command (handing over when that Node is old)", async () => {
    const { stdout } = await exec(node!.path, ['bin/adacompress.js', '--help'], { cwd: clone, env: env() });
    assert.match(stdout, /^usage: adacompress <command>/);
  });

  test('npm start: the proxy comes up with its defaults and its admin /readyz answers 200', async () => {
    let child: ChildProcess | undefined;
    let output = '';
    try {
      // Free ports instead of 8080/9090, the log in the scratch dir, credentials so the AWS chain never looks for
      // instance metadata; everything else is the README's defaults (real upstream endpoints, no emulator).
      child = spawn('npm', ['start'], {
        cwd: clone,
        env: env({
          ADACOMPRESS_PORT: '0',
          ADACOMPRESS_ADMIN_PORT: '0',
          ADACOMPRESS_DECISION_LOG: path.join(dir, 'decisions.jsonl'),
          AWS_ACCESS_KEY_ID: 'AKIDQUICKSTART',
          AWS_SECRET_ACCESS_KEY: 'quickstart-secret',
        }),
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout!.on('data', (chunk: Buffer) => {
        output += chunk;
      });
      child.stderr!.on('data', (chunk: Buffer) => {
        output += chunk;
      });
      let adminUrl: string | undefined;
      for (let waited = 0; !adminUrl; waited += 100) {
        if (child.exitCode !== null || waited > 120_000) assert.fail(`npm start did not come up:\n${output}`);
        const line = output.split('\n').find((l) => l.includes('adacompress proxy listening'));
        if (line) adminUrl = (JSON.parse(line) as { adminUrl: string }).adminUrl;
        else await sleep(100);
      }
      const ready = await fetch(`${adminUrl}/readyz`);
      assert.equal(ready.status, 200, await ready.clone().text());
      assert.equal(((await ready.json()) as { status: string }).status, 'ready');
    } finally {
      if (child && child.exitCode === null) {
        const exited = once(child, 'exit');
        // npm and the proxy are one process group (detached): SIGTERM them together, as a terminal's Ctrl-C would.
        process.kill(-child.pid!, 'SIGTERM');
        await exited;
      }
    }
  });
});
