import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
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
import { syntheticJpeg } from '../helpers/images.ts';

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
