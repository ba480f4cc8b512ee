import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { inspectImage } from '../../src/codec/inspect.ts';
import { AGREEMENT_LADDER, actionKey, gridActions } from '../../src/policy/actions.ts';
import { FEATURE_VERSION, featureHeaderOf, featureNames, featuresFromHeader } from '../../src/policy/features.ts';
import { OnnxPolicy } from '../../src/policy/onnx-policy.ts';
import { forwardHeads } from '../../src/policy/onnx-writer.ts';
import { seededRng } from '../../src/policy/rng.ts';
import { actionNetHeads, sideFeature } from '../../src/trainer/action-net.ts';
import type { ApiClient } from '../../src/trainer/api-client.ts';
import { type CollectConfig, collect, plannedCalls } from '../../src/trainer/collect.ts';
import { COLLECT_SCHEMA_VERSION, type CollectedRecord, readRecords, recordFileName } from '../../src/trainer/data.ts';
import { buildDataset, type ImageRow, metricsOf } from '../../src/trainer/dataset.ts';
import {
  allowedActions,
  crossValidate,
  defaultFitOptions,
  exportGridPolicy,
  exportPolicy,
  fitEnsemble,
  fitNetwork,
  foldAssignment,
  forwardExported,
  inputRange,
  maskedAgreement,
  predictHeads,
  saferSets,
  thresholdChoice,
} from '../../src/trainer/fit.ts';
import { offPolicyEstimates } from '../../src/trainer/ope.ts';
import { choicesOfModel, encodePolicy } from '../../src/trainer/policy-model.ts';
import { judge, promote } from '../../src/trainer/promote.ts';
import { withCurrentFeatures } from '../../src/trainer/refeature.ts';
import { syntheticJpeg } from '../codec/images.ts';
import { column, gridRows, LIMITS } from './synthetic.ts';

const fit = { ...defaultFitOptions, epochs: 40, hidden: [8], architecture: 'per-action' as const };
const actionInput = { ...defaultFitOptions, epochs: 20, hidden: [8], architecture: 'action-input' as const };

function description(modelId: string, threshold?: number) {
  return {
    modelId,
    provider: 'rekognition',
    operation: 'DetectLabels',
    actions: gridActions,
    rewardWeights: { accuracy: 1, size: 0.5 },
    ...(threshold === undefined ? {} : { threshold }),
    dataSummary: {},
  };
}

const greedyOnly = { exploration: { kind: 'epsilon-greedy' as const, epsilon: 0 } };

test("the exported ONNX gives the trainer's three heads (onnxruntime-node): agreement, size, scores = agreement - w * size", async () => {
  const rows = gridRows(80, 1);
  const net = fitNetwork(rows, fit);
  const w = 0.5;
  const exported = exportPolicy(net, fit.inputs, featureNames.length, w);
  const policy = await OnnxPolicy.fromBytes(encodePolicy(exported, description('t', 0.95)), greedyOnly);
  try {
    assert.equal(policy.actions.length, gridActions.length);
    for (const row of rows.slice(0, 10)) {
      const heads = predictHeads(net, row, fit.inputs);
      const onnx = await policy.outputs(Float32Array.from(row.features));
      const ts = forwardHeads(exported.trunk, exported.activations, exported.heads, row.features, exported.clip);
      heads.accuracy.forEach((a, k) => {
        const r = heads.ratio[k]!;
        for (const [name, expected, got, mirror] of [
          ['agreement', a, onnx.agreement![k]!, ts.agreement![k]!],
          ['size', r, onnx.size![k]!, ts.size![k]!],
          ['scores', a - w * r, onnx.reward[k]!, ts.scores![k]!],
        ] as const) {
          assert.ok(Math.abs(got - expected) < 1e-4, `${name} ${k}: onnx ${got} vs trainer ${expected}`);
          assert.ok(Math.abs(mirror - got) < 1e-5, `${name} ${k}: TS mirror ${mirror} vs onnx ${got}`);
        }
      });
    }
  } finally {
    await policy.release();
  }
});

