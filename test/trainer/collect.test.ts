import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { ApiClient } from '../../src/trainer/api-client.ts';
import { type CollectConfig, collect } from '../../src/trainer/collect.ts';
import { COLLECT_SCHEMA_VERSION, contentHash, readRecords, recordFileName } from '../../src/trainer/data.ts';
import { buildDataset } from '../../src/trainer/dataset.ts';
import { syntheticJpeg } from '../codec/images.ts';

const KEY = 'rekognition/DetectLabels';
const dirs: string[] = [];
const scratch = async (name: string) => {
  const dir = await mkdtemp(join(tmpdir(), `collect-${name}-`));
  dirs.push(dir);
  return dir;
};
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** An API that answers every upload and counts the calls. */
function countingClient() {
  const client: ApiClient & { calls: number } = {
    calls: 0,
    async call() {
      client.calls++;
      return { status: 200, answer: { labels: [{ name: 'cat', score: 0.9 }], faces: [] } };
    },
    close: async () => {},
  };
  return client;
}

const configFor = (images: string, out: string): CollectConfig => ({
  images,
  out,
  apis: [KEY],
  split: 'all',
  limit: 0,
  concurrency: 2,
  target: 'emulator',
  budget: 0,
  emulatorWorkers: 0,
  maxInputPixels: 1e7,
});

const dataFile = (out: string) => join(out, recordFileName(KEY));

describe('collect keys images by content, not by name', () => {
  it('two folders with the same file names into one --out: both are collected, names kept for reports', async () => {
    const first = await scratch('a');
    const second = await scratch('b');
    const out = await scratch('out');
    for (let i = 0; i < 2; i++) {
      await writeFile(join(first, `p${i}.jpg`), await syntheticJpeg(120, 90, 90, i + 1));
      await writeFile(join(second, `p${i}.jpg`), await syntheticJpeg(120, 90, 90, i + 10));
    }
    const client = countingClient();
    assert.equal((await collect(configFor(first, out), client)).images, 2);
    const again = await collect(configFor(second, out), client);
    assert.equal(again.images, 2, 'the second folder is new data, not "done"');
    assert.equal(again.skipped, 0);
    const records = await readRecords(dataFile(out));
    assert.equal(records.length, 4);
    assert.deepEqual(records.map((r) => r.image).sort(), ['p0.jpg', 'p0.jpg', 'p1.jpg', 'p1.jpg']);
    assert.equal(new Set(records.map((r) => r.hash)).size, 4);
    // The same folder again: everything done, nothing sent.
    const calls = client.calls;
    assert.equal((await collect(configFor(first, out), client)).skipped, 2);
    assert.equal(client.calls, calls);
  });

  it('a changed file of the same name is collected again; the record carries its content hash', async () => {
    const images = await scratch('img');
    const out = await scratch('out');
    await writeFile(join(images, 'photo.jpg'), await syntheticJpeg(120, 90, 90, 1));
    const client = countingClient();
    await collect(configFor(images, out), client);
    const changed = await syntheticJpeg(120, 90, 60, 2);
    await writeFile(join(images, 'photo.jpg'), changed);
    const second = await collect(configFor(images, out), client);
    assert.equal(second.images, 1);
    assert.equal(second.skipped, 0);
    const records = await readRecords(dataFile(out));
    assert.equal(records.length, 2);
    assert.ok(records.some((r) => r.hash === contentHash(changed)));
  });

  it('older records keyed by name still read, and count as done while the file keeps its size', async () => {
    const images = await scratch('img');
    const out = await scratch('out');
    const photo = await syntheticJpeg(120, 90, 90, 3);
    await writeFile(join(images, 'old.jpg'), photo);
    await writeFile(join(images, 'new.jpg'), await syntheticJpeg(120, 90, 90, 4));
    const client = countingClient();
    await collect(configFor(images, out), client);
    // Rewrite the file as an older version wrote it: the same lines without `hash`.
    const lines = (await readFile(dataFile(out), 'utf8')).trim().split('\n');
    const legacy = lines.map((l) => JSON.parse(l)).filter((r) => r.image === 'old.jpg');
    for (const r of legacy) delete r.hash;
    await writeFile(dataFile(out), `${legacy.map((r) => JSON.stringify(r)).join('\n')}\n`);
    assert.deepEqual(
      (await readRecords(dataFile(out))).map((r) => [r.image, r.hash]),
      [['old.jpg', undefined]],
    );
    const calls = client.calls;
    const resumed = await collect(configFor(images, out), client);
    assert.equal(resumed.skipped, 1, 'old.jpg (same name and size) is done');
    assert.equal(resumed.images, 1, 'new.jpg is collected');
    assert.equal(client.calls - calls, 10);
  });
});

