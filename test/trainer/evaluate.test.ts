import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { EncodeAction } from '../../src/codec/types.ts';
import { loadOptions } from '../../src/config/options.ts';
import { actionKey, candidatesFor, effectiveAction, gridActions } from '../../src/policy/actions.ts';
import { OnnxPolicy } from '../../src/policy/onnx-policy.ts';
import { readOnnxMetadata } from '../../src/policy/onnx-writer.ts';
import { seededRng } from '../../src/policy/rng.ts';
import type { ApiClient } from '../../src/trainer/api-client.ts';
import { collect } from '../../src/trainer/collect.ts';
import { readRecords, recordFileName } from '../../src/trainer/data.ts';
import { buildDataset, metricsOf, rewardSpecOf } from '../../src/trainer/dataset.ts';
import { bestFixed, evaluateModel, evaluationTable } from '../../src/trainer/evaluate.ts';
import { evaluateOnLogs, fitFromLogs, type LoggedDecision, policyOnLogs } from '../../src/trainer/logs.ts';
import { trainFromDataset } from '../../src/trainer/train.ts';
import { trainOptions } from '../../src/trainer/train-config.ts';
import { syntheticJpeg } from '../codec/images.ts';
import { column, gridRows, HEIGHT, LIMITS, ratioOf, safeQuality, WIDTH } from './synthetic.ts';

const dirs: string[] = [];
const scratch = async (name: string) => {
  const dir = await mkdtemp(join(tmpdir(), `evaluate-${name}-`));
  dirs.push(dir);
  return dir;
};
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

const trainConfig = (argv: string[] = []) => {
  const { help: _, ...config } = loadOptions(
    trainOptions,
    ['--ensemble', '2', '--cv-repeats', '1', '--epochs', '60', '--hidden', '8', ...argv],
    {},
  );
  return config;
};

describe('the evaluation table', () => {
  const rows = gridRows(100, 21, () => 'validation');

  it('lists every fixed action once (sides sending the same merged), and the cheapest fixed action at each accuracy', () => {
    const table = evaluationTable(
      'rekognition/DetectLabels',
      rows,
      rows.map(() => column(25, 384)),
      'm',
    );
    const fixed = table.filter((r) => r.kind === 'fixed');
    // On 500x375 images sides 2048..512 send the stored size: 9 qualities x 3 distinct sides.
    assert.equal(fixed.length, 27);
    const full35 = fixed.find((r) => r.action && actionKey(r.action) === actionKey({ quality: 35, maxSide: 512 }))!;
    assert.deepEqual(
      full35.same?.map((a) => a.maxSide ?? 'full'),
      ['full', 2048, 1536, 1024, 768],
    );
    for (const level of [0.9, 0.95, 1]) {
      const best = bestFixed(fixed, level)!;
      assert.ok(best.accuracy >= level);
      for (const r of fixed) if (r.accuracy >= level) assert.ok(r.meanBytes! >= best.meanBytes!);
      assert.ok(table.some((r) => r.kind === 'best-fixed' && r.level === level && r.meanBytes === best.meanBytes));
    }
    // Hard images keep the answer from q45 at the stored size or q65 at 384 px: the latter is the cheaper of the two.
    assert.deepEqual(bestFixed(fixed, 1)!.action, { quality: 65, maxSide: 384 });
    const policy = table[0]!;
    assert.equal(policy.kind, 'policy');
    assert.equal(policy.meanSide, 384);
    const oracle = table.find((r) => r.name.startsWith('oracle ('))!;
    assert.equal(oracle.accuracy, 1);
    assert.ok(oracle.meanBytes! < bestFixed(fixed, 1)!.meanBytes!);
  });
});

