import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { envName, loadOptions } from '../../src/config/options.ts';
import { loadProxyConfig, proxyOptions } from '../../src/config/proxy.ts';
import { emulatorOptions } from '../../src/emulator/config.ts';
import { ENV_PREFIX as EMULATOR_PREFIX } from '../../src/emulator/main.ts';

/**
 * No Docker engine here: what can be checked without one is checked. The image's entry command with the Dockerfile's
 * own ENV runs the same way outside the container (WORKDIR /app holds the same tree as the repository root), and
 * every variable compose.yaml sets is an option the proxy or the emulator knows.
 */
const root = fileURLToPath(new URL('../../', import.meta.url));
const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');

/** Instructions of the final stage, with line continuations joined. */
function finalStage(text: string): { instruction: string; args: string }[] {
  const joined = text.replace(/\\\r?\n\s*/g, ' ');
  const lines = joined.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
  const lastFrom = lines.findLastIndex((l) => /^FROM\s/i.test(l));
  return lines.slice(lastFrom).map((l) => {
    const [instruction = '', ...rest] = l.trim().split(/\s+/);
    return { instruction: instruction.toUpperCase(), args: rest.join(' ') };
  });
}
const stage = finalStage(dockerfile);
const jsonArgs = (name: string): string[] => {
  const found = stage.findLast((i) => i.instruction === name);
  assert.ok(found, `the Dockerfile has ${name}`);
  return JSON.parse(found.args) as string[];
};
const imageEnv = (): Record<string, string> => {
  const env: Record<string, string> = {};
  for (const { args } of stage.filter((i) => i.instruction === 'ENV')) {
    for (const match of args.matchAll(/([A-Z_][A-Z0-9_]*)=("[^"]*"|\S+)/g))
      env[match[1]!] = match[2]!.replace(/^"|"$/g, '');
  }
  return env;
};

describe('the Dockerfile', () => {
  test('is multi-stage on Node 22 slim, installs production dependencies only, runs as a non-root user', () => {
    assert.match(dockerfile, /^ARG NODE_IMAGE=node:22-slim$/m);
    assert.ok((dockerfile.match(/^FROM /gm) ?? []).length >= 2, 'a build stage and a runtime stage');
    assert.match(dockerfile, /npm ci --omit=dev/);
    const user = stage.findLast((i) => i.instruction === 'USER');
    assert.ok(user && user.args !== 'root' && user.args !== '0', `runs as ${user?.args}`);
    const healthcheck = stage.find((i) => i.instruction === 'HEALTHCHECK');
    assert.match(healthcheck?.args ?? '', /\/livez/);
  });

  test("keeps the image's own Node: the build stage drops the project's bundled Node, and only it", () => {
    const packageJson = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
      optionalDependencies?: Record<string, string>;
    };
    const bundled = Object.keys(packageJson.optionalDependencies ?? {}).filter((name) => /^node-linux-/.test(name));
    assert.ok(bundled.length >= 2, 'linux x64 and arm64 Node packages are bundled');
    const joined = dockerfile.replace(/\\\r?\n\s*/g, ' ');
    const install = joined.split('\n').find((line) => /^RUN .*npm ci/.test(line));
    assert.ok(install, 'the build stage runs npm ci');
    // In the same layer as the install, so the ~190 MB binary never lands in any layer of the image.
    for (const name of bundled) assert.ok(install.includes(`rm -rf`) && install.includes(`node_modules/${name}`), name);
    assert.match(install, /node_modules\/\.bin\/node(\s|$)/);
    // --omit=optional would also drop sharp's @img/sharp-linux-* binaries: the image could not decode an image.
    const instructions = joined.split('\n').filter((line) => !line.trim().startsWith('#'));
    assert.ok(!instructions.some((line) => /--omit[= ]optional|--no-optional/.test(line)));
    assert.equal(jsonArgs('ENTRYPOINT')[0], 'node', "the entry point is the image's node on PATH");
  });

  test('copies only files that exist and that .dockerignore does not exclude', () => {
    const ignored = readFileSync(path.join(root, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(/\s+/));
    assert.ok(sources.includes('src') && sources.includes('models'), 'source and the shipped models are baked in');
    for (const source of sources) {
      assert.ok(existsSync(path.join(root, source)), `${source} exists`);
      assert.ok(!ignored.includes(source), `${source} is not in .dockerignore`);
    }
  });

  describe("the image's entry command with the image's ENV, outside Docker", () => {
    let child: ChildProcess;
    let dir: string;
    let adminPort = 0;
    let output = '';

    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'adacompress-image-'));
      const [command, ...entryArgs] = [...jsonArgs('ENTRYPOINT'), ...jsonArgs('CMD')];
      assert.equal(command, 'node');
      child = spawn(process.execPath, entryArgs, {
        cwd: root,
        env: {
          PATH: process.env.PATH ?? '',
          HOME: dir,
          ...imageEnv(),
          // Free ports instead of 8080/9090 (CI may run anything), the decision log in a temporary directory, and
          // credentials so the AWS default chain never reaches for instance metadata.
          ADACOMPRESS_PORT: '0',
          ADACOMPRESS_ADMIN_PORT: '0',
          ADACOMPRESS_DECISION_LOG: path.join(dir, 'decisions.jsonl'),
          AWS_ACCESS_KEY_ID: 'AKIDIMAGE',
          AWS_SECRET_ACCESS_KEY: 'image-secret',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout!.on('data', (chunk: Buffer) => {
        output += chunk;
      });
      child.stderr!.on('data', (chunk: Buffer) => {
        output += chunk;
      });
      for (let waited = 0; !adminPort; waited += 50) {
        if (child.exitCode !== null || waited > 60_000) assert.fail(`serve did not start:\n${output}`);
        const line = output.split('\n').find((l) => l.includes('adacompress proxy listening'));
        if (line) adminPort = Number(new URL(JSON.parse(line).adminUrl).port);
        await sleep(50);
      }
    });
    after(async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
      await rm(dir, { recursive: true, force: true });
    });

    test('listens on every interface, as the ENV asks', () => {
      const line = output.split('\n').find((l) => l.includes('adacompress proxy listening'))!;
      assert.match(JSON.parse(line).url, /^http:\/\/0\.0\.0\.0:\d+$/);
    });

    test('/livez and /readyz answer on the admin port', async () => {
      const live = await fetch(`http://127.0.0.1:${adminPort}/livez`);
      assert.equal(live.status, 200);
      const ready = await fetch(`http://127.0.0.1:${adminPort}/readyz`);
      assert.equal(ready.status, 200);
      assert.equal(((await ready.json()) as { status: string }).status, 'ready');
    });

    test('the HEALTHCHECK command itself exits 0', async () => {
      const healthcheck = stage.find((i) => i.instruction === 'HEALTHCHECK')!;
      const [command, ...args] = JSON.parse(
        healthcheck.args.slice(healthcheck.args.indexOf('CMD') + 3).trim(),
      ) as string[];
      assert.equal(command, 'node');
      const check = spawn(process.execPath, args, {
        env: { ...imageEnv(), ADACOMPRESS_ADMIN_PORT: String(adminPort) },
        stdio: 'ignore',
      });
      const [code] = await once(check, 'exit');
      assert.equal(code, 0);
    });
  });
});

