import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import type { InspectedImage } from '../../src/codec/types.ts';
import { listDecisionLogFiles, readDecisionLog } from '../../src/feedback/read-log.ts';
import { FixedQualityPolicy } from '../../src/policy/fixed.ts';
import type { DecisionContext, Policy } from '../../src/policy/types.ts';
import { type FakeUpstream, startFakeUpstream } from '../../testkit/fake-upstream.ts';
import { syntheticJpeg } from '../../testkit/images.ts';
import { startTestProxy, type TestProxy } from '../helpers/proxy.ts';
import { headerOf, rawRequest } from '../helpers/raw-http.ts';
import { startTestRuntime } from '../helpers/runtime.ts';

/**
 * The bad-input suite, clients (issue 11, items 3, 5, 7, 12, 15, 17): clients that send slowly, go away, send more than
 * memory should hold at once, or are still waiting when the proxy shuts down. Raw sockets, real timers.
 */

const rekognitionHead = (length: number) =>
  `POST / HTTP/1.1\nHost: x\nContent-Type: application/x-amz-json-1.1\nX-Amz-Target: RekognitionService.DetectLabels\nContent-Length: ${length}`;
const formHead = (path: string, length: number) =>
  `POST ${path} HTTP/1.1\nHost: x\nContent-Type: application/x-www-form-urlencoded\nContent-Length: ${length}`;

