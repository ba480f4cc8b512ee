import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { inspectImage } from '../../src/codec/inspect.ts';
import { FEATURE_VERSION, featureHeaderOf, featureNames, featuresFromHeader } from '../../src/policy/features.ts';
import { OnnxPolicy } from '../../src/policy/onnx-policy.ts';
import { forwardMlp } from '../../src/policy/onnx-writer.ts';
import { seededRng } from '../../src/policy/rng.ts';
import type { ApiClient } from '../../src/trainer/api-client.ts';
import { type CollectConfig, collect } from '../../src/trainer/collect.ts';
import { type CollectedRecord, readRecords, recordFileName } from '../../src/trainer/data.ts';
import type { ImageRow } from '../../src/trainer/dataset.ts';
import {
  allowedActions,
  crossValidate,
  defaultFitOptions,
  exportPolicyLayers,
  fitEnsemble,
  fitNetwork,
  foldAssignment,
  predictHeads,
} from '../../src/trainer/fit.ts';
import { offPolicyEstimates } from '../../src/trainer/ope.ts';
import { encodePolicy } from '../../src/trainer/policy-model.ts';
import { judge, promote } from '../../src/trainer/promote.ts';
import { withCurrentFeatures } from '../../src/trainer/refeature.ts';
import { syntheticJpeg } from '../codec/images.ts';

const QUALITIES = [5, 15, 25, 35, 45, 55, 65, 75, 85, 95];

/** Synthetic full-information rows: feature 0 decides the safe quality (low -> q5 is safe, high -> needs q45). */
function syntheticRows(count: number, seed: number, split: 'train' | 'validation' = 'train'): ImageRow[] {
  const rng = seededRng(seed);
  return Array.from({ length: count }, (_, i) => {
    const features = Array.from({ length: featureNames.length }, () => rng() * 2 - 1);
    const threshold = features[0]! > 0 ? 45 : 5;
    const ratio = QUALITIES.map((q) => q / 75);
    return {
      image: `img${i}`,
      split,
      features,
      featureVersion: FEATURE_VERSION,
      qualities: QUALITIES,
      accuracy: QUALITIES.map((q) => (q >= threshold ? 1 : 0)),
      overlap: QUALITIES.map((q) => (q >= threshold ? 1 : 0)),
      bytes: ratio.map((r) => Math.round(r * 30000)),
      ratio,
      referenceBytes: 30000,
    };
  });
}

const fit = { ...defaultFitOptions, epochs: 40, hidden: [8] };

function description(modelId: string) {
  return {
    modelId,
    provider: 'rekognition',
    operation: 'DetectLabels',
    rewardWeights: { accuracy: 1, size: 0.5 },
    dataSummary: {},
  };
}

test("the exported ONNX gives the trainer's scores (onnxruntime-node): expected reward = acc_hat - w * ratio_hat", async () => {
  const rows = syntheticRows(80, 1);
  const net = fitNetwork(rows, fit);
  const w = 0.5;
  const { layers, activations } = exportPolicyLayers(net, fit.inputs, featureNames.length, w);
  const policy = await OnnxPolicy.fromBytes(encodePolicy(layers, activations, description('t')), {
    exploration: { kind: 'epsilon-greedy', epsilon: 0 },
  });
  try {
    for (const row of rows.slice(0, 10)) {
      const heads = predictHeads(net, row, fit.inputs);
      const expected = heads.accuracy.map((a, k) => a - w * heads.ratio[k]!);
      const onnx = await policy.scores(Float32Array.from(row.features));
      const ts = forwardMlp(layers, activations, row.features);
      expected.forEach((e, k) => {
        assert.ok(Math.abs(onnx[k]! - e) < 1e-4, `action ${k}: onnx ${onnx[k]} vs trainer ${e}`);
        assert.ok(Math.abs(ts[k]! - e) < 1e-4);
      });
    }
  } finally {
    await policy.release();
  }
});