/** `environment:` maps of each service in compose.yaml (the file keeps to simple `key: value` lines for this). */
function composeEnvironments(text: string): Record<string, Record<string, string>> {
  const services: Record<string, Record<string, string>> = {};
  let service: string | undefined;
  let inEnvironment = false;
  let inServices = false;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\s+#.*$/, '');
    if (!line.trim() || line.trim().startsWith('#')) continue;
    const indent = line.length - line.trimStart().length;
    if (indent === 0) {
      inServices = line.startsWith('services:');
      service = undefined;
      continue;
    }
    if (!inServices) continue;
    if (indent === 2) {
      service = line.trim().replace(/:$/, '');
      services[service] = {};
      inEnvironment = false;
    } else if (indent === 4) {
      inEnvironment = line.trim() === 'environment:';
    } else if (indent === 6 && inEnvironment && service) {
      const match = /^\s+([A-Z_][A-Z0-9_]*):\s*"?([^"]*)"?$/.exec(line);
      assert.ok(match, `compose.yaml: environment entries are KEY: "value" (${line.trim()})`);
      services[service]![match[1]!] = match[2]!;
    }
  }
  return services;
}

describe('docker/compose.yaml', () => {
  const environments = composeEnvironments(readFileSync(path.join(root, 'docker', 'compose.yaml'), 'utf8'));
  const proxyVariables = new Set(Object.keys(proxyOptions).map((key) => envName(key)));
  const emulatorVariables = new Set(Object.keys(emulatorOptions).map((key) => envName(key, EMULATOR_PREFIX)));

  test('has the example app, the proxy as its sidecar and the emulator', () => {
    assert.deepEqual(Object.keys(environments).sort(), ['app', 'emulator', 'proxy']);
    assert.match(environments.app!.AWS_ENDPOINT_URL_REKOGNITION!, /^http:\/\/127\.0\.0\.1:8080$/);
    assert.equal(environments.proxy!.ADACOMPRESS_PORT, '8080');
    assert.match(environments.proxy!.ADACOMPRESS_REKOGNITION_ENDPOINT!, /^http:\/\/emulator:4566$/);
  });

  test('every ADACOMPRESS_ variable is a known option, with a value the config accepts', () => {
    for (const [service, env] of Object.entries(environments)) {
      for (const key of Object.keys(env).filter((k) => k.startsWith('ADACOMPRESS_'))) {
        const known = key.startsWith(EMULATOR_PREFIX) ? emulatorVariables.has(key) : proxyVariables.has(key);
        assert.ok(known, `${service}: ${key} is not a known option`);
      }
    }
    assert.doesNotThrow(() => loadProxyConfig([], environments.proxy!));
    assert.doesNotThrow(() => loadOptions(emulatorOptions, [], environments.emulator!, EMULATOR_PREFIX));
  });
});