describe('collect -> train -> evaluate on the grid, end to end', () => {
  it("a model trained on collected data is scored by the proxy's decision code, beside every fixed action", async () => {
    const images = await scratch('img');
    const out = await scratch('out');
    for (let i = 0; i < 30; i++) {
      // Odd photos are busy (noisy at a higher quality): bigger files, and they need more pixels and bits.
      await writeFile(
        join(images, `p${String(i).padStart(2, '0')}.jpg`),
        await syntheticJpeg(WIDTH, HEIGHT, i % 2 ? 95 : 60, i + 1),
      );
    }
    // The API sees "cat" when enough bytes per pixel arrive, "blur" otherwise.
    const client: ApiClient = {
      async call(_key, image) {
        const bitsPerPixel = (8 * image.bytes.length) / (image.width * image.height);
        return {
          status: 200,
          answer: { labels: [{ name: bitsPerPixel > 0.9 ? 'cat' : 'blur', score: 0.9 }], faces: [] },
        };
      },
      close: async () => {},
    };
    const key = 'rekognition/DetectLabels';
    await collect(
      {
        images,
        out,
        apis: [key],
        split: 'all',
        limit: 0,
        concurrency: 4,
        target: 'emulator',
        budget: 0,
        emulatorWorkers: 0,
        maxInputPixels: 1e7,
      },
      client,
    );
    const dataset = buildDataset(key, await readRecords(join(out, recordFileName(key))));
    assert.equal(dataset.rows.length, 30);
    const result = trainFromDataset(dataset, trainConfig(['--accuracy-target', '0.9']));
    const model = join(out, 'model.onnx');
    await writeFile(model, result.bytes);
    const metadata = readOnnxMetadata(result.bytes);
    assert.equal(JSON.parse(metadata.actions!).length, gridActions.length);
    assert.deepEqual(JSON.parse(metadata.operating_point!), { threshold: result.threshold });
    assert.equal(metadata.agreement_output, 'agreement');
    assert.equal(metadata.size_output, 'size');
    const evaluation = await evaluateModel(model, key, out, 'validation');
    assert.equal(evaluation.images, 6);
    assert.equal(evaluation.threshold, result.threshold);
    assert.equal(evaluation.rows.filter((r) => r.kind === 'fixed').length, 27);
    // The policy row is what OnnxPolicy decides for each photo at the model's own threshold.
    const policy = await OnnxPolicy.fromBytes(result.bytes, { exploration: { kind: 'epsilon-greedy', epsilon: 0 } });
    const validation = dataset.rows.filter((r) => r.split === 'validation');
    const columns: number[] = [];
    for (const row of validation) {
      const decision = await policy.decideFromFeatures(Float32Array.from(row.features), row, { limits: LIMITS });
      columns.push(row.sent.findIndex((a) => actionKey(a) === actionKey(decision.action)));
    }
    await policy.release();
    const expected = metricsOf(validation, (_, i) => columns[i]!);
    assert.equal(evaluation.rows[0]!.meanBytes, expected.meanBytes);
    assert.equal(evaluation.rows[0]!.accuracy, expected.accuracy);
    assert.ok(evaluation.bytesVsOracleAtEqualAccuracy >= 1 - 1e-9);
    if (evaluation.bytesVsBestFixedAtEqualAccuracy !== undefined)
      assert.ok(evaluation.bytesVsBestFixedAtEqualAccuracy > 0);
  });
});

/** Logged decisions of a uniform explorer over each image's candidates, in the synthetic world of synthetic.ts. */
function uniformLogs(count: number, seed: number): LoggedDecision[] {
  const rng = seededRng(seed);
  const size = { width: WIDTH, height: HEIGHT };
  const candidates = candidatesFor(gridActions, size, LIMITS, undefined);
  return gridRows(count, seed).map((row) => {
    const pick = candidates[Math.floor(rng() * candidates.length)]!;
    const hard = row.features[0]! > 0;
    const action = pick.action;
    return {
      features: row.features,
      ...size,
      action,
      propensity: 1 / candidates.length,
      accuracy: action.quality >= safeQuality(hard, action.maxSide ?? WIDTH) ? 1 : 0,
      ratio: ratioOf(action),
    };
  });
}