describe('collect skips what it cannot read, and says so', () => {
  it('a truncated JPEG and a FIFO named like an image are listed by name; every other image is collected', async () => {
    const images = await scratch('img');
    const out = await scratch('out');
    for (let i = 0; i < 4; i++) await writeFile(join(images, `p${i}.jpg`), await syntheticJpeg(160, 120, 90, i + 1));
    const whole = await syntheticJpeg(160, 120, 90, 9);
    await writeFile(join(images, 'cut.jpg'), whole.subarray(0, Math.floor(whole.length / 2)));
    await appendFile(join(images, 'notes.jpg'), 'not an image at all');
    execFileSync('mkfifo', [join(images, 'pipe.jpg')]);
    const client = countingClient();
    const summary = await collect(configFor(images, out), client);
    assert.equal(summary.images, 4);
    assert.deepEqual(summary.unreadable.map((u) => u.image).sort(), ['cut.jpg', 'notes.jpg', 'pipe.jpg']);
    assert.match(summary.unreadable.find((u) => u.image === 'cut.jpg')!.reason, /truncated/);
    assert.match(summary.unreadable.find((u) => u.image === 'pipe.jpg')!.reason, /not a regular file/);
    assert.equal(client.calls, 40, 'nothing of an unreadable image is sent');
    assert.equal((await readRecords(dataFile(out))).length, 4);
  });

  it('reports each image as it finishes, unreadable ones included', async () => {
    const images = await scratch('img');
    const out = await scratch('out');
    await writeFile(join(images, 'a.jpg'), await syntheticJpeg(160, 120, 90, 1));
    await writeFile(join(images, 'b.jpg'), 'broken');
    const notes: string[] = [];
    let total = 0;
    await collect(configFor(images, out), countingClient(), undefined, {
      start: (n) => {
        total = n;
      },
      tick: (note) => notes.push(note),
    });
    assert.equal(total, 2);
    assert.deepEqual(notes.sort(), ['a.jpg, 10 calls, 0 failed', 'b.jpg: unreadable']);
  });
});

describe('the collect format is versioned', () => {
  const v1Line = (image: string, bytes: number) => ({
    v: 1,
    key: KEY,
    image,
    split: 'train',
    original: { bytes, width: 120, height: 90, format: 'jpeg' },
    features: { version: 2, values: new Array(12).fill(0) },
    outcomes: [5, 15, 25, 35, 45, 55, 65, 75, 85, 95].map((quality) => ({
      quality,
      bytes: 100 * quality,
      status: 200,
      answer: { labels: [{ name: quality >= 25 ? 'cat' : 'blur', score: 0.9 }], faces: [] },
    })),
  });

  it('version 1 lines (qualities at the stored size) read as a grid of those qualities', async () => {
    const out = await scratch('out');
    await writeFile(dataFile(out), `${JSON.stringify(v1Line('old.jpg', 5000))}\n`);
    const [record] = await readRecords(dataFile(out));
    assert.equal(record!.v, 1);
    assert.deepEqual(
      record!.grid.map((a) => a.quality),
      [5, 15, 25, 35, 45, 55, 65, 75, 85, 95],
    );
    assert.ok(record!.grid.every((a) => a.maxSide === undefined));
    const dataset = buildDataset(KEY, [record!], 'q75');
    assert.deepEqual(dataset.rows[0]!.accuracy, [0, 0, 1, 1, 1, 1, 1, 1, 1, 1]);
    assert.equal(dataset.rows[0]!.ratio[7], 1, 'the reference is q75');
  });

  it('collect sweeps an image of a version 1 line again; the new line replaces the old one in the data', async () => {
    const images = await scratch('img');
    const out = await scratch('out');
    const photo = await syntheticJpeg(120, 90, 90, 3);
    await writeFile(join(images, 'old.jpg'), photo);
    await writeFile(
      dataFile(out),
      `${JSON.stringify({ ...v1Line('old.jpg', photo.length), hash: contentHash(photo) })}\n`,
    );
    const client = countingClient();
    const summary = await collect(configFor(images, out), client);
    assert.equal(summary.skipped, 0, 'a version 1 line lacks the grid: not done');
    assert.equal(client.calls, 10);
    const records = await readRecords(dataFile(out));
    assert.equal(records.length, 1);
    assert.equal(records[0]!.v, COLLECT_SCHEMA_VERSION);
    // Mixed files (some images not collected again yet): the newest schema is used, the rest counted as stale.
    await appendFile(dataFile(out), `${JSON.stringify(v1Line('other.jpg', 4000))}\n`);
    const dataset = buildDataset(KEY, await readRecords(dataFile(out)));
    assert.equal(dataset.rows.length, 1);
    assert.equal(dataset.stale, 1);
  });

  it('a line of a newer version than the code is refused, naming the file', async () => {
    const out = await scratch('out');
    await writeFile(dataFile(out), `${JSON.stringify({ ...v1Line('x.jpg', 1), v: COLLECT_SCHEMA_VERSION + 1 })}\n`);
    await assert.rejects(readRecords(dataFile(out)), (error: Error) => {
      assert.match(error.message, new RegExp(`schema v${COLLECT_SCHEMA_VERSION + 1} is newer`));
      assert.ok(error.message.includes(dataFile(out)));
      return true;
    });
  });
});