/** A policy that takes its time, counting its decisions: image work the client may abandon half way. */
class SlowPolicy implements Policy {
  readonly id = 'slow';
  decisions = 0;
  readonly #inner = new FixedQualityPolicy(35);
  readonly #ms: number;
  constructor(ms: number) {
    this.#ms = ms;
  }
  async decide(image: InspectedImage, context: DecisionContext) {
    this.decisions++;
    await sleep(this.#ms);
    return this.#inner.decide(image, context);
  }
}

describe('bad input: slow clients', () => {
  let upstream: FakeUpstream;
  let proxy: TestProxy;
  let photoBody: string;

  before(async () => {
    upstream = await startFakeUpstream(() => ({ body: '{"Labels":[]}' }));
    proxy = await startTestProxy(upstream.url, {
      unverifiedSignatures: 'allow',
      clientBodyTimeoutMs: 300,
      clientRequestTimeoutMs: 1500,
      upstreamConnections: 1,
    });
    const photo = await syntheticJpeg({ width: 320, height: 240, quality: 92 });
    photoBody = JSON.stringify({ Image: { Bytes: photo.toString('base64') } });
  });
  after(async () => {
    await proxy.close();
    await upstream.close();
  });

  /** Send the head and the first half of `body`, then nothing more. */
  const stall = (head: string, body: string) =>
    rawRequest(proxy.url, head, { body: body.slice(0, body.length / 2), timeoutMs: 5000 });

  test('Rekognition: a body that stalls is answered 408 in the AWS shape and the connection closed', async () => {
    const started = performance.now();
    const answer = await stall(rekognitionHead(photoBody.length), photoBody);
    assert.equal(answer.status, 408);
    assert.equal(headerOf(answer, 'x-amzn-errortype'), 'RequestTimeoutException');
    assert.equal(JSON.parse(answer.body.toString()).__type, 'RequestTimeoutException');
    assert.equal(headerOf(answer, 'connection'), 'close');
    assert.equal(headerOf(answer, 'x-adacompress'), 'error;reason=client_timeout');
    assert.ok(performance.now() - started < 1400, 'the idle timeout, not the total one, fired');
  });

  test("Face++: a stalled body gets 408 in Face++'s shape", async () => {
    const body = `api_key=k&image_base64=${'A'.repeat(4000)}`;
    const answer = await stall(formHead('/facepp/v3/detect', body.length), body);
    assert.equal(answer.status, 408);
    assert.equal(JSON.parse(answer.body.toString()).error_message, 'REQUEST_TIMEOUT');
  });

  test("Baidu: a stalled body gets 408 in Baidu's shape", async () => {
    const body = `image=${'A'.repeat(4000)}`;
    const answer = await stall(
      formHead('/rest/2.0/image-classify/v2/advanced_general?access_token=t', body.length),
      body,
    );
    assert.equal(answer.status, 408);
    assert.equal(typeof JSON.parse(answer.body.toString()).error_code, 'number');
  });

  test('a stalled pass-through body is cut, and the pooled upstream connection it held serves the next call', async () => {
    const body = `api_key=k&outer_id=${'x'.repeat(4000)}`;
    const answer = await stall(formHead('/facepp/v3/faceset/create', body.length), body);
    assert.equal(answer.status, 408);
    // One upstream connection only: it is free again.
    const res = await request(`${proxy.url}/facepp/v3/faceset/getfacesets`, { method: 'POST', body: 'api_key=k' });
    await res.body.text();
    assert.equal(res.statusCode, 200);
  });

  test('a body trickling a byte at a time, never idle for long, meets the whole-request timeout', async () => {
    const started = performance.now();
    const answer = await rawRequest(proxy.url, rekognitionHead(photoBody.length), {
      timeoutMs: 5000,
      write: async (socket) => {
        for (let i = 0; i < photoBody.length && !socket.destroyed; i++) {
          socket.write(photoBody[i]!);
          await sleep(100);
        }
      },
    });
    assert.equal(answer.status, 408);
    assert.match(JSON.parse(answer.body.toString()).message, /within 1500 ms/);
    assert.ok(performance.now() - started >= 1400);
  });

  test('a slow but steady client within both timeouts is served as usual', async () => {
    const answer = await rawRequest(proxy.url, rekognitionHead(photoBody.length), {
      write: async (socket) => {
        const step = Math.ceil(photoBody.length / 8);
        for (let at = 0; at < photoBody.length; at += step) {
          socket.write(photoBody.slice(at, at + step));
          await sleep(100);
        }
      },
    });
    assert.equal(answer.status, 200);
    assert.match(String(headerOf(answer, 'x-adacompress')), /^q=35/);
  });
});

describe('bad input: a slow upstream is not the client being slow', () => {
  let server: Server;
  let proxy: TestProxy;

  before(async () => {
    // Reads each body only after 800 ms: the proxy stops reading the client meanwhile (backpressure).
    server = createServer((req, res) => {
      setTimeout(() => {
        req.resume();
        req.on('end', () => res.end('{}'));
      }, 800);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy = await startTestProxy(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, {
      clientBodyTimeoutMs: 300,
      clientRequestTimeoutMs: 5000,
    });
  });
  after(async () => {
    await proxy.close();
    server.closeAllConnections();
    server.close();
  });

  test('a pass-through body held up by the upstream (paused socket) is never timed out', async () => {
    const body = Buffer.alloc(8 * 1024 * 1024, 'a');
    const res = await request(`${proxy.url}/facepp/v3/faceset/create`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body,
    });
    await res.body.text();
    assert.equal(res.statusCode, 200);
  });
});

describe('bad input: clients that go away', () => {
  let upstream: FakeUpstream;
  let slowUpstream: Server;
  let slowClosedEarly: boolean[];
  let proxy: TestProxy;
  let toSlowUpstream: TestProxy;
  let policy: SlowPolicy;
  let body: string;

  before(async () => {
    upstream = await startFakeUpstream(() => ({ body: '{"Labels":[]}' }));
    policy = new SlowPolicy(400);
    proxy = await startTestProxy(upstream.url, { unverifiedSignatures: 'allow', imageConcurrency: 1 }, { policy });
    slowClosedEarly = [];
    slowUpstream = createServer((req: IncomingMessage, res) => {
      req.resume();
      res.on('close', () => slowClosedEarly.push(!res.writableEnded));
      setTimeout(() => res.end('{}'), 1500);
    });
    await new Promise<void>((resolve) => slowUpstream.listen(0, '127.0.0.1', resolve));
    toSlowUpstream = await startTestProxy(`http://127.0.0.1:${(slowUpstream.address() as AddressInfo).port}`, {
      unverifiedSignatures: 'allow',
    });
    const photo = await syntheticJpeg({ width: 320, height: 240, quality: 92 });
    body = JSON.stringify({ Image: { Bytes: photo.toString('base64') } });
  });
  after(async () => {
    await proxy.close();
    await toSlowUpstream.close();
    await upstream.close();
    slowUpstream.closeAllConnections();
    slowUpstream.close();
  });

  /** Send the whole request, then hang up after `ms`. */
  const abandon = (url: string, ms: number) =>
    rawRequest(url, rekognitionHead(body.length), {
      body,
      timeoutMs: 3000,
      write: async (socket) => {
        await sleep(ms);
        socket.destroy();
      },
    }).catch(() => undefined);

  test('a client gone during the image work: the image is not encoded and nothing goes upstream', async () => {
    const before = upstream.received.length;
    await abandon(proxy.url, 100);
    await sleep(700);
    assert.equal(upstream.received.length, before, 'no upstream call for a client that left');
    assert.ok(proxy.logs.lines.some((l) => l.msg === 'client went away'));
  });

  test('a client gone while its image waited for a slot: its work never starts', async () => {
    const before = policy.decisions;
    const first = request(proxy.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'RekognitionService.DetectLabels' },
      body,
    });
    await sleep(50);
    await abandon(proxy.url, 100); // queued behind the first, then gone
    assert.equal((await first).statusCode, 200);
    await sleep(500);
    assert.equal(policy.decisions - before, 1, 'only the first image was decided');
  });

  test('a client gone during the upstream call: the upstream request is closed, not left to finish', async () => {
    await abandon(toSlowUpstream.url, 300);
    await sleep(300);
    assert.deepEqual(slowClosedEarly, [true]);
  });
});

