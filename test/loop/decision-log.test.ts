import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DetectLabelsCommand, RekognitionClient } from '@aws-sdk/client-rekognition';
import sharp from 'sharp';
import { request } from 'undici';
import { verifySigV4 } from '../../src/aws/sigv4.ts';
import { type FakeUpstream, type RecordedRequest, startFakeUpstream } from '../../testkit/fake-upstream.ts';
import { syntheticJpeg } from '../../testkit/images.ts';
import { CLIENT_CREDENTIALS, PROXY_CREDENTIALS } from '../helpers/proxy.ts';
import { startTestRuntime } from '../helpers/runtime.ts';

const labels = {
  Labels: [
    { Name: 'Dog', Confidence: 95 },
    { Name: 'Animal', Confidence: 90 },
  ],
};

async function signedByProxy(request: RecordedRequest) {
  return (
    await verifySigV4(request, (k) =>
      k === PROXY_CREDENTIALS.accessKeyId ? PROXY_CREDENTIALS.secretAccessKey : undefined,
    )
  ).ok;
}

describe('decision log and reference uploads', () => {
  let upstream: FakeUpstream;
  let photo: Buffer;

  before(async () => {
    upstream = await startFakeUpstream(async (r) =>
      (await signedByProxy(r))
        ? { body: JSON.stringify(labels) }
        : { status: 403, body: '{"__type":"InvalidSignatureException"}' },
    );
    photo = await syntheticJpeg({ width: 480, height: 360, quality: 95 });
  });
  after(() => upstream.close());

  test('every decision is logged with features, propensity and the answer; references are logged against it', async () => {
    // Calibration and exploration off: from its safe start the proxy may send this photo as it is, and then the
    // reference (the client's original, the default) is (rightly) reused instead of sent. At its trained level the
    // policy sends less, so every reference goes upstream.
    const proxy = await startTestRuntime(upstream.url, {
      referenceProbability: 1,
      referenceBudgetPerMinute: 100,
      calibration: false,
      policyEpsilon: 0,
    });
    const client = new RekognitionClient({ endpoint: proxy.url, region: 'us-east-1', credentials: CLIENT_CREDENTIALS });
    try {
      const before = upstream.received.length;
      for (let i = 0; i < 4; i++) await client.send(new DetectLabelsCommand({ Image: { Bytes: photo } }));
      await proxy.runtime.loop.drain(5000);
      await proxy.runtime.shutdown(); // flushes the log
      const lines = await proxy.logLines();
      const decisions = lines.filter((l) => l.type === 'decision');
      const references = lines.filter((l) => l.type === 'reference');
      assert.equal(decisions.length, 4);
      assert.equal(references.length, 4);
      for (const d of decisions) {
        assert.equal(d.provider, 'rekognition');
        assert.equal(d.operation, 'DetectLabels');
        assert.ok(d.propensity > 0 && d.propensity <= 1);
        assert.ok(d.features && d.features.values.length > 0, 'features the policy saw are logged');
        assert.deepEqual(
          d.answer?.labels.map((l) => l.name),
          ['Dog', 'Animal'],
        );
        assert.ok(d.bytesSent < d.original.bytes);
        assert.equal(d.reference?.requested, true);
        const ref = references.find((r) => r.decisionId === d.id);
        assert.ok(ref, 'its reference line');
        assert.equal(ref.kind, 'original');
        assert.deepEqual(
          ref.answer?.labels.map((l) => l.name),
          ['Dog', 'Animal'],
        );
      }
      // The reference upload really went upstream: the client's own bytes, signed by the proxy, off the client's path.
      const sent = upstream.received.slice(before);
      assert.equal(sent.length, 8);
      const images = sent.map((r) => Buffer.from(JSON.parse(r.body.toString()).Image.Bytes, 'base64'));
      assert.equal(images.filter((image) => image.equals(photo)).length, 4);
      const raw = proxy.logs.raw.join('\n');
      assert.ok(!raw.includes(CLIENT_CREDENTIALS.secretAccessKey) && !raw.includes(PROXY_CREDENTIALS.secretAccessKey));
    } finally {
      client.destroy();
      await proxy.close();
    }
  });

  test('the reference budget is never exceeded under concurrent load', async () => {
    // A fixed quality 35: no upload is the q75 reference itself, so every granted reference is sent, none reused.
    const proxy = await startTestRuntime(upstream.url, {
      policyModels: '',
      quality: 35,
      referenceProbability: 1,
      referenceBudgetPerMinute: 5,
    });
    const client = new RekognitionClient({ endpoint: proxy.url, region: 'us-east-1', credentials: CLIENT_CREDENTIALS });
    try {
      const before = upstream.received.length;
      const images = await Promise.all(
        Array.from({ length: 6 }, (_, i) => syntheticJpeg({ width: 200 + i * 10, height: 150 })),
      );
      await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          client.send(new DetectLabelsCommand({ Image: { Bytes: images[i % images.length]! } })),
        ),
      );
      await proxy.runtime.loop.drain(5000);
      assert.equal(upstream.received.length - before, 45, '40 client calls + exactly 5 references');
      const metrics = await (await request(`${proxy.adminUrl}/metrics`)).body.text();
      assert.match(metrics, /adacompress_reference_uploads_total\{provider="rekognition",result="sent"\} 5/);
      assert.match(metrics, /adacompress_reference_sampler\{result="refused_budget"\} 35/);
    } finally {
      client.destroy();
      await proxy.close();
    }
  });

  test('a reference of the very bytes that were sent reuses the answer instead of paying twice', async () => {
    // The paper's reference and quality 75 everywhere: what is sent is exactly the q75 reference.
    const proxy = await startTestRuntime(upstream.url, {
      policyModels: '',
      quality: 75,
      referenceProbability: 1,
      referenceKind: 'q75',
    });
    const client = new RekognitionClient({ endpoint: proxy.url, region: 'us-east-1', credentials: CLIENT_CREDENTIALS });
    try {
      const before = upstream.received.length;
      await client.send(new DetectLabelsCommand({ Image: { Bytes: photo } }));
      await proxy.runtime.loop.drain(5000);
      assert.equal(upstream.received.length - before, 1);
      const metrics = await (await request(`${proxy.adminUrl}/metrics`)).body.text();
      assert.match(metrics, /adacompress_reference_uploads_total\{provider="rekognition",result="reused"\} 1/);
      const meta = await sharp(
        Buffer.from(JSON.parse(upstream.last()!.body.toString()).Image.Bytes, 'base64'),
      ).metadata();
      assert.equal(meta.width, 480);
    } finally {
      client.destroy();
      await proxy.close();
    }
  });
});

