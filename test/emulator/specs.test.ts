import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadBackend } from '../../src/emulator/backends/backend.ts';
import {
  type LocatedSpec,
  loadSpecFile,
  loadSpecs,
  ModelSpecError,
  parseLabels,
  parseSpec,
  shippedSpecDir,
} from '../../src/emulator/backends/spec.ts';
import { buildEmulator } from '../../src/emulator/server.ts';
import { emptyInference, modelDir, skipWithoutData } from './helpers.ts';

// biome-ignore lint/suspicious/noExplicitAny: specs are edited as plain JSON to break them
type Json = Record<string, any>;
const shipped = (name: string): Json => JSON.parse(readFileSync(join(shippedSpecDir, `${name}.json`), 'utf8'));

/** The ModelSpecError a spec variant is refused with. */
async function refusal(action: () => unknown): Promise<ModelSpecError> {
  try {
    await action();
  } catch (error) {
    assert.ok(error instanceof ModelSpecError, `not a ModelSpecError: ${error}`);
    return error;
  }
  assert.fail('the spec was accepted');
}

describe('model specs: the shape of a spec', () => {
  it('ships a valid spec for each of the six models in the shared model folder', () => {
    const specs = loadSpecs(modelDir, [], { checkFiles: false });
    assert.deepEqual(specs.map((s) => s.name).sort(), [
      'fastestdet',
      'mobilenet-v3-small',
      'mobilenetv2-12-int8',
      'ultraface-rfb-320',
      'yolox-nano',
      'yunet',
    ]);
    assert.deepEqual(specs.map((s) => s.file).sort(), [
      'FastestDet.onnx',
      'face_detection_yunet_2026may.onnx',
      'mobilenet_v3_small_1.0_224.onnx',
      'mobilenetv2-12-int8.onnx',
      'ultraface-RFB-320.onnx',
      'yolox_nano.onnx',
    ]);
  });

  const cases: [string, string, (spec: Json) => void, RegExp][] = [
    ['a missing input name', 'input.name', (s) => delete s.input.name, /missing/],
    ['an unknown detector family', 'output.family', (s) => (s.output.family = 'ssd'), /yolox/],
    ['an unknown output kind', 'output.kind', (s) => (s.output.kind = 'segmenter'), /classifier/],
    ['a yolox output without strides', 'output.strides', (s) => delete s.output.strides, /missing/],
    ['an unknown layout', 'input.layout', (s) => (s.input.layout = 'CHW'), /NCHW/],
    ['a mean of two channels', 'input.mean', (s) => (s.input.mean = [0, 0]), /3/],
    ['an unknown resize rule', 'input.resize.rule', (s) => (s.input.resize = { rule: 'crop' }), /letterbox/],
    ['a field the schema does not know', 'input', (s) => (s.input.gamma = 2.2), /gamma/],
    ['an object detector without labels', 'labels', (s) => delete s.labels, /required/],
    ['a detector answering classify', 'output.kind', (s) => (s.task = 'classify'), /classifier/],
    ['an unknown label format', 'labels.format', (s) => (s.labels.format = 'csv'), /index-name/],
  ];
  for (const [what, field, change, message] of cases) {
    it(`refuses ${what}, naming the file and ${field}`, async () => {
      const spec = shipped('yolox-nano');
      change(spec);
      const error = await refusal(() => parseSpec(spec, '/specs/broken.json'));
      assert.equal(error.field, field);
      assert.match(error.message, /^model spec \/specs\/broken\.json: /);
      assert.match(error.message, message);
    });
  }

  it('refuses a face-only family (YuNet) put behind objects, and a crop rule on a dynamic input', async () => {
    const objects = shipped('yunet');
    objects.task = 'objects';
    assert.equal((await refusal(() => parseSpec(objects, 'x.json'))).field, 'task');
    const crop = shipped('yunet');
    crop.input.resize = { rule: 'shorter-side-crop', shorterSide: 256 };
    assert.equal((await refusal(() => parseSpec(crop, 'x.json'))).field, 'input.resize.rule');
  });

  it('refuses a spec for the text task: OCR is an engine (several models), not one spec', async () => {
    const text = shipped('fastestdet');
    text.task = 'text';
    const error = await refusal(() => parseSpec(text, 'x.json'));
    assert.equal(error.field, 'task');
    assert.match(error.message, /engine/);
  });

  it('refuses a weights file missing from --model-dir and a file that is not JSON, naming the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'specs-'));
    try {
      const spec = shipped('fastestdet');
      spec.file = 'nope.onnx';
      await writeFile(join(dir, 'a.json'), JSON.stringify(spec));
      const error = await refusal(() => loadSpecFile(join(dir, 'a.json'), dir));
      assert.equal(error.field, 'file');
      assert.match(error.message, /a\.json: file: nope\.onnx not found/);
      await writeFile(join(dir, 'b.json'), '{ not json');
      assert.match((await refusal(() => loadSpecFile(join(dir, 'b.json'), dir))).message, /b\.json: not readable JSON/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a second spec with a name already taken', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'specs-'));
    try {
      await writeFile(join(dir, 'again.json'), JSON.stringify(shipped('yunet')));
      const error = await refusal(() => loadSpecs(modelDir, [join(dir, 'again.json')], { checkFiles: false }));
      assert.equal(error.field, 'name');
      assert.match(error.message, /yunet is already defined by .*yunet\.json/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads the three label formats: lines, a leading background, index,name (first synonym kept)', () => {
    assert.deepEqual(parseLabels('a\nb\n', 'lines'), ['a', 'b']);
    assert.deepEqual(parseLabels('background\na\nb', 'lines-with-background'), ['a', 'b']);
    assert.deepEqual(parseLabels('1,goldfish, Carassius auratus\n0,tench, Tinca tinca\n', 'index-name'), [
      'tench',
      'goldfish',
    ]);
    assert.throws(() => parseLabels('0,a\n2,b', 'index-name'), /indices are not 0\.\.1/);
  });

  it('stops the emulator start on a bad --model-specs file, and on a binding to an unknown or wrong backend', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'specs-'));
    try {
      const spec = shipped('yolox-nano');
      spec.name = 'yolox-extra';
      spec.output.family = 'ssd';
      await writeFile(join(dir, 'extra.json'), JSON.stringify(spec));
      await assert.rejects(
        buildEmulator({ modelSpecs: join(dir, 'extra.json') }, { inference: emptyInference }),
        /model spec .*extra\.json: output\.family/,
      );
      await assert.rejects(
        buildEmulator({ baiduAdvancedGeneral: 'resnet-50' }, { inference: emptyInference }),
        /baiduAdvancedGeneral="resnet-50": unknown backend resnet-50/,
      );
      await assert.rejects(
        buildEmulator({ faceppDetect: 'mobilenet-v3-small' }, { inference: emptyInference }),
        /faceppDetect="mobilenet-v3-small": mobilenet-v3-small answers classify; Face\+\+ detect needs faces/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('model specs checked against the ONNX session', { skip: skipWithoutData }, () => {
  const located = (name: string, change: (s: Json) => void): LocatedSpec => {
    const spec = shipped(name);
    change(spec);
    return { ...parseSpec(spec, `/specs/${name}.json`), path: `/specs/${name}.json` };
  };
  const loaded: { release(): Promise<void> }[] = [];
  after(() => Promise.all(loaded.map((b) => b.release())));

  it('loads every shipped spec against its model', async () => {
    for (const spec of loadSpecs(modelDir)) {
      const backend = await loadBackend(spec, modelDir);
      loaded.push(backend);
      assert.equal(backend.task, spec.task);
    }
  });

  it('refuses an input name the model does not have, naming input.name and the real one', async () => {
    const error = await refusal(() =>
      loadBackend(
        located('yolox-nano', (s) => (s.input.name = 'input')),
        modelDir,
      ),
    );
    assert.equal(error.field, 'input.name');
    assert.match(
      error.message,
      /yolox-nano\.json: input\.name: no input "input" in yolox_nano\.onnx \(it has images\)/,
    );
  });

  it('refuses an input size the model does not take, and a dynamic size for a fixed model', async () => {
    const fixed = await refusal(() =>
      loadBackend(
        located('mobilenetv2-12-int8', (s) => (s.input.size = { width: 256, height: 256 })),
        modelDir,
      ),
    );
    assert.equal(fixed.field, 'input.size');
    assert.match(fixed.message, /takes 224x224, the spec says 256x256/);
    const dynamic = await refusal(() =>
      loadBackend(
        located('fastestdet', (s) => (s.input.size = { dynamic: { multiple: 32, maxSide: 640 } })),
        modelDir,
      ),
    );
    assert.equal(dynamic.field, 'input.size');
  });

  it('refuses an output name the model does not have', async () => {
    const error = await refusal(() =>
      loadBackend(
        located('mobilenet-v3-small', (s) => (s.output.name = 'output')),
        modelDir,
      ),
    );
    assert.equal(error.field, 'output.name');
    assert.match(error.message, /no output "output" .*\(it has probs\)/);
  });

  it('refuses a label file whose class count does not match the output', async () => {
    const classifier = await refusal(() =>
      loadBackend(
        located('mobilenetv2-12-int8', (s) => (s.labels = { file: 'coco-labels.txt', format: 'lines' })),
        modelDir,
      ),
    );
    assert.equal(classifier.field, 'labels');
    assert.match(classifier.message, /coco-labels\.txt has 80/);
    const detector = await refusal(() =>
      loadBackend(
        located('fastestdet', (s) => (s.labels = { file: 'TF.ImageNetLabels.txt', format: 'lines-with-background' })),
        modelDir,
      ),
    );
    assert.equal(detector.field, 'labels');
    assert.match(detector.message, /TF\.ImageNetLabels\.txt has 1000 classes, FastestDet\.onnx's output has 80/);
  });
});