describe('decision logs over the grid', () => {
  it("OPE matches logged uploads by what they sent (quality and side), and recovers a known policy's value", () => {
    const samples = uniformLogs(6000, 31);
    const spec = rewardSpecOf('rekognition/DetectLabels');
    // Target: q65 at 384 px for everyone. Hard images keep the answer there (q65 >= 65), easy ones too: value 1.
    const target: EncodeAction = { quality: 65, maxSide: 384 };
    const agreement = evaluateOnLogs(samples, { sends: () => target }, spec, 1, (s) => s.accuracy);
    assert.ok(Math.abs(agreement.snips.value - 1) < 1e-9, `SNIPS ${agreement.snips.value}`);
    const size = evaluateOnLogs(samples, { sends: () => target }, spec, 1, (s) => s.ratio);
    assert.ok(Math.abs(size.snips.value - ratioOf(target)) < 1e-9);
    // q15 at 256 px: easy images keep it, hard ones lose it: about half.
    const risky = evaluateOnLogs(samples, { sends: () => ({ quality: 15, maxSide: 256 }) }, spec, 1, (s) => s.accuracy);
    assert.ok(Math.abs(risky.snips.value - 0.5) < 0.15, `SNIPS ${risky.snips.value}`);
  });

  it('training from logs maps each logged upload to the grid actions that send it, and picks a threshold by SNIPS', async () => {
    const samples = uniformLogs(3000, 41);
    const result = fitFromLogs(samples, {
      ...trainConfig(['--accuracy-target', '0.9']),
      key: 'rekognition/DetectLabels',
    });
    const metadata = readOnnxMetadata(result.bytes);
    assert.equal(JSON.parse(metadata.actions!).length, gridActions.length);
    const summary = JSON.parse(metadata.data_summary!) as { notInGrid: number; threshold: number };
    assert.equal(summary.notInGrid, 0);
    assert.equal(JSON.parse(metadata.operating_point!).threshold, result.threshold);
    // The learnt model, run by the proxy's code on fresh synthetic images, keeps most answers for fewer bytes than
    // the cheapest fixed action keeping them all (q65 at 384 px).
    const policy = await OnnxPolicy.fromBytes(result.bytes, { exploration: { kind: 'epsilon-greedy', epsilon: 0 } });
    try {
      const fresh = uniformLogs(300, 42);
      const target = await policyOnLogs(policy, fresh, LIMITS);
      let kept = 0;
      let ratio = 0;
      fresh.forEach((s, i) => {
        const sent = target.sends(s, i);
        const hard = s.features[0]! > 0;
        kept += sent.quality >= safeQuality(hard, sent.maxSide ?? WIDTH) ? 1 : 0;
        ratio += ratioOf(effectiveAction(sent, s, LIMITS)!);
      });
      assert.ok(kept / fresh.length >= 0.85, `kept ${kept / fresh.length}`);
      assert.ok(ratio / fresh.length < ratioOf({ quality: 65, maxSide: 384 }), `size ${ratio / fresh.length}`);
    } finally {
      await policy.release();
    }
  });

  it('a logged quality ceiling (point.maxQuality) is replayed: the target sends what the proxy would have, at most that quality', async () => {
    const result = fitFromLogs(uniformLogs(3000, 43), {
      ...trainConfig(['--accuracy-target', '0.9']),
      key: 'rekognition/DetectLabels',
    });
    const policy = await OnnxPolicy.fromBytes(result.bytes, { exploration: { kind: 'epsilon-greedy', epsilon: 0 } });
    try {
      // Logged at the stored size (floor null). Hard images need q45 there: uncapped, the model sends them above 35.
      const at = (point: LoggedDecision['point']) => uniformLogs(200, 44).map((s) => ({ ...s, point }));
      const sent = async (samples: LoggedDecision[]) => {
        const target = await policyOnLogs(policy, samples, LIMITS);
        return samples.map((s, i) => target.sends(s, i));
      };
      const free = await sent(at({ floor: null, level: 0 }));
      assert.ok(
        free.some((a) => a.quality > 35),
        'without a ceiling some images go above q35 (else the test shows nothing)',
      );
      const capped = await sent(at({ floor: null, level: 0, maxQuality: 35 }));
      for (const action of capped) {
        assert.ok(action.quality <= 35, `sent q${action.quality} under a q35 ceiling`);
        assert.equal(action.maxSide, undefined, "at the floor's side: the stored size");
      }
    } finally {
      await policy.release();
    }
  });
});