describe('reference uploads for APIs that authenticate in the request', () => {
  test('Face++: the reference goes with the client own api_key/api_secret, the other fields intact', async () => {
    const upstream = await startFakeUpstream(() => ({
      body: JSON.stringify({ request_id: 'r', scenes: [], objects: [{ value: 'dog', confidence: 88 }] }),
    }));
    // A fixed quality 35 (not a shipped model, whose choice may be q75 itself, and then the reference is reused).
    const proxy = await startTestRuntime(upstream.url, { policyModels: '', quality: 35, referenceProbability: 1 });
    try {
      const photo = await syntheticJpeg({ width: 400, height: 300, quality: 95 });
      // The body exactly as `curl -F` frames it.
      const boundary = '------------------------4f1c8a2e9b7d3c60';
      const field = (name: string, value: string) =>
        `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
      const body = Buffer.concat([
        Buffer.from(field('api_key', 'client-key') + field('api_secret', 'client-secret')),
        Buffer.from(
          `--${boundary}\r\nContent-Disposition: form-data; name="image_file"; filename="photo.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`,
        ),
        photo,
        Buffer.from(`\r\n--${boundary}--\r\n`),
      ]);
      const res = await request(`${proxy.url}/imagepp/beta/detectsceneandobject`, {
        method: 'POST',
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
        body,
      });
      assert.equal(res.statusCode, 200);
      await res.body.text();
      await proxy.runtime.loop.drain(5000);
      assert.equal(upstream.received.length, 2, 'the call and its reference');
      const [call, reference] = upstream.received.map((r) => r.body.toString('latin1'));
      for (const body of [call!, reference!]) {
        assert.match(body, /name="api_key"\r\n\r\nclient-key\r\n/);
        assert.match(body, /name="api_secret"\r\n\r\nclient-secret\r\n/);
        assert.match(body, /filename="photo.jpg"/);
      }
      assert.ok(reference!.length > call!.length, 'the reference (the original) is larger than what the policy sent');
      await proxy.runtime.shutdown();
      const lines = await proxy.logLines();
      assert.deepEqual(
        lines.map((l) => l.type),
        ['decision', 'reference'],
      );
      const raw = lines.map((l) => JSON.stringify(l)).join('\n');
      assert.ok(!raw.includes('client-secret') && !raw.includes('client-key'), 'no credential in the decision log');
    } finally {
      await proxy.close();
      await upstream.close();
    }
  });
});
