import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { listDecisionLogFiles } from '../../src/feedback/read-log.ts';
import { parseLogLine } from '../../src/feedback/schema.ts';
import { startFakeUpstream } from '../../testkit/fake-upstream.ts';
import { syntheticJpeg } from '../../testkit/images.ts';
import { spawnServe } from '../helpers/spawned-proxy.ts';

const cli = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));

test('SIGTERM with requests in flight: every request is answered and every decision reaches the log', async () => {
  // A slow upstream keeps the requests in flight when the signal arrives.
  const upstream = await startFakeUpstream(
    () =>
      new Promise((resolve) => setTimeout(() => resolve({ body: '{"Labels":[{"Name":"Dog","Confidence":90}]}' }), 600)),
  );
  const dir = await mkdtemp(path.join(tmpdir(), 'shutdown-'));
  const logPath = path.join(dir, 'decisions.jsonl');
  const child = spawn(process.execPath, [cli, 'serve'], {
    env: {
      ...process.env,
      ADACOMPRESS_PORT: '0',
      ADACOMPRESS_ADMIN_PORT: '0',
      ADACOMPRESS_REKOGNITION_ENDPOINT: upstream.url,
      ADACOMPRESS_DECISION_LOG: logPath,
      ADACOMPRESS_REFERENCE_PROBABILITY: '0',
      AWS_ACCESS_KEY_ID: 'AKIDPROXY',
      AWS_SECRET_ACCESS_KEY: 'proxy-secret-key',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`proxy exited early with ${code}`)));
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === 'adacompress proxy listening') resolve(entry.url!);
      });
    });
    const photo = await syntheticJpeg({ width: 320, height: 240, quality: 95 });
    const body = JSON.stringify({ Image: { Bytes: photo.toString('base64') } });
    const inFlight = Array.from({ length: 12 }, () =>
      request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'RekognitionService.DetectLabels' },
        body,
      }).then(async (res) => ({ status: res.statusCode, body: await res.body.text() })),
    );
    while (upstream.received.length < 12) await sleep(20);
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const answers = await Promise.all(inFlight);
    assert.deepEqual(
      answers.map((a) => a.status),
      Array(12).fill(200),
    );
    assert.equal(await exited, 0, 'clean exit');
    const lines = [];
    for (const file of await listDecisionLogFiles(logPath)) {
      for (const text of (await readFile(file, 'utf8')).split('\n').filter(Boolean)) {
        const parsed = parseLogLine(text);
        assert.ok(parsed.ok, 'every line validates');
        lines.push(parsed.line);
      }
    }
    assert.equal(lines.filter((l) => l.type === 'decision').length, 12, 'no decision lost');
  } finally {
    child.kill('SIGKILL');
    await upstream.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('SIGTERM: every reference upload already started is waited for, its line written (none dropped)', async () => {
  // Slow answers: the reference uploads start after the client answers, well after the signal.
  const upstream = await startFakeUpstream(
    () =>
      new Promise((resolve) => setTimeout(() => resolve({ body: '{"Labels":[{"Name":"Dog","Confidence":90}]}' }), 500)),
  );
  const dir = await mkdtemp(path.join(tmpdir(), 'shutdown-refs-'));
  const logPath = path.join(dir, 'decisions.jsonl');
  const proxy = await spawnServe({
    ADACOMPRESS_REKOGNITION_ENDPOINT: upstream.url,
    ADACOMPRESS_DECISION_LOG: logPath,
    ADACOMPRESS_REFERENCE_PROBABILITY: '1',
    ADACOMPRESS_REFERENCE_BUDGET_PER_MINUTE: '10000',
  });
  try {
    const photo = await syntheticJpeg({ width: 320, height: 240, quality: 95 });
    const body = JSON.stringify({ Image: { Bytes: photo.toString('base64') } });
    const inFlight = Array.from({ length: 32 }, () =>
      request(proxy.url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'RekognitionService.DetectLabels' },
        body,
      }).then(async (res) => ({ status: res.statusCode, body: await res.body.text() })),
    );
    while (upstream.received.length < 32) await sleep(20);
    const exit = proxy.terminate();
    assert.deepEqual(
      (await Promise.all(inFlight)).map((a) => a.status),
      Array(32).fill(200),
    );
    assert.equal((await exit).code, 0);
    const lines = [];
    for (const file of await listDecisionLogFiles(logPath)) {
      for (const text of (await readFile(file, 'utf8')).split('\n').filter(Boolean)) {
        const parsed = parseLogLine(text);
        assert.ok(parsed.ok);
        lines.push(parsed.line);
      }
    }
    // Calibration probes (decisions with point.probe) are the proxy's own uploads, logged with their reference too.
    const decisions = lines.filter((l) => l.type === 'decision');
    const clients = decisions.filter((l) => !l.point?.probe);
    assert.equal(clients.length, 32);
    const referenced = new Set(lines.flatMap((l) => (l.type === 'reference' ? [l.decisionId] : [])));
    assert.ok(
      decisions.every((l) => referenced.has(l.id)),
      'every reference line written, for the clients decisions and the probes alike',
    );
    assert.ok(!proxy.lines.some((l) => String(l.error ?? '').includes('line dropped')));
  } finally {
    proxy.kill();
    await upstream.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('SIGTERM with a client stuck on a silent upstream: it gets 503 in the API shape, exit well within twice the grace', async () => {
  const silent = createServer((req) => req.resume());
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const proxy = await spawnServe({
    ADACOMPRESS_FACEPP_ENDPOINT: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`,
    ADACOMPRESS_DECISION_LOG: '',
    ADACOMPRESS_SHUTDOWN_GRACE_MS: '1000',
  });
  try {
    const stuck = request(`${proxy.url}/facepp/v3/faceset/getfacesets`, { method: 'POST', body: 'api_key=k' }).then(
      async (res) => ({ status: res.statusCode, header: res.headers['x-adacompress'], body: await res.body.json() }),
    );
    await sleep(200);
    const { code, ms } = await proxy.terminate();
    const answer = await stuck;
    assert.equal(answer.status, 503);
    assert.equal(answer.header, 'error;reason=shutting_down');
    assert.equal((answer.body as { error_message: string }).error_message, 'INTERNAL_ERROR');
    assert.equal(code, 0);
    assert.ok(ms < 2000, `exited after ${Math.round(ms)} ms: under twice the 1000 ms grace`);
  } finally {
    proxy.kill();
    silent.closeAllConnections();
    silent.close();
  }
});
