import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { type RunningEmulator, startEmulator } from '../../src/emulator/main.ts';
import { COUPLE, DOG, facesDir, imagenet, modelDir, skipWithoutData, solid } from './helpers.ts';

const run = promisify(execFile);

/** `curl -F`, exactly as the Face++ docs show it; returns status and body. */
async function curl(url: string, fields: string[]): Promise<{ status: number; body: string }> {
  const args = ['-s', '-w', '\n%{http_code}', ...fields.flatMap((f) => ['-F', f]), url];
  const { stdout } = await run('curl', args, { maxBuffer: 16 * 1024 * 1024 });
  const cut = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(cut + 1)), body: stdout.slice(0, cut) };
}

const KEY = ['api_key=emulator-key', 'api_secret=emulator-secret'];

describe('Face++ emulator, driven by curl -F and by urlencoded base64', { skip: skipWithoutData }, () => {
  let emulator: RunningEmulator;
  let dir: string;
  before(async () => {
    emulator = await startEmulator({ modelDir, workers: 1 });
    dir = await mkdtemp(join(tmpdir(), 'facepp-test-'));
  });
  after(async () => {
    await emulator?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('detects the two faces of the couple photo with pixel rectangles', async () => {
    const { status, body } = await curl(`${emulator.url}/facepp/v3/detect`, [
      ...KEY,
      `image_file=@${join(facesDir, COUPLE)}`,
    ]);
    assert.equal(status, 200);
    const out = JSON.parse(body) as { face_num: number; faces: { face_rectangle: Record<string, number> }[] };
    assert.equal(out.face_num, 2);
    for (const { face_rectangle: r } of out.faces)
      assert.ok(r.width! > 200 && r.left! + r.width! <= 2280, JSON.stringify(r));
  });

  it('names objects of a dog photo with confidences 0-100, from a base64 form field', async () => {
    const response = await fetch(`${emulator.url}/imagepp/beta/detectsceneandobject`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        api_key: 'emulator-key',
        api_secret: 'emulator-secret',
        image_base64: (await imagenet(DOG)).toString('base64'),
      }),
    });
    assert.equal(response.status, 200);
    const out = (await response.json()) as { objects: { value: string; confidence: number }[]; scenes: unknown[] };
    assert.ok(
      out.objects.some((o) => o.value === 'dog'),
      JSON.stringify(out.objects),
    );
    for (const o of out.objects) assert.ok(o.confidence > 0 && o.confidence <= 100);
    assert.ok(Array.isArray(out.scenes));
  });

  it('refuses a wrong secret with 401 AUTHENTICATION_ERROR and a missing image with MISSING_ARGUMENTS', async () => {
    const wrong = await curl(`${emulator.url}/facepp/v3/detect`, [
      'api_key=emulator-key',
      'api_secret=nope',
      `image_file=@${join(facesDir, COUPLE)}`,
    ]);
    assert.equal(wrong.status, 401);
    assert.equal(JSON.parse(wrong.body).error_message, 'AUTHENTICATION_ERROR');
    const missing = await curl(`${emulator.url}/facepp/v3/detect`, KEY);
    assert.equal(missing.status, 400);
    assert.match(JSON.parse(missing.body).error_message, /^MISSING_ARGUMENTS/);
  });

  it('answers its limits: a too small image, and a body over 2 MB as plain-text 413', async () => {
    const small = join(dir, 'small.jpg');
    await writeFile(small, await solid(40, 100));
    const tooSmall = await curl(`${emulator.url}/facepp/v3/detect`, [...KEY, `image_file=@${small}`]);
    assert.equal(tooSmall.status, 400);
    assert.equal(JSON.parse(tooSmall.body).error_message, 'INVALID_IMAGE_SIZE:image_file');
    const big = join(dir, 'big.jpg');
    await writeFile(big, Buffer.concat([await solid(100, 100), Buffer.alloc(2_200_000)]));
    const tooBig = await curl(`${emulator.url}/facepp/v3/detect`, [...KEY, `image_file=@${big}`]);
    assert.equal(tooBig.status, 413);
    assert.equal(tooBig.body, 'Request Entity Too Large');
  });

  it('answers 404 API_NOT_FOUND for an operation it does not emulate', async () => {
    const { status, body } = await curl(`${emulator.url}/facepp/v3/compare`, KEY);
    assert.equal(status, 404);
    assert.equal(JSON.parse(body).error_message, 'API_NOT_FOUND');
  });
});