test('an ensemble exports as ONE plain MLP whose ONNX scores are the mean of its members: mean acc_hat - w * mean ratio_hat', async () => {
  const rows = syntheticRows(80, 5);
  const nets = fitEnsemble(rows, { ...fit, ensemble: 3, seed: 4 });
  assert.equal(nets.length, 3);
  const w = 0.4;
  const allowed = allowedActions(QUALITIES, 75);
  const { layers, activations } = exportPolicyLayers(nets, fit.inputs, featureNames.length, w, allowed);
  assert.equal(layers.length, 2, 'still Gemm/Relu/Gemm');
  assert.equal(layers[0]!.rows, 3 * fit.hidden[0]!, 'hidden units side by side');
  const bytes = encodePolicy(layers, activations, description('ensemble'));
  const policy = await OnnxPolicy.fromBytes(bytes, { exploration: { kind: 'epsilon-greedy', epsilon: 0 } });
  try {
    for (const row of rows.slice(0, 10)) {
      const members = nets.map((net) => predictHeads(net, row, fit.inputs));
      const onnx = await policy.scores(Float32Array.from(row.features));
      QUALITIES.forEach((q, k) => {
        const mean = (head: 'accuracy' | 'ratio') => members.reduce((s, m) => s + m[head][k]!, 0) / members.length;
        const expected = q > 75 ? -1000 : mean('accuracy') - w * mean('ratio');
        assert.ok(Math.abs(onnx[k]! - expected) < 1e-4, `q${q}: onnx ${onnx[k]} vs mean of members ${expected}`);
      });
      // predictHeads on the ensemble is the same mean (what cross-validation scores).
      const pooled = predictHeads(nets, row, fit.inputs);
      assert.ok(Math.abs(pooled.accuracy[0]! - members.reduce((s, m) => s + m.accuracy[0]!, 0) / 3) < 1e-12);
    }
  } finally {
    await policy.release();
  }
});

test('cross-validation folds are equal-sized, seeded, and differ between repeats', () => {
  const a = foldAssignment(103, 5, 1);
  const counts = [0, 1, 2, 3, 4].map((f) => a.filter((x) => x === f).length);
  assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `fold sizes ${counts}`);
  assert.deepEqual(foldAssignment(103, 5, 1), a);
  assert.notDeepEqual(foldAssignment(103, 5, 2), a);
});

test('the size weight is the cheapest that holds the target on the hardest folds, not on the pooled mean', () => {
  // Noisy rows: 15% of images lose the answer below q45 whatever their features say.
  const rng = seededRng(9);
  const rows = syntheticRows(120, 6).map((row) => {
    if (rng() > 0.15) return row;
    const accuracy = QUALITIES.map((q) => (q >= 45 ? 1 : 0));
    return { ...row, accuracy, overlap: accuracy };
  });
  const options = { ...fit, epochs: 60, ensemble: 2, cvRepeats: 2, accuracyTarget: 0.9 };
  const hard = crossValidate(rows, { ...options, foldQuantile: 0.2 });
  const pooled = crossValidate(rows, { ...options, foldQuantile: 0 });
  assert.equal(hard.trials.length, options.sizeWeights.length);
  assert.ok(hard.met, 'reachable: high qualities keep every answer');
  assert.ok(hard.chosen.hardFoldAccuracy >= 0.9);
  for (const t of hard.trials) {
    if (t.sizeRatio < hard.chosen.sizeRatio)
      assert.ok(t.hardFoldAccuracy < 0.9, `w ${t.sizeWeight} was cheaper and met it`);
  }
  assert.ok(pooled.chosen.accuracy >= 0.9);
  assert.ok(
    pooled.chosen.sizeRatio < hard.chosen.sizeRatio && pooled.chosen.hardFoldAccuracy < 0.9,
    'on noisy data the pooled mean accepts a point that fails on the hardest folds',
  );
});

