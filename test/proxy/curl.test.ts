import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { verifySigV4 } from '../../src/aws/sigv4.ts';
import { type FakeUpstream, startFakeUpstream } from '../../testkit/fake-upstream.ts';
import { CLIENT_CREDENTIALS, PROXY_CREDENTIALS, startTestProxy, type TestProxy } from '../helpers/proxy.ts';

const run = promisify(execFile);

/**
 * The README's own commands with real curl (issue 11, items 1 and 3): curl asks `Expect: 100-continue` for every body
 * over 1 MB, so a phone photo through `curl -F` (or `--aws-sigv4`) must work; and a curl sending too slowly gets the
 * API's own error rather than holding its connection for ever.
 */
describe('curl through the proxy', () => {
  let upstream: FakeUpstream;
  let proxy: TestProxy;
  let slowProxy: TestProxy;
  let dir: string;
  let photoPath: string;
  let photo: Buffer;

  before(async () => {
    // The fake AWS checks the proxy's signature like the real service; the others answer whatever came.
    upstream = await startFakeUpstream(async (request) => {
      if (request.headers['x-amz-target']) {
        const verdict = await verifySigV4(request, (key) =>
          key === PROXY_CREDENTIALS.accessKeyId ? PROXY_CREDENTIALS.secretAccessKey : undefined,
        );
        if (!verdict.ok) return { status: 403, body: JSON.stringify({ __type: 'InvalidSignatureException' }) };
        return { body: '{"Labels":[]}' };
      }
      return { body: '{"faces":[],"face_num":0}' };
    });
    proxy = await startTestProxy(upstream.url);
    slowProxy = await startTestProxy(upstream.url, { clientBodyTimeoutMs: 500, clientRequestTimeoutMs: 1500 });
    dir = await mkdtemp(path.join(tmpdir(), 'curl-'));
    // A phone-sized photo: noisy, so it stays over 1 MB as a JPEG.
    photo = await sharp({
      create: {
        width: 1600,
        height: 1200,
        channels: 3,
        background: 'grey',
        noise: { type: 'gaussian', mean: 128, sigma: 50 },
      },
    })
      .jpeg({ quality: 95 })
      .toBuffer();
    assert.ok(photo.length > 1024 * 1024, `${photo.length} bytes: over curl's 1 MB Expect threshold`);
    photoPath = path.join(dir, 'phone photo.jpg');
    await writeFile(photoPath, photo);
  });
  after(async () => {
    await proxy.close();
    await slowProxy.close();
    await upstream.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** curl's verbose trace and the response it printed. */
  async function curl(args: string[]) {
    const { stdout, stderr } = await run('curl', ['-sS', '-v', '-D', '-', '-o', '/dev/null', ...args]).catch(
      (error: { stdout: string; stderr: string }) => error,
    );
    return { head: stdout, trace: stderr };
  }

  test('curl -F image_file=@photo.jpg (over 1 MB): curl asks 100-continue, gets it, and the image shrinks', async () => {
    const { head, trace } = await curl([
      '-F',
      'api_key=KEY',
      '-F',
      'api_secret=SECRET',
      '-F',
      `image_file=@${photoPath}`,
      `${proxy.url}/facepp/v3/detect`,
    ]);
    assert.match(trace, /> Expect: 100-continue/i, 'curl asked');
    assert.match(head, /^HTTP\/1\.1 100 Continue/m);
    assert.match(head, /^HTTP\/1\.1 200 OK/m);
    assert.match(head, /x-adacompress: q=35;saved=\d+%/i);
    const forwarded = upstream.last()!;
    assert.equal(forwarded.headers.expect, undefined, 'Expect is not forwarded');
    assert.ok(forwarded.body.length < photo.length);
  });

  test('curl --data-binary of 1.5 MB on a pass-through route streams through after the 100', async () => {
    const file = path.join(dir, 'faceset.bin');
    await writeFile(file, Buffer.alloc(1536 * 1024, 'f'));
    const { head, trace } = await curl([
      '-H',
      'content-type: application/octet-stream',
      '--data-binary',
      `@${file}`,
      `${proxy.url}/facepp/v3/faceset/create`,
    ]);
    assert.match(trace, /> Expect: 100-continue/i);
    assert.match(head, /^HTTP\/1\.1 200 OK/m);
    assert.match(head, /x-adacompress: passthrough/i);
    assert.equal(upstream.last()!.body.length, 1536 * 1024);
  });

  test('curl --aws-sigv4 of a DetectLabels body over 1 MB: verified, re-signed by the proxy, accepted', async () => {
    const file = path.join(dir, 'detect.json');
    await writeFile(file, JSON.stringify({ Image: { Bytes: photo.toString('base64') }, MaxLabels: 5 }));
    const { head, trace } = await curl([
      '--aws-sigv4',
      'aws:amz:us-east-1:rekognition',
      '--user',
      `${CLIENT_CREDENTIALS.accessKeyId}:${CLIENT_CREDENTIALS.secretAccessKey}`,
      '-H',
      'content-type: application/x-amz-json-1.1',
      '-H',
      'x-amz-target: RekognitionService.DetectLabels',
      '--data-binary',
      `@${file}`,
      `${proxy.url}/`,
    ]);
    assert.match(trace, /> Expect: 100-continue/i);
    assert.match(head, /^HTTP\/1\.1 200 OK/m);
    assert.match(head, /x-adacompress: q=35;saved=\d+%/i);
    assert.match(String(upstream.last()!.headers.authorization), /Credential=AKIDPROXY\//);
  });

  test('curl --limit-rate too slow for the request timeout gets 408 in the API shape', async () => {
    const file = path.join(dir, 'slow.txt');
    await writeFile(file, `api_key=k&image_base64=${'A'.repeat(20_000)}`);
    const started = performance.now();
    const { head } = await curl([
      '--limit-rate',
      '4K',
      '-H',
      'content-type: application/x-www-form-urlencoded',
      '--data-binary',
      `@${file}`,
      `${slowProxy.url}/facepp/v3/detect`,
    ]);
    assert.match(head, /^HTTP\/1\.1 408/m);
    assert.match(head, /x-adacompress: error;reason=client_timeout/i);
    assert.ok(performance.now() - started < 4000, 'cut at the request timeout, not at the end of the upload');
  });
});