describe('bad input: bodies held in memory at once', () => {
  let upstream: FakeUpstream;
  let proxy: TestProxy;
  let photoBase64: string;

  before(async () => {
    upstream = await startFakeUpstream(() => ({ body: '{"faces":[]}' }));
    proxy = await startTestProxy(upstream.url, {
      unverifiedSignatures: 'allow',
      maxBufferedBytes: 100_000,
      bufferWaitMs: 300,
      clientBodyTimeoutMs: 5000,
    });
    photoBase64 = (await syntheticJpeg({ width: 320, height: 240, quality: 92 })).toString('base64');
  });
  after(async () => {
    await proxy.close();
    await upstream.close();
  });

  /** A client that announces 90 KB and sends a third of it, holding its share of the budget until it finishes. */
  function holdBudget(finishAfterMs: number) {
    const body = `api_key=k&image_base64=${'A'.repeat(90_000)}`;
    return rawRequest(proxy.url, formHead('/facepp/v3/detect', body.length), {
      body: body.slice(0, 30_000),
      write: async (socket) => {
        await sleep(finishAfterMs);
        socket.write(body.slice(30_000));
      },
    });
  }

  test('past --max-buffered-bytes a Face++ body waits, then streams through as sent (reason=memory)', async () => {
    const holder = holdBudget(800);
    await sleep(50);
    const body = `api_key=k&image_base64=${encodeURIComponent(photoBase64)}`;
    const res = await request(`${proxy.url}/facepp/v3/detect`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });
    await res.body.text();
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['x-adacompress'], 'original;reason=memory');
    assert.equal(upstream.last()!.body.toString(), body);
    assert.equal((await holder).status, 200);
  });

  test('past --max-buffered-bytes a Rekognition body (signed over the whole body) gets 503 in the AWS shape', async () => {
    const holder = holdBudget(800);
    await sleep(50);
    const res = await request(proxy.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'RekognitionService.DetectLabels' },
      // 8 MB: more than socket buffers hold, so most of it is still unread when the answer goes.
      body: JSON.stringify({ Image: { Bytes: photoBase64 }, Pad: 'x'.repeat(8 * 1024 * 1024) }),
    });
    const text = await res.body.text();
    assert.equal(res.statusCode, 503);
    assert.equal(res.headers['x-amzn-errortype'], 'ServiceUnavailableException');
    assert.match(text, /too many request bodies/);
    assert.equal(res.headers.connection, 'close', 'its unread body is not read just to be thrown away');
    await holder;
  });

  test('a body that finds room within the wait is buffered and re-encoded as usual', async () => {
    const holder = holdBudget(100);
    await sleep(30);
    const res = await request(`${proxy.url}/facepp/v3/detect`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `api_key=k&image_base64=${encodeURIComponent(photoBase64)}`,
    });
    await res.body.text();
    assert.match(String(res.headers['x-adacompress']), /^q=35/);
    await holder;
    assert.equal(proxy.context.bodyBudget.held, 0, 'every share given back');
  });
});