test('training is reproducible with a seed and differs with another', () => {
  const rows = syntheticRows(60, 2);
  const a = fitNetwork(rows, { ...fit, seed: 7 }).predict(rows[0]!.features);
  const b = fitNetwork(rows, { ...fit, seed: 7 }).predict(rows[0]!.features);
  const c = fitNetwork(rows, { ...fit, seed: 8 }).predict(rows[0]!.features);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

test('a trained policy learns the per-image choice: low quality where it is safe, higher where it is not', () => {
  const rows = syntheticRows(300, 3);
  const net = fitNetwork(rows, { ...fit, epochs: 100 });
  const { layers, activations } = exportPolicyLayers(net, fit.inputs, featureNames.length, 0.5);
  const choose = (row: ImageRow) => {
    const s = forwardMlp(layers, activations, row.features);
    return QUALITIES[s.indexOf(Math.max(...s))]!;
  };
  const test = syntheticRows(100, 4);
  const correct = test.filter((r) => r.accuracy[QUALITIES.indexOf(choose(r))] === 1).length;
  const mean = test.reduce((s, r) => s + choose(r), 0) / test.length;
  assert.ok(correct >= 90, `only ${correct}/100 kept the answer`);
  // A fixed quality keeping every answer is q45; half the images are safe at q5.
  assert.ok(mean < 40, `mean quality ${mean} is no better than the fixed safe quality 45`);
});

test('IPS, SNIPS and DR recover a known policy value from uniform logs, with intervals that cover it', () => {
  const rng = seededRng(11);
  const rewards = [0.2, 0.5, 0.9];
  // Target policy: always action 2 in context 0, action 1 in context 1. True value = 0.5 * 0.9 + 0.5 * 0.5 = 0.7.
  const samples = Array.from({ length: 20_000 }, (_, i) => {
    // Contexts alternate, so 0.7 is the exact value on this very sample (only the logging draws are random).
    const context = i % 2;
    const action = Math.floor(rng() * 3);
    const noise = (rng() - 0.5) * 0.2;
    const target = context === 0 ? [0, 0, 1] : [0, 1, 0];
    return { action, propensity: 1 / 3, reward: rewards[action]! + noise, target, predicted: [0.3, 0.4, 0.6] };
  });
  const result = offPolicyEstimates(samples, { bootstrap: 200, seed: 3 });
  for (const name of ['ips', 'snips', 'dr'] as const) {
    const e = result[name];
    assert.ok(Math.abs(e.value - 0.7) < 0.025, `${name} ${e.value}`);
    assert.ok(e.low <= 0.7 && 0.7 <= e.high, `${name} interval [${e.low}, ${e.high}] misses 0.7`);
  }
  // Seeded: the same call gives the same intervals.
  assert.deepEqual(offPolicyEstimates(samples, { bootstrap: 200, seed: 3 }).dr, result.dr);
});

test('the promotion gate refuses a worse candidate (file untouched) and promotes a better one atomically', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'promote-'));
  const rows = [...syntheticRows(200, 5), ...syntheticRows(100, 6, 'validation')];
  const net = fitNetwork(
    rows.filter((r) => r.split === 'train'),
    { ...fit, epochs: 100 },
  );
  const good = exportPolicyLayers(net, fit.inputs, featureNames.length, 0.5);
  const goodBytes = encodePolicy(good.layers, good.activations, description('good'));
  // The bad one: always quality 5 (a constant network), which loses the answer on half the images.
  const bad = exportPolicyLayers(net, fit.inputs, featureNames.length, 0.5);
  bad.layers[1]!.weights.fill(0);
  bad.layers[1]!.bias.set(QUALITIES.map((q) => (q === 5 ? 1 : 0)));
  const badBytes = encodePolicy(bad.layers, bad.activations, description('bad'));
  const live = join(dir, 'live.onnx');
  await writeFile(live, goodBytes);
  const refused = await promote(
    { bytes: badBytes, sizeWeight: 0.5, dataset: { rows } },
    live,
    'rekognition/DetectLabels',
  );
  assert.equal(refused.promoted, false, refused.reason);
  assert.match(refused.reason, /not better/);
  assert.ok(Buffer.from(await readFile(live)).equals(Buffer.from(goodBytes)));

  await writeFile(live, badBytes);
  const accepted = await promote(
    { bytes: goodBytes, sizeWeight: 0.5, dataset: { rows } },
    live,
    'rekognition/DetectLabels',
  );
  assert.equal(accepted.promoted, true, accepted.reason);
  assert.ok(Buffer.from(await readFile(live)).equals(Buffer.from(goodBytes)));
  // A live file this code cannot use is replaced (and said so).
  await writeFile(live, 'not a model');
  assert.match(
    (await judge({ bytes: goodBytes, sizeWeight: 0.5, dataset: { rows } }, live, 'x/y')).reason,
    /cannot be used/,
  );
});

