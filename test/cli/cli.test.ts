import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DEFAULT_POLICY_MODELS } from '../../src/config/proxy.ts';
import { servingModel } from '../../src/policy/model-map.ts';
import type { ApiClient } from '../../src/trainer/api-client.ts';
import { collect } from '../../src/trainer/collect.ts';
import { modelForKey } from '../../src/trainer/evaluate.ts';
import { syntheticJpeg } from '../codec/images.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = join(root, 'bin', 'adacompress.js');
const exec = promisify(execFile);

/** The CLI as a user runs it: its exit code, stdout and stderr. */
async function adacompress(args: string[], env: Record<string, string | undefined> = {}) {
  try {
    const { stdout, stderr } = await exec(process.execPath, [bin, ...args], {
      cwd: root,
      env: { ...process.env, ...env },
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('adacompress --help', () => {
  for (const command of ['', 'serve', 'emulate', 'collect', 'train', 'evaluate']) {
    it(`${command || '(no command)'} --help prints its usage on stdout and exits 0`, async () => {
      const { code, stdout, stderr } = await adacompress([...(command ? [command] : []), '--help']);
      assert.equal(code, 0, stderr);
      assert.match(stdout, new RegExp(`^usage: adacompress ${command || '<command>'}`));
      assert.equal(stderr, '');
    });
  }

  it('an unknown command is a usage error: stderr, exit 2', async () => {
    const { code, stdout, stderr } = await adacompress(['frobnicate']);
    assert.equal(code, 2);
    assert.equal(stdout, '');
    assert.match(stderr, /^unknown command: frobnicate/);
  });
});

describe('evaluate defaults', () => {
  it('--model defaults to the model serving --key in serve\'s map: exact key, then provider, then "*"', () => {
    const env = {};
    assert.equal(
      modelForKey('', 'rekognition/DetectLabels', env).path,
      join(root, 'models/rekognition-detectlabels.onnx'),
    );
    assert.equal(modelForKey('', 'baidu/face/v3/detect', env).path, join(root, 'models/baidu-face-detect.onnx'));
    assert.equal(modelForKey('', 'rekognition/DetectText', env).path, join(root, 'models/default.onnx'));
    assert.equal(modelForKey('models/x.onnx', 'rekognition/DetectLabels', env).path, 'models/x.onnx');
    const custom = { ADACOMPRESS_POLICY_MODELS: 'rekognition=/srv/r.onnx' };
    assert.equal(modelForKey('', 'rekognition/DetectFaces', custom).path, '/srv/r.onnx');
    assert.throws(
      () => modelForKey('', 'baidu/face/v3/detect', custom),
      /no policy model serves baidu\/face\/v3\/detect/,
    );
    // The same map the proxy's default is built from.
    assert.equal(
      servingModel(DEFAULT_POLICY_MODELS, 'facepp/facepp/v3/detect', 'x')?.path,
      join(root, 'models/facepp-detect.onnx'),
    );
  });

  describe('on a data folder collected with --split all', () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'evaluate-cli-'));
      const images = join(dir, 'images');
      await exec('mkdir', [images]);
      for (let i = 0; i < 10; i++) await writeFile(join(images, `p${i}.jpg`), await syntheticJpeg(160, 120, 90, i + 1));
      const client: ApiClient = {
        call: async (_key, image) => ({
          status: 200,
          answer: { labels: [{ name: image.bytes.length > 1500 ? 'cat' : 'blur', score: 0.9 }], faces: [] },
        }),
        close: async () => {},
      };
      const config = {
        images,
        out: join(dir, 'collect'),
        apis: ['rekognition/DetectLabels' as const],
        split: 'all' as const,
        limit: 0,
        concurrency: 2,
        target: 'emulator',
        rekognitionEndpoint: '',
        faceppEndpoint: '',
        baiduEndpoint: '',
        budget: 0,
        emulatorWorkers: 0,
        maxInputPixels: 1e7,
      };
      await collect(config, client);
    });
    after(() => rm(dir, { recursive: true, force: true }));

    it('scores every collected image by default and says which model and which images it scored', async () => {
      const { code, stdout, stderr } = await adacompress([
        'evaluate',
        '--data',
        join(dir, 'collect'),
        '--out',
        join(dir, 'eval', 'all'),
      ]);
      assert.equal(code, 0, stderr);
      assert.match(stdout, /evaluate: model models\/rekognition-detectlabels\.onnx: serves rekognition\/DetectLabels/);
      assert.match(
        stdout,
        /: 10 train \+ validation images of 10 collected: 2 validation, 8 train; train images may be/,
      );
      const saved = JSON.parse(await readFile(join(dir, 'eval', 'all.json'), 'utf8'));
      assert.equal(saved.split, 'all');
      assert.equal(saved.images, 10);
      assert.deepEqual(saved.collected, { train: 8, validation: 2 });
    });

    it('--split validation scores the held-out images only, and says so', async () => {
      const { code, stdout } = await adacompress([
        'evaluate',
        '--data',
        join(dir, 'collect'),
        '--split',
        'validation',
        '--out',
        join(dir, 'eval', 'validation'),
      ]);
      assert.equal(code, 0);
      assert.match(stdout, /: 2 validation images of 10 collected: 2 validation, 8 train\n/);
    });
  });
});