test('inputs are clipped to the training range inside the graph, and the TS mirror clips the same', async () => {
  const rows = gridRows(80, 2);
  const net = fitNetwork(rows, fit);
  const clip = inputRange(rows, featureNames.length);
  const exported = exportPolicy(net, fit.inputs, featureNames.length, 0.5, undefined, clip);
  const policy = await OnnxPolicy.fromBytes(encodePolicy(exported, description('clipped', 0.95)), greedyOnly);
  const unclipped = await OnnxPolicy.fromBytes(
    encodePolicy(exportPolicy(net, fit.inputs, featureNames.length, 0.5), description('raw', 0.95)),
    greedyOnly,
  );
  try {
    // A photo far outside the training features (a 12-MP phone photo is to 500-px photos what 40 is to [-1, 1]).
    const far = rows[0]!.features.map((v, j) => (j % 2 === 0 ? 40 : -40) + v);
    const edge = far.map((v, j) => Math.min(clip.max[j]!, Math.max(clip.min[j]!, v)));
    const [atFar, atEdge, raw] = [
      await policy.outputs(Float32Array.from(far)),
      await policy.outputs(Float32Array.from(edge)),
      await unclipped.outputs(Float32Array.from(far)),
    ];
    const mirror = forwardHeads(exported.trunk, exported.activations, exported.heads, far, exported.clip);
    for (const [name, k] of [
      ['agreement', 'agreement'],
      ['size', 'size'],
      ['scores', 'reward'],
    ] as const) {
      const a = atFar[k]!;
      const b = atEdge[k]!;
      for (let i = 0; i < a.length; i++) {
        assert.ok(Math.abs(a[i]! - b[i]!) < 1e-6, `${name} ${i}: far input is the edge input`);
        assert.ok(Math.abs(mirror[name]![i]! - a[i]!) < 1e-5, `${name} ${i}: TS mirror`);
      }
    }
    const spread = (x: Float32Array) => Math.max(...x) - Math.min(...x);
    assert.ok(spread(raw.agreement!) > 5 * spread(atFar.agreement!), 'without clipping the net extrapolates wildly');
  } finally {
    await policy.release();
    await unclipped.release();
  }
});

test('the action-conditioned network: ONNX == TS mirror == trainer for all three heads, masks and clipping included', async () => {
  const rows = gridRows(80, 11);
  const nets = fitEnsemble(rows, { ...actionInput, ensemble: 2 });
  const allowed = allowedActions(gridActions, 75);
  const clip = inputRange(rows, featureNames.length);
  const w = 0.3;
  for (const monotone of ['none', 'side-quality'] as const) {
    const safer = saferSets(gridActions, allowed, monotone);
    const exported = exportGridPolicy(
      nets,
      actionInput.inputs,
      featureNames.length,
      gridActions,
      w,
      allowed,
      clip,
      safer,
    );
    assert.equal(exported.spec.image.rows, 2 * 8, 'the ensemble as one network: hidden units side by side');
    const policy = await OnnxPolicy.fromBytes(
      encodePolicy(exported, description(`grid-${monotone}`, 0.95)),
      greedyOnly,
    );
    try {
      // Training photos, and one far outside their range (clipped in the image part; its side feature is its own).
      const far = rows[0]!.features.map((v, j) => (j === 3 ? 2.5 : v * 30));
      for (const features of [...rows.slice(0, 5).map((r) => r.features), far]) {
        const onnx = await policy.outputs(Float32Array.from(features));
        const mirror = forwardExported(exported, features);
        const trainer = actionNetHeads(nets, { features }, gridActions, actionInput.inputs, clip);
        const expectedAgreement = maskedAgreement(trainer, allowed, safer);
        gridActions.forEach((_, k) => {
          const expectedScore = allowed[k] ? trainer.accuracy[k]! - w * trainer.ratio[k]! : -1000;
          for (const [name, got, ts, expected] of [
            ['agreement', onnx.agreement![k]!, mirror.agreement[k]!, expectedAgreement[k]!],
            ['size', onnx.size![k]!, mirror.size[k]!, trainer.ratio[k]!],
            ['scores', onnx.reward[k]!, mirror.scores[k]!, expectedScore],
          ] as const) {
            const tolerance = 1e-4 * Math.max(1, Math.abs(expected));
            assert.ok(
              Math.abs(got - expected) < tolerance,
              `${monotone} ${name} ${k}: onnx ${got} vs trainer ${expected}`,
            );
            assert.ok(Math.abs(ts - got) < tolerance, `${monotone} ${name} ${k}: TS mirror ${ts} vs onnx ${got}`);
          }
        });
      }
    } finally {
      await policy.release();
    }
  }
});