test('collect stores every action per image and resumes without repeating finished images', async () => {
  const images = await mkdtemp(join(tmpdir(), 'collect-img-'));
  const out = await mkdtemp(join(tmpdir(), 'collect-out-'));
  for (let i = 0; i < 3; i++) await writeFile(join(images, `p${i}.jpg`), await syntheticJpeg(120, 90, 90, i + 1));
  let calls = 0;
  const client: ApiClient = {
    async call(_key, image) {
      calls++;
      return {
        status: 200,
        answer: { labels: [{ name: image.bytes.length > 2000 ? 'cat' : 'blur', score: 0.9 }], faces: [] },
      };
    },
    close: async () => {},
  };
  const config: CollectConfig = {
    images,
    out,
    apis: ['rekognition/DetectLabels'],
    split: 'all',
    limit: 2,
    concurrency: 2,
    target: 'emulator',
    budget: 0,
    emulatorWorkers: 0,
    maxInputPixels: 1e7,
  };
  const first = await collect(config, client);
  assert.equal(first.images, 2);
  assert.equal(calls, 20);
  const second = await collect({ ...config, limit: 0 }, client);
  assert.equal(second.skipped, 2);
  assert.equal(second.images, 1);
  assert.equal(calls, 30);
  const records = await readRecords(join(out, recordFileName('rekognition/DetectLabels')));
  assert.deepEqual(
    records.map((r) => r.image),
    ['p0.jpg', 'p1.jpg', 'p2.jpg'],
  );
  for (const r of records) {
    assert.deepEqual(
      r.outcomes.map((o) => o.quality),
      QUALITIES,
    );
    assert.equal(r.features.version, FEATURE_VERSION);
    assert.equal(r.features.values.length, featureNames.length);
    assert.ok(r.header, 'the header facts are stored: a later feature version needs no image');
  }
  // An interrupt stops before the next image: nothing half-written.
  const stopped = await collect({ ...config, out: await mkdtemp(join(tmpdir(), 'collect-stop-')), limit: 0 }, client, {
    stopped: true,
  });
  assert.equal(stopped.images, 0);
});

test('exported models never choose an action above the reference quality (it only costs bytes)', () => {
  // Rows where only q95 agrees: an unmasked policy would choose it; the masked one stays at or below q75.
  const rows = syntheticRows(60, 3).map((row) => ({
    ...row,
    accuracy: QUALITIES.map((q) => (q === 95 ? 1 : 0)),
    overlap: QUALITIES.map((q) => (q === 95 ? 1 : 0)),
  }));
  const net = fitNetwork(rows, fit);
  const allowed = allowedActions(QUALITIES, 75);
  const { layers, activations } = exportPolicyLayers(net, fit.inputs, featureNames.length, 0.01, allowed);
  const unmasked = exportPolicyLayers(net, fit.inputs, featureNames.length, 0.01);
  const argmax = (s: ArrayLike<number>) => Array.from(s).indexOf(Math.max(...Array.from(s)));
  assert.ok(
    rows.some((row) => QUALITIES[argmax(forwardMlp(unmasked.layers, unmasked.activations, row.features))]! > 75),
  );
  for (const row of rows) assert.ok(QUALITIES[argmax(forwardMlp(layers, activations, row.features))]! <= 75);
});

test('records of an older feature version get current features from their stored header or the image header', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'refeature-'));
  const jpeg = await syntheticJpeg(120, 90, 70, 4);
  await writeFile(join(dir, 'a.jpg'), jpeg);
  const header = featureHeaderOf(await inspectImage(jpeg, { maxInputPixels: 1e7 }));
  const old = (image: string, extra = {}): CollectedRecord => ({
    v: 1,
    key: 'rekognition/DetectLabels',
    image,
    split: 'train',
    original: { bytes: jpeg.length, width: 120, height: 90, format: 'jpeg' },
    features: { version: FEATURE_VERSION - 1, values: new Array(32).fill(0) },
    outcomes: [],
    ...extra,
  });
  const { records, recomputed, fromImages } = await withCurrentFeatures(
    [old('a.jpg'), old('gone.jpg', { header })],
    [dir],
  );
  assert.equal(recomputed, 2);
  assert.equal(fromImages, 1);
  const expected = Array.from(featuresFromHeader(header));
  for (const r of records) {
    assert.equal(r.features.version, FEATURE_VERSION);
    assert.deepEqual(r.features.values, expected);
  }
  await assert.rejects(withCurrentFeatures([old('missing.jpg')], [dir]), /missing\.jpg/);
});
