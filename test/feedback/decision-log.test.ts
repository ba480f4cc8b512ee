import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  createDecisionLog,
  type DecisionLogError,
  nextRotationAt,
  parseSize,
} from '../../src/feedback/decision-log.ts';
import { listDecisionLogFiles, readDecisionLog } from '../../src/feedback/read-log.ts';
import { parseLogLine } from '../../src/feedback/schema.ts';
import { decisionInput, referenceInput } from './fixtures/lines.ts';

let directory: string;
before(async () => {
  directory = await mkdtemp(join(tmpdir(), 'decision-log-'));
});
after(async () => {
  await rm(directory, { recursive: true, force: true });
});

async function readLines(files: string[]): Promise<string[]> {
  const lines: string[] = [];
  for (const file of files) lines.push(...(await readFile(file, 'utf8')).split('\n').filter((line) => line !== ''));
  return lines;
}

const fixture = fileURLToPath(new URL('./fixtures/write-until-sigterm.ts', import.meta.url));

async function writeUntilSigterm(path: string, mode: 'async' | 'sync') {
  const child = spawn(process.execPath, [fixture, path, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    output += chunk;
    if (output.includes('rotated\n') && !child.killed) child.kill('SIGTERM');
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 0, `child output: ${output}`);
  const report = JSON.parse(output.split('\n').filter(Boolean).at(-1)!) as {
    accepted: number;
    bufferedAtClose: number;
    files: number;
  };
  return report;
}

describe('decision log durability', () => {
  for (const mode of ['async', 'sync'] as const) {
    test(`SIGTERM with writes in flight loses no accepted line (${mode})`, async () => {
      const path = join(directory, `sigterm-${mode}`, 'decisions.jsonl');
      const report = await writeUntilSigterm(path, mode);
      if (mode === 'async') assert.ok(report.bufferedAtClose > 0, 'the test must close with lines still queued');
      const files = await listDecisionLogFiles(path);
      assert.equal(files.length, report.files);
      assert.ok(files.length >= 3, 'small size limit rotates');
      const lines = await readLines(files);
      assert.equal(lines.length, report.accepted);
      // Every line validates and the ids run without a gap, in order, across files.
      lines.forEach((text, index) => {
        const parsed = parseLogLine(text);
        assert.ok(parsed.ok, parsed.ok ? '' : parsed.error.message);
        assert.equal(parsed.line.id, `d${index}`);
      });
    });
  }
});

describe('decision log writing', () => {
  test('rotation by size produces numbered files that readDecisionLog reads back in order, joined', async () => {
    const path = join(directory, 'rotation', 'decisions.jsonl');
    const log = await createDecisionLog({ path, rotate: { size: 2048 } });
    for (let i = 0; i < 40; i++) {
      const requested = i % 4 === 0;
      assert.ok(log.logDecision(decisionInput(`d${i}`, { reference: { probability: 0.25, requested } })));
      // Each reference lands a few decisions later, often in the next file.
      if (i >= 3 && (i - 3) % 4 === 0) assert.ok(log.logReference(referenceInput(`r${i - 3}`, `d${i - 3}`)));
    }
    await log.close();
    const files = await listDecisionLogFiles(path);
    assert.deepEqual(files, log.stats().files);
    assert.ok(files.length > 5, `expected many files, got ${files.length}`);
    assert.match(files[0]!, /decisions\.000001\.jsonl$/);

    const joined = [];
    for await (const entry of readDecisionLog(files)) joined.push(entry);
    assert.deepEqual(
      joined.map((entry) => entry.decision.id),
      Array.from({ length: 40 }, (_, i) => `d${i}`),
    );
    for (const entry of joined) {
      const index = Number(entry.decision.id.slice(1));
      if (index % 4 === 0 && index <= 36) assert.equal(entry.reference?.id, `r${index}`);
      else assert.equal(entry.reference, undefined);
    }
  });

  test('a new process starts a new file after the highest number, never appending to a torn one', async () => {
    const path = join(directory, 'restart', 'decisions.jsonl');
    const first = await createDecisionLog({ path });
    first.logDecision(decisionInput('a'));
    await first.close();
    // Simulate a SIGKILL mid-line at the end of the first file.
    await writeFile(first.stats().currentFile, '{"type":"decision","v":1,"id":"torn', { flag: 'a' });
    const second = await createDecisionLog({ path });
    second.logDecision(decisionInput('b'));
    await second.close();
    const files = await listDecisionLogFiles(path);
    assert.equal(files.length, 2);
    const issues: string[] = [];
    const ids = [];
    for await (const entry of readDecisionLog(files, { onIssue: (issue) => issues.push(issue.code) })) {
      ids.push(entry.decision.id);
    }
    assert.deepEqual(ids, ['a', 'b']);
    assert.deepEqual(issues, ['INVALID_JSON']);
  });

  test('rotation by time starts a new file at the boundary', async () => {
    const path = join(directory, 'hourly', 'decisions.jsonl');
    let clock = Date.parse('2025-05-01T10:59:59.000Z');
    const log = await createDecisionLog({ path, rotate: { frequency: 'hourly' }, now: () => clock });
    log.logDecision(decisionInput('before'));
    clock += 2000;
    log.logDecision(decisionInput('after'));
    log.logDecision(decisionInput('after-2'));
    await log.close();
    const files = log.stats().files;
    assert.equal(files.length, 2);
    assert.deepEqual(
      (await readLines([files[1]!])).map((line) => JSON.parse(line).id),
      ['after', 'after-2'],
    );
  });

  test('lines with unknown fields (a header, image bytes) or invalid values are refused, not written', async () => {
    const path = join(directory, 'refuse', 'decisions.jsonl');
    const errors: DecisionLogError[] = [];
    const log = await createDecisionLog({ path, onError: (error) => errors.push(error) });
    const withSecret = { ...decisionInput('x'), authorization: 'AWS4-HMAC-SHA256 Credential=AKIA...' };
    assert.equal(log.logDecision(withSecret), false);
    const withBytes = { ...decisionInput('y'), image: Buffer.from('jpeg').toString('base64') };
    assert.equal(log.logDecision(withBytes), false);
    assert.equal(log.logDecision(decisionInput('z', { propensity: 0 })), false);
    // Only the providers the proxy serves (the registry's descriptors) may be named.
    assert.equal(log.logDecision(decisionInput('w', { provider: 'azure' })), false);
    assert.equal(log.logDecision(decisionInput('ok')), true);
    await log.close();
    assert.equal(log.logDecision(decisionInput('late')), false);
    assert.deepEqual(
      errors.map((error) => error.code),
      ['INVALID_LINE', 'INVALID_LINE', 'INVALID_LINE', 'INVALID_LINE', 'CLOSED'],
    );
    assert.deepEqual(log.stats().refused, 4);
    assert.deepEqual(log.stats().droppedAfterClose, 1);
    const lines = await readLines(log.stats().files);
    assert.equal(lines.length, 1);
    assert.doesNotMatch(lines[0]!, /AKIA|authorization/);
  });

  test('flush resolves once accepted lines are in the file', async () => {
    const path = join(directory, 'flush', 'decisions.jsonl');
    const log = await createDecisionLog({ path });
    for (let i = 0; i < 100; i++) log.logDecision(decisionInput(`f${i}`));
    await log.flush();
    assert.equal(log.stats().bufferedBytes, 0);
    assert.equal((await readLines(log.stats().files)).length, 100);
    await log.close();
  });
});

describe('decision log config', () => {
  test('sizes and rotation boundaries', () => {
    assert.equal(parseSize('64k'), 65_536);
    assert.equal(parseSize('10m'), 10 * 1024 * 1024);
    assert.equal(parseSize(1234), 1234);
    assert.equal(nextRotationAt(Date.parse('2025-05-01T10:15:00Z'), 'hourly'), Date.parse('2025-05-01T11:00:00Z'));
    assert.equal(nextRotationAt(Date.parse('2025-05-01T10:15:00Z'), 'daily'), Date.parse('2025-05-02T00:00:00Z'));
  });
});
