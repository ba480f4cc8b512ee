import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { type FakeUpstream, type RecordedRequest, startFakeUpstream } from '../../testkit/fake-upstream.ts';
import { syntheticJpeg } from '../../testkit/images.ts';
import { startTestProxy, type TestProxy } from '../helpers/proxy.ts';

const run = promisify(execFile);

/** Split a multipart body into its raw parts (headers and content, exactly as on the wire). */
function rawParts(request: RecordedRequest): { name: string; head: string; content: Buffer }[] {
  const boundary = /boundary=("?)([^";]+)\1/.exec(String(request.headers['content-type']))![2]!;
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  const body = Buffer.concat([Buffer.from('\r\n'), request.body]);
  const parts = [];
  let start = body.indexOf(delimiter) + delimiter.length;
  for (;;) {
    const end = body.indexOf(delimiter, start);
    if (end === -1) break;
    const part = body.subarray(start + 2, end); // skip the CRLF after the delimiter
    const split = part.indexOf('\r\n\r\n');
    const head = part.subarray(0, split).toString();
    parts.push({ name: /name="([^"]+)"/.exec(head)![1]!, head, content: part.subarray(split + 4) });
    start = end + delimiter.length;
  }
  return parts;
}

describe('Face++ through the proxy, as curl -F sends it', () => {
  let upstream: FakeUpstream;
  let proxy: TestProxy;
  let dir: string;
  let photoPath: string;
  let photo: Buffer;

  before(async () => {
    upstream = await startFakeUpstream(() => ({
      body: JSON.stringify({
        request_id: 'r',
        face_num: 1,
        faces: [{ face_token: 't', face_rectangle: { top: 1, left: 2, width: 3, height: 4 } }],
      }),
    }));
    proxy = await startTestProxy(upstream.url);
    dir = await mkdtemp(path.join(tmpdir(), 'facepp-'));
    photo = await syntheticJpeg({ width: 640, height: 480 });
    photoPath = path.join(dir, 'holiday photo.jpg');
    await writeFile(photoPath, photo);
  });
  after(async () => {
    await proxy.close();
    await upstream.close();
    await rm(dir, { recursive: true, force: true });
  });

  const curlForm = (base: string, route: string, fields: string[]) =>
    run('curl', ['-sS', '-D', '-', ...fields.flatMap((f) => ['-F', f]), `${base}${route}`]);

  test('detect: the image part shrinks; every other part, its order and the file name arrive byte-identical', async () => {
    const fields = ['api_key=KEY', 'api_secret=SECRET', `image_file=@${photoPath}`, 'return_attributes=gender,age'];
    await curlForm(upstream.url, '/facepp/v3/detect', fields);
    const direct = rawParts(upstream.last()!);
    const { stdout } = await curlForm(proxy.url, '/facepp/v3/detect', fields);
    assert.match(stdout, /x-adacompress: q=35;saved=\d+%/i);
    assert.match(stdout, /"face_num":1/);
    const proxied = rawParts(upstream.last()!);
    assert.deepEqual(
      proxied.map((p) => p.name),
      ['api_key', 'api_secret', 'image_file', 'return_attributes'],
    );
    for (const [i, part] of proxied.entries()) {
      assert.equal(part.head, direct[i]!.head, `${part.name} headers identical`);
      if (part.name === 'image_file') continue;
      assert.ok(part.content.equals(direct[i]!.content), `${part.name} content identical`);
    }
    const image = proxied.find((p) => p.name === 'image_file')!.content;
    assert.ok(image.length < photo.length);
    assert.equal((await sharp(image).metadata()).width, 640);
  });

  test('compare: both image_file1 and image_file2 shrink', async () => {
    await curlForm(proxy.url, '/facepp/v3/compare', [
      'api_key=K',
      'api_secret=S',
      `image_file1=@${photoPath}`,
      `image_file2=@${photoPath}`,
    ]);
    const parts = rawParts(upstream.last()!);
    for (const name of ['image_file1', 'image_file2']) {
      assert.ok(parts.find((p) => p.name === name)!.content.length < photo.length, `${name} smaller`);
    }
  });

  test('image_base64 in a multipart field shrinks too', async () => {
    await curlForm(proxy.url, '/facepp/v3/detect', [
      'api_key=K',
      'api_secret=S',
      `image_base64=${photo.toString('base64')}`,
    ]);
    const part = rawParts(upstream.last()!).find((p) => p.name === 'image_base64')!;
    assert.ok(Buffer.from(part.content.toString(), 'base64').length < photo.length);
  });

  test('image_base64 in a urlencoded body shrinks, other fields byte-identical', async () => {
    const { stdout } = await run('curl', [
      '-sS',
      '--data-urlencode',
      'api_key=K+1',
      '--data-urlencode',
      `image_base64=${photo.toString('base64')}`,
      '--data-urlencode',
      'return_landmark=1',
      `${proxy.url}/imagepp/beta/detectsceneandobject`,
    ]);
    assert.match(stdout, /request_id/);
    const body = upstream.last()!.body.toString();
    assert.ok(body.startsWith('api_key=K%2B1&image_base64='));
    assert.ok(body.endsWith('&return_landmark=1'));
    const form = new URLSearchParams(body);
    assert.ok(Buffer.from(form.get('image_base64')!, 'base64').length < photo.length);
  });

  test('image_url is never fetched: the request passes through untouched', async () => {
    await curlForm(proxy.url, '/facepp/v3/detect', [
      'api_key=K',
      'api_secret=S',
      'image_url=http://169.254.169.254/latest',
    ]);
    const parts = rawParts(upstream.last()!);
    assert.equal(parts.find((p) => p.name === 'image_url')!.content.toString(), 'http://169.254.169.254/latest');
  });

  test('a body over the limit gets Face++ plain-text 413', async () => {
    const small = await startTestProxy(upstream.url, { maxBodyBytes: 50_000 });
    try {
      const { stdout } = await curlForm(small.url, '/facepp/v3/detect', [
        'api_key=K',
        'api_secret=S',
        `image_file=@${photoPath}`,
      ]);
      assert.match(stdout, /^HTTP\/1\.1 413/);
    } finally {
      await small.close();
    }
  });
});
