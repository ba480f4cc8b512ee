import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { request } from 'undici';
import { spawnProxy } from '../../bench/lib/processes.ts';
import { burst, largeBodies } from '../../bench/suites/bodies-in-flight.ts';
import { syntheticJpeg } from '../../testkit/images.ts';
import { startSinkUpstream } from '../../testkit/sink-upstream.ts';

const MB = 1024 * 1024;

/**
 * Memory bounds, measured from outside on a proxy process of its own (/proc/PID/status VmHWM): a 64 MB upstream answer
 * (issue 11, item 16) and 64 concurrent 9.9 MB uploads (item 17). bench/suites/bodies-in-flight.ts has the figures
 * with and without the bound.
 */

test('a 64 MB upstream answer streams to the client whole; the proxy never holds it (RSS grows < 64 MB)', async () => {
  const chunk = Buffer.alloc(MB, 'a');
  let large = true;
  const upstream = await startSinkUpstream((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    Readable.from(Array.from({ length: large ? 64 : 0 }, () => chunk)).pipe(res);
  });
  const proxy = await spawnProxy({
    ADACOMPRESS_FACEPP_ENDPOINT: upstream.url,
    ADACOMPRESS_REFERENCE_PROBABILITY: '0',
    ADACOMPRESS_MAX_RESPONSE_BYTES: String(4 * MB),
  });
  try {
    const photo = await syntheticJpeg({ width: 320, height: 240, quality: 92 });
    const detect = () =>
      request(`${proxy.url}/facepp/v3/detect`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `api_key=k&image_base64=${encodeURIComponent(photo.toString('base64'))}`,
      });
    // A first call with a small answer warms the image pipeline (libvips, the policy model) up.
    large = false;
    await (await detect()).body.dump();
    large = true;
    const idle = proxy.memory().hwm;
    const res = await detect();
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const part of res.body) {
      hash.update(part as Buffer);
      bytes += (part as Buffer).length;
    }
    assert.equal(res.statusCode, 200);
    assert.equal(bytes, 64 * MB);
    const expected = createHash('sha256');
    for (let i = 0; i < 64; i++) expected.update(chunk);
    assert.equal(hash.digest('hex'), expected.digest('hex'), 'every byte, in order');
    const growth = (proxy.memory().hwm - idle) / MB;
    // Buffered whole it would be 64 MB plus its copy; streamed, what grows is garbage awaiting the collector.
    assert.ok(growth < 64, `RSS grew ${growth.toFixed(0)} MB for a 64 MB answer`);
  } finally {
    await proxy.stop();
    await upstream.close();
  }
});

test('64 concurrent 9.9 MB uploads: RSS bounded by --max-buffered-bytes, each answered (200, or 503 in the AWS shape)', async () => {
  const upstream = await startSinkUpstream();
  const proxy = await spawnProxy({
    ADACOMPRESS_REKOGNITION_ENDPOINT: upstream.url,
    ADACOMPRESS_UNVERIFIED_SIGNATURES: 'allow',
    ADACOMPRESS_REFERENCE_PROBABILITY: '0',
  });
  try {
    const idle = proxy.memory().rss;
    const statuses = await burst(proxy.url, largeBodies()[0]!, 64);
    assert.deepEqual(
      [...statuses.keys()].filter((s) => s !== 200 && s !== 503),
      [],
      'every upload answered: re-signed and forwarded, or told to retry',
    );
    // 12 bodies of 9.9 MB fit 128 MiB at once: at least those are never refused, however slow the machine.
    assert.ok((statuses.get(200) ?? 0) >= 12, `only ${statuses.get(200)} of 64 forwarded`);
    const growth = (proxy.memory().hwm - idle) / MB;
    // Unbounded, the same burst grew RSS by about 1.1 GB (the bench); bounded, about 2.5 x 128 MiB.
    assert.ok(growth < 450, `RSS grew ${growth.toFixed(0)} MB with 634 MB in flight`);
  } finally {
    await proxy.stop();
    await upstream.close();
  }
});