describe('bad input: decision ids and shutdown', () => {
  test("a client's x-request-id over 128 characters, or repeated, never costs a decision", async () => {
    const upstream = await startFakeUpstream(() => ({ body: '{"Labels":[{"Name":"Dog","Confidence":90}]}' }));
    const proxy = await startTestRuntime(upstream.url, { referenceProbability: 0 });
    try {
      const photo = await syntheticJpeg({ width: 320, height: 240, quality: 92 });
      const body = JSON.stringify({ Image: { Bytes: photo.toString('base64') } });
      const ids = ['x'.repeat(300), 'mesh-retry-1', 'mesh-retry-1'];
      for (const id of ids) {
        const res = await request(proxy.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-amz-json-1.1',
            'x-amz-target': 'RekognitionService.DetectLabels',
            'x-request-id': id,
          },
          body,
        });
        await res.body.text();
        assert.equal(res.statusCode, 200);
      }
      await proxy.runtime.shutdown();
      const decisions = (await proxy.logLines()).filter((l) => l.type === 'decision');
      assert.equal(decisions.length, 3);
      assert.equal(new Set(decisions.map((d) => d.id)).size, 3, 'ids are the proxy own, all distinct');
      assert.deepEqual(
        decisions.map((d) => (d as { clientRequestId?: string }).clientRequestId),
        ['x'.repeat(128), 'mesh-retry-1', 'mesh-retry-1'],
      );
      const read = [];
      const issues: string[] = [];
      const files = await listDecisionLogFiles(proxy.runtime.config.decisionLog);
      for await (const entry of readDecisionLog(files, { onIssue: (issue) => issues.push(issue.code) }))
        read.push(entry);
      assert.equal(read.length, 3, 'the reader keeps all three');
      assert.deepEqual(issues, []);
    } finally {
      await proxy.close();
      await upstream.close();
    }
  });

  test('shutdown: a client still waiting when the grace runs out gets 503 in its API shape, within the grace', async () => {
    const server = createServer((req) => req.resume()); // never answers
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const proxy = await startTestRuntime(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, {
      shutdownGraceMs: 600,
    });
    try {
      const waiting = request(`${proxy.url}/facepp/v3/faceset/getfacesets`, { method: 'POST', body: 'api_key=k' });
      const stalled = rawRequest(proxy.url, formHead('/facepp/v3/detect', 10_000), {
        body: 'api_key=k&image_base64=A',
      });
      await sleep(100);
      const started = performance.now();
      await proxy.runtime.shutdown();
      const took = performance.now() - started;
      const res = await waiting;
      const text = await res.body.text();
      assert.equal(res.statusCode, 503);
      assert.equal(res.headers['x-adacompress'], 'error;reason=shutting_down');
      assert.equal(JSON.parse(text).error_message, 'INTERNAL_ERROR');
      const stalledAnswer = await stalled;
      assert.equal(stalledAnswer.status, 503);
      assert.ok(took < 2 * 600, `shutdown took ${Math.round(took)} ms, under twice the grace`);
    } finally {
      await proxy.close();
      server.closeAllConnections();
      server.close();
    }
  });
});
