import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { listDecisionLogFiles } from '../../src/feedback/read-log.ts';
import { parseLogLine } from '../../src/feedback/schema.ts';
import { startFakeUpstream } from '../../testkit/fake-upstream.ts';
import { syntheticJpeg } from '../../testkit/images.ts';
import { spawnServe } from '../helpers/spawned-proxy.ts';

/**
 * A disk-full episode (issue 11, item 6), made real with /dev/full: the decision log's next file is a link to it, so
 * every write there fails with ENOSPC. The proxy serves through it, the log recovers in a new file afterwards, and
 * SIGTERM still exits (before, the failed file's queue was retried for ever by the exit-time flush).
 */
const options = { timeout: 30_000, skip: !existsSync('/dev/full') && 'no /dev/full here' };

test('after a disk-full episode the log recovers and SIGTERM exits promptly', options, async () => {
  const upstream = await startFakeUpstream(() => ({ body: '{"Labels":[{"Name":"Dog","Confidence":90}]}' }));
  const dir = await mkdtemp(path.join(tmpdir(), 'disk-full-'));
  const logPath = path.join(dir, 'decisions.jsonl');
  const proxy = await spawnServe({
    ADACOMPRESS_REKOGNITION_ENDPOINT: upstream.url,
    ADACOMPRESS_DECISION_LOG: logPath,
    // Every line starts a new file, so the episode is exactly the lines that go to the full one.
    ADACOMPRESS_DECISION_LOG_ROTATE_SIZE: '1',
    ADACOMPRESS_REFERENCE_PROBABILITY: '0',
  });
  try {
    const photo = await syntheticJpeg({ width: 320, height: 240, quality: 95 });
    const body = JSON.stringify({ Image: { Bytes: photo.toString('base64') } });
    const call = async () => {
      const res = await request(proxy.url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'RekognitionService.DetectLabels' },
        body,
      });
      await res.body.text();
      return res.statusCode;
    };
    assert.equal(await call(), 200); // line 1: decisions.000001.jsonl
    await symlink('/dev/full', path.join(dir, 'decisions.000002.jsonl'));
    assert.equal(await call(), 200, 'served while the disk is full'); // line 2: lost to ENOSPC
    await sleep(1300); // the log waits a second before it tries a new file
    assert.equal(await call(), 200); // line 3: decisions.000003.jsonl
    const { code, ms } = await proxy.terminate();
    assert.equal(code, 0);
    assert.ok(ms < 5000, `exited after ${Math.round(ms)} ms`);
    const decisions = [];
    for (const file of await listDecisionLogFiles(logPath)) {
      if (file.endsWith('000002.jsonl')) continue; // /dev/full reads back nothing
      for (const text of (await readFile(file, 'utf8')).split('\n').filter(Boolean)) {
        const parsed = parseLogLine(text);
        assert.ok(parsed.ok);
        if (parsed.line.type === 'decision') decisions.push(parsed.line);
      }
    }
    assert.equal(decisions.length, 2, 'the lines before and after the episode');
    assert.ok(proxy.lines.some((l) => /ENOSPC/.test(String(l.error)) && /1 line\(s\) lost/.test(String(l.error))));
    assert.ok(proxy.lines.some((l) => l.msg === 'decision log: lines lost to write errors' && l.lost === 1));
  } finally {
    proxy.kill();
    await upstream.close();
    await rm(dir, { recursive: true, force: true });
  }
});