test("the action-conditioned network knows the image's size: the same action is a smaller share of a larger photo", () => {
  const rows = gridRows(80, 12);
  const nets = fitEnsemble(rows, { ...actionInput, ensemble: 1 });
  const exported = exportGridPolicy(nets, actionInput.inputs, featureNames.length, gridActions, 0.3);
  const small = rows[0]!.features;
  // The same photo's features as if it were 4000x3000 (log megapixels ln 12): 512 px is then well under its size.
  const large = small.map((v, j) => (j === 3 ? Math.log(12) : j === 4 ? Math.log(4 / 3) : v));
  const at512 = column(35, 512);
  assert.equal(sideFeature(gridActions[at512]!, small), 0, 'a 500-px photo at 512 px is its stored size');
  assert.ok(Math.abs(sideFeature(gridActions[at512]!, large) - Math.log(512 / 4000)) < 1e-3);
  const a = forwardExported(exported, small);
  const b = forwardExported(exported, large);
  // For the small photo, 512 px and the stored size are one upload: the same prediction.
  assert.ok(Math.abs(a.size[at512]! - a.size[column(35)]!) < 1e-6);
  assert.ok(Math.abs(b.size[at512]! - b.size[column(35)]!) > 1e-3, 'for the large one they differ');
});

test("an ensemble exports as ONE plain MLP whose heads are the mean of its members' (masked actions constant)", async () => {
  const rows = gridRows(80, 5);
  const nets = fitEnsemble(rows, { ...fit, ensemble: 3, seed: 4 });
  assert.equal(nets.length, 3);
  const w = 0.4;
  const allowed = allowedActions(gridActions, 75);
  const exported = exportPolicy(nets, fit.inputs, featureNames.length, w, allowed);
  assert.equal(exported.trunk.length, 1, 'still Gemm/Relu then one Gemm per head');
  assert.equal(exported.trunk[0]!.rows, 3 * fit.hidden[0]!, 'hidden units side by side');
  const policy = await OnnxPolicy.fromBytes(encodePolicy(exported, description('ensemble', 0.95)), greedyOnly);
  try {
    for (const row of rows.slice(0, 10)) {
      const members = nets.map((net) => predictHeads(net, row, fit.inputs));
      const onnx = await policy.outputs(Float32Array.from(row.features));
      gridActions.forEach((action, k) => {
        const mean = (head: 'accuracy' | 'ratio') => members.reduce((s, m) => s + m[head][k]!, 0) / members.length;
        const masked = action.maxSide === undefined && action.quality > 75;
        const score = masked ? -1000 : mean('accuracy') - w * mean('ratio');
        const agreement = masked ? -1 : mean('accuracy');
        assert.ok(Math.abs(onnx.reward[k]! - score) < 1e-4, `${k}: onnx ${onnx.reward[k]} vs mean of members ${score}`);
        assert.ok(Math.abs(onnx.agreement![k]! - agreement) < 1e-4);
        assert.ok(Math.abs(onnx.size![k]! - mean('ratio')) < 1e-4);
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

test('size weight and threshold are the cheapest that hold the target on the hardest folds, not on the pooled mean', () => {
  // Noisy rows: 10% of images lose the answer below q45 (at any side) whatever their features say.
  const rng = seededRng(9);
  const rows = gridRows(150, 6).map((row) => {
    if (rng() > 0.1) return row;
    const accuracy = row.sent.map((a) => (a.quality >= 45 ? 1 : 0));
    return { ...row, accuracy, overlap: accuracy };
  });
  const options = { ...fit, epochs: 80, ensemble: 2, cvRepeats: 2, accuracyTarget: 0.96 };
  const hard = crossValidate(rows, { ...options, foldQuantile: 0.2 });
  const pooled = crossValidate(rows, { ...options, foldQuantile: 0 });
  assert.equal(hard.trials.length, options.sizeWeights.length);
  assert.equal(hard.thresholdTrials.length, AGREEMENT_LADDER.length);
  assert.ok(hard.met && hard.thresholdMet, 'reachable: high qualities keep every answer');
  for (const [trials, chosen] of [
    [hard.trials, hard.chosen],
    [hard.thresholdTrials, hard.chosenThreshold],
  ] as const) {
    assert.ok(chosen.hardFoldAccuracy >= 0.96);
    for (const t of trials) {
      if (t.sizeRatio < chosen.sizeRatio)
        assert.ok(t.hardFoldAccuracy < 0.96, `${JSON.stringify(t)} was cheaper and met it`);
    }
  }
  for (const [p, h] of [
    [pooled.chosen, hard.chosen],
    [pooled.chosenThreshold, hard.chosenThreshold],
  ] as const) {
    assert.ok(p.accuracy >= 0.96);
    assert.ok(
      p.sizeRatio < h.sizeRatio && p.hardFoldAccuracy < 0.96,
      'on noisy data the pooled mean accepts a point that fails on the hardest folds',
    );
  }
});

test('training is reproducible with a seed and differs with another', () => {
  const rows = gridRows(60, 2);
  const a = fitNetwork(rows, { ...fit, seed: 7 }).predict(rows[0]!.features);
  const b = fitNetwork(rows, { ...fit, seed: 7 }).predict(rows[0]!.features);
  const c = fitNetwork(rows, { ...fit, seed: 8 }).predict(rows[0]!.features);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

test('a trained policy, decided by OnnxPolicy at its threshold, learns resolution and quality per image', async () => {
  const rows = gridRows(300, 3);
  const nets = fitEnsemble(rows, { ...fit, epochs: 100, ensemble: 2 });
  const allowed = allowedActions(gridActions, 75);
  const exported = exportPolicy(nets, fit.inputs, featureNames.length, 0.5, allowed, inputRange(rows, 12));
  const threshold = 0.9;
  const bytes = encodePolicy(exported, description('learnt', threshold));
  const test = gridRows(100, 4);
  const choices = await choicesOfModel(bytes, test, LIMITS);
  // The proxy's decision equals the trainer's threshold rule on the TS mirror.
  test.forEach((row, i) => {
    const out = forwardHeads(exported.trunk, exported.activations, exported.heads, row.features, exported.clip);
    const k = thresholdChoice(
      row,
      { accuracy: Array.from(out.agreement!), ratio: Array.from(out.size!) },
      threshold,
      allowed,
    );
    assert.equal(actionKey(row.sent[choices[i]!]!), actionKey(row.sent[k]!));
  });
  const metrics = metricsOf(test, (_, i) => choices[i]!);
  assert.ok(metrics.accuracy >= 0.9, `accuracy ${metrics.accuracy}`);
  // The cheapest fixed action keeping every answer is q65 at 384 px; easy images are safe at 256 px, q15.
  const fixedSafe = metricsOf(test, () => column(65, 384));
  assert.ok(
    metrics.sizeRatio < 0.85 * fixedSafe.sizeRatio,
    `size ${metrics.sizeRatio} vs fixed ${fixedSafe.sizeRatio}`,
  );
  const easy = test.map((r, i) => ({ r, i })).filter(({ r }) => r.features[0]! < -0.3);
  const resized = easy.filter(({ i }) => test[i]!.sent[choices[i]!]!.maxSide !== undefined).length;
  assert.ok(resized > 0.8 * easy.length, `only ${resized} of ${easy.length} clearly easy images were sent resized`);
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
  const rows = [...gridRows(200, 5), ...gridRows(100, 6, () => 'validation')];
  const net = fitNetwork(
    rows.filter((r) => r.split === 'train'),
    { ...fit, epochs: 100 },
  );
  const allowed = allowedActions(gridActions, 75);
  const good = exportPolicy(net, fit.inputs, featureNames.length, 0.5, allowed);
  const goodBytes = encodePolicy(good, description('good', 0.9));
  // The bad one: predicts every action safe, so it always sends the cheapest (q5 at 256 px) and loses answers.
  const bad = exportPolicy(net, fit.inputs, featureNames.length, 0.5, allowed);
  for (const head of bad.heads) {
    head.layer.weights.fill(0);
    if (head.name === 'agreement') head.layer.bias.fill(1);
  }
  const badBytes = encodePolicy(bad, description('bad', 0.9));
  const live = join(dir, 'live.onnx');
  await writeFile(live, goodBytes);
  const refused = await promote(
    { bytes: badBytes, sizeWeight: 0.5, dataset: { rows } },
    live,
    'rekognition/DetectLabels',
  );
  assert.equal(refused.promoted, false, refused.reason);
  assert.match(refused.reason, /not better.*accuracy .* at size ratio/);
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

test('collect sweeps the grid sending each distinct upload once, records what every grid action sent, and resumes', async () => {
  const images = await mkdtemp(join(tmpdir(), 'collect-img-'));
  const out = await mkdtemp(join(tmpdir(), 'collect-out-'));
  // 500x375: every side from 512 up sends the stored size (27 distinct uploads); 120x90: only the stored size (9);
  // 60x50: under Rekognition's 80 px minimum, nothing can be sent.
  await writeFile(join(images, 'a-large.jpg'), await syntheticJpeg(500, 375, 90, 1));
  await writeFile(join(images, 'b-small.jpg'), await syntheticJpeg(120, 90, 90, 2));
  await writeFile(join(images, 'c-tiny.jpg'), await syntheticJpeg(60, 50, 90, 3));
  const seen: { width: number; height: number; bytes: number }[] = [];
  const client: ApiClient = {
    async call(_key, image) {
      seen.push({ width: image.width, height: image.height, bytes: image.bytes.length });
      // An answer in the original's pixels, as the request path's read-answer step gives it.
      const box = { left: 10, top: 10, width: 50, height: 40 };
      return {
        status: 200,
        answer: { labels: [{ name: image.width > 200 ? 'cat' : 'blur', score: 0.9 }], faces: [{ box, score: 0.9 }] },
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
  assert.equal((await plannedCalls(config)).calls, 27 + 1 + 9 + 1, 'planned: distinct uploads + the file as it is');
  const first = await collect(config, client);
  assert.equal(first.images, 2);
  assert.equal(first.calls, 27 + 1 + 9 + 1);
  assert.equal(new Set(seen.map((s) => `${s.width}x${s.height}`)).size, 4, 'stored size, 384 and 256 px, and 120x90');
  const second = await collect({ ...config, limit: 0 }, client);
  assert.equal(second.skipped, 2);
  assert.equal(second.images, 1);
  assert.equal(second.calls, 0, 'an image under the minimum side is recorded, never sent');
  const records = await readRecords(join(out, recordFileName('rekognition/DetectLabels')));
  assert.deepEqual(
    records.map((r) => r.image),
    ['a-large.jpg', 'b-small.jpg', 'c-tiny.jpg'],
  );
  const [large, small, tiny] = records as [CollectedRecord, CollectedRecord, CollectedRecord];
  for (const r of records) {
    assert.equal(r.v, COLLECT_SCHEMA_VERSION);
    assert.deepEqual(r.grid.map(actionKey), gridActions.map(actionKey));
    assert.equal(r.features.version, FEATURE_VERSION);
    assert.ok(r.header, 'the header facts are stored: a later feature version needs no image');
    assert.deepEqual(r.limits, LIMITS);
  }
  assert.equal(large.sent.length, 27);
  assert.equal(small.sent.length, 9);
  assert.equal(tiny.sent.length, 0);
  assert.match(tiny.unsendable!, /minimum side \(80 px\)/);
  // Every grid action points at what it sends: 2048 px and 512 px q35 send the stored size, 384 px resizes.
  const sentAt = (r: CollectedRecord, quality: number, side?: number) => r.sent[r.sentBy[column(quality, side)]!]!;
  assert.deepEqual(sentAt(large, 35, 2048).action, { quality: 35 });
  assert.deepEqual(sentAt(large, 35, 512), sentAt(large, 35));
  assert.deepEqual(sentAt(large, 35, 384).action, { quality: 35, maxSide: 384 });
  assert.deepEqual([sentAt(large, 35, 384).width, sentAt(large, 35, 384).height], [384, 288]);
  assert.ok(sentAt(large, 35, 256).bytes < sentAt(large, 35, 384).bytes);
  assert.equal(large.asIs?.bytes, (await readFile(join(images, 'a-large.jpg'))).length);
  // The dataset: one row per sendable image, every grid action's agreement against q75 at the stored size (the paper's
  // reference, asked for: the default, the original, is tested in reference.test.ts).
  const dataset = buildDataset('rekognition/DetectLabels', records, 'q75');
  assert.equal(dataset.rows.length, 2);
  assert.equal(dataset.dropped, 1);
  const row = dataset.rows[0]!;
  assert.equal(row.accuracy.length, gridActions.length);
  assert.equal(row.ratio[column(75)], 1);
  assert.equal(row.accuracy[column(5, 256)], 1, 'labelled cat at 256 px too');
  assert.equal(row.candidates.length, 27);
  // An interrupt stops before the next image: nothing half-written.
  const stopped = await collect({ ...config, out: await mkdtemp(join(tmpdir(), 'collect-stop-')), limit: 0 }, client, {
    stopped: true,
  });
  assert.equal(stopped.images, 0);
});

test('exported models never choose an action above the reference quality at the stored size (it only costs bytes)', async () => {
  // Rows where only q85 at the stored size agrees: unmasked, both rules would choose it; masked, neither does.
  const rows = gridRows(60, 3).map((row) => {
    const accuracy = row.sent.map((a) => (a.quality === 85 && a.maxSide === undefined ? 1 : 0));
    return { ...row, accuracy, overlap: accuracy };
  });
  const net = fitNetwork(rows, fit);
  const allowed = allowedActions(gridActions, 75);
  assert.ok(allowed[column(85, 384)], 'a higher quality at a smaller side stays a choice');
  const masked = exportPolicy(net, fit.inputs, featureNames.length, 0.01, allowed);
  const unmasked = exportPolicy(net, fit.inputs, featureNames.length, 0.01);
  const overReference = (k: number, row: ImageRow) => row.sent[k]!.maxSide === undefined && row.sent[k]!.quality > 75;
  const decide = async (exported: typeof masked) => {
    const bytes = encodePolicy(exported, description('m', 0.5));
    const byThreshold = await choicesOfModel(bytes, rows, LIMITS);
    const byScores = await choicesOfModel(
      encodePolicy(exported, { ...description('s'), threshold: undefined }),
      rows,
      LIMITS,
    );
    return [...byThreshold, ...byScores];
  };
  assert.ok((await decide(unmasked)).some((k, i) => overReference(k, rows[i % rows.length]!)));
  for (const [i, k] of (await decide(masked)).entries()) assert.ok(!overReference(k, rows[i % rows.length]!));
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
    grid: [],
    sentBy: [],
    sent: [],
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

test('a monotone agreement head caps each action by its safer ones, in the graph and in the TS mirror alike', async () => {
  const rows = gridRows(80, 8);
  const net = fitNetwork(rows, fit);
  const allowed = allowedActions(gridActions, 75);
  const plain = exportPolicy(net, fit.inputs, featureNames.length, 0.5, allowed);
  for (const mode of ['quality', 'side-quality'] as const) {
    const safer = saferSets(gridActions, allowed, mode)!;
    // q35 at 384 px: capped by higher qualities at 384 px, and (side-quality) at every larger side too.
    const k = column(35, 384);
    assert.ok(safer[k]!.includes(column(45, 384)));
    assert.equal(safer[k]!.includes(column(45, 512)), mode === 'side-quality');
    assert.ok(!safer[k]!.includes(column(25, 384)) && !safer[k]!.includes(column(85)), 'never a riskier or masked one');
    const monotone = exportPolicy(net, fit.inputs, featureNames.length, 0.5, allowed, undefined, safer);
    const policy = await OnnxPolicy.fromBytes(encodePolicy(monotone, description(mode, 0.9)), greedyOnly);
    try {
      for (const row of rows.slice(0, 5)) {
        const raw = forwardHeads(plain.trunk, plain.activations, plain.heads, row.features).agreement!;
        const mirror = forwardHeads(monotone.trunk, monotone.activations, monotone.heads, row.features).agreement!;
        const onnx = (await policy.outputs(Float32Array.from(row.features))).agreement!;
        safer.forEach((over, j) => {
          const expected = Math.min(...over.map((i) => raw[i]!));
          assert.ok(Math.abs(mirror[j]! - expected) < 1e-6, `mirror ${j}`);
          assert.ok(Math.abs(onnx[j]! - expected) < 1e-5, `onnx ${j}: ${onnx[j]} vs ${expected}`);
        });
      }
    } finally {
      await policy.release();
    }
  }
});
