import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { machineEnv, machineNode, supportedNode } from '../helpers/machine-node.ts';

/**
 * bin/adacompress.js run directly by a Node too old for the project: it hands over to the Node `npm ci` installed
 * (node_modules/node-<os>-<cpu>), or, without one, refuses in one sentence. A scratch project stands in for the
 * repository: the real bin, a stub cli.ts that reports what ran it, and the current (supported) Node as the
 * "bundled" one. Needs an old Node on the machine (20 on CI's machines) to run the bin with.
 */
const root = fileURLToPath(new URL('../../', import.meta.url));
const exec = promisify(execFile);
const old = machineNode();
const skip =
  old && !supportedNode(old.version)
    ? false
    : `needs a Node older than 22.19 on the machine's PATH (found ${old?.version})`;

const STUB_CLI = `
const args = process.argv.slice(2);
if (args[0] === 'wait') {
  process.once('SIGTERM', () => { console.log('drained on SIGTERM'); process.exit(0); });
  console.log('waiting');
  setInterval(() => {}, 1000);
} else {
  console.log(JSON.stringify({ version: process.version, args }));
  process.exit(Number(args[0] === 'fail' ? 3 : 0));
}
`;

describe('bin/adacompress.js on an old Node', { skip }, () => {
  let dir: string;
  const project = (name: string) => path.join(dir, name);

  /** A project with the real bin and the stub CLI; `bundled` adds node_modules/node-<os>-<cpu> with this Node. */
  async function scratchProject(name: string, bundled: boolean) {
    const base = project(name);
    await mkdir(path.join(base, 'bin'), { recursive: true });
    await mkdir(path.join(base, 'src'), { recursive: true });
    await copyFile(path.join(root, 'bin', 'adacompress.js'), path.join(base, 'bin', 'adacompress.js'));
    await writeFile(path.join(base, 'package.json'), '{ "type": "module" }\n');
    await writeFile(path.join(base, 'src', 'cli.ts'), STUB_CLI);
    if (bundled) {
      const os = process.platform === 'win32' ? 'win' : process.platform;
      const pkg = path.join(base, 'node_modules', `node-${os}-${process.arch}`);
      await mkdir(path.join(pkg, 'bin'), { recursive: true });
      await writeFile(path.join(pkg, 'package.json'), JSON.stringify({ version: process.versions.node }));
      await symlink(process.execPath, path.join(pkg, 'bin', 'node'));
    }
    return path.join(base, 'bin', 'adacompress.js');
  }

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'adacompress-bin-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('without a bundled Node: refuses with its sentence, exit 1', async () => {
    const bin = await scratchProject('bare', false);
    const failed = await exec(old!.path, [bin, '--help'], { env: machineEnv() }).catch((e) => e);
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /^adacompress needs Node\.js 22\.19 or newer \(22 LTS or 24 LTS\); this is v\d+/);
    assert.match(failed.stderr, /`npm ci` in the project installs Node 24/);
  });

  it('with one: runs the command on it, with the same arguments and exit status', async () => {
    const bin = await scratchProject('bundled', true);
    const ok = await exec(old!.path, [bin, 'serve', '--port', '0'], { env: machineEnv() });
    assert.deepEqual(JSON.parse(ok.stdout), { version: process.version, args: ['serve', '--port', '0'] });
    const failed = await exec(old!.path, [bin, 'fail'], { env: machineEnv() }).catch((e) => e);
    assert.equal(failed.code, 3);
  });

  it('passes SIGTERM on, so the command drains and the exit status is its own', async () => {
    const bin = await scratchProject('signals', true);
    const child = spawn(old!.path, [bin, 'wait'], { env: machineEnv(), stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk;
    });
    while (!output.includes('waiting')) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
    assert.match(output, /drained on SIGTERM/);
  });
});
