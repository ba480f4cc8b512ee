import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { request } from 'undici';
import { estimateJpegQuality } from '../../src/codec/jpeg-quality.ts';
import { type FakeUpstream, type RecordedRequest, startFakeUpstream } from '../../testkit/fake-upstream.ts';
import { syntheticJpeg } from '../../testkit/images.ts';
import { startTestRuntime } from '../helpers/runtime.ts';

/** The longer side of the image in a Rekognition request. */
async function longSideOf(r: RecordedRequest): Promise<number> {
  const image = Buffer.from(JSON.parse(r.body.toString()).Image.Bytes, 'base64');
  const { width = 0, height = 0 } = await sharp(image).metadata();
  return Math.max(width, height);
}

/** A fake Rekognition backend whose answer depends only on the longer side of the image it gets. */
const backendBySide = (answer: (side: number) => unknown) =>
  startFakeUpstream(async (r) => ({ body: JSON.stringify(answer(await longSideOf(r))) }));

/** A fake Rekognition backend that reads "Dog" at the JPEG qualities `reads` accepts, "Cat" at every other. */
const backendReadingDogAt = (reads: (quality: number) => boolean) =>
  startFakeUpstream(async (r) => {
    const image = Buffer.from(JSON.parse(r.body.toString()).Image.Bytes, 'base64');
    const quality = estimateJpegQuality(image)?.quality ?? 0;
    return { body: JSON.stringify({ Labels: [{ Name: reads(quality) ? 'Dog' : 'Cat', Confidence: 90 }] }) };
  });

/** Four client photos at quality 95, 640-688 px wide. */
const photosAtQuality95 = () =>
  Promise.all(Array.from({ length: 4 }, (_, i) => syntheticJpeg({ width: 640 + 16 * i, height: 480, quality: 95 })));

/** A DetectLabels call through the proxy (it must succeed): the labels the client got, and the proxy's header. */
async function detectLabels(url: string, photo: Buffer): Promise<{ labels: string[]; header: string }> {
  const res = await request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'RekognitionService.DetectLabels' },
    body: JSON.stringify({ Image: { Bytes: photo.toString('base64') } }),
  });
  assert.equal(res.statusCode, 200);
  const body = (await res.body.json()) as { Labels: { Name: string }[] };
  return { labels: body.Labels.map((label) => label.Name), header: String(res.headers['x-adacompress']) };
}

/** A few references per request, no budget in the way, every request referenced while a candidate is undecided. */
const REFERENCED_WHILE_CALIBRATING = {
  referenceProbability: 0.05,
  referenceBudgetPerMinute: 100_000,
  calibrationReferenceProbability: 1,
};

/** A fixed rule at `quality`, every request referenced, no budget in the way. */
const everyRequestReferenced = (quality: number) => ({
  policyModels: '',
  quality,
  referenceProbability: 1,
  referenceBudgetPerMinute: 100_000,
});

/**
 * Calibration through the real proxy against a backend whose safe operating point is known: it reads the right label
 * while the image it gets is at least 384 px on its longer side, and the wrong one below. Starting from the stored size,
 * the proxy must find 384 px from its reference uploads alone, keep it across a restart, and send the client's other
 * requests at it.
 */
describe('online calibration on a backend with a known safe resolution', () => {
  let upstream: FakeUpstream;
  let dir: string;
  const photos: Buffer[] = [];

  before(async () => {
    upstream = await backendBySide((side) => ({ Labels: [{ Name: side >= 384 ? 'Dog' : 'Cat', Confidence: 90 }] }));
    dir = await mkdtemp(path.join(tmpdir(), 'adacompress-calibration-'));
    for (let i = 0; i < 4; i++) photos.push(await syntheticJpeg({ width: 800 + 16 * i, height: 600, quality: 95 }));
  });
  after(async () => {
    await upstream.close();
    await rm(dir, { recursive: true, force: true });
  });

  const settings = () => ({
    policyModels: '',
    quality: 50,
    ...REFERENCED_WHILE_CALIBRATING,
    calibrationReferenceProbability: 0.6,
    decisionLog: path.join(dir, 'decisions.jsonl'),
  });

  /** Labels every client got back: a probe's answer ("Cat" below 384 px) must never be one of them. */
  const clientLabels = new Set<string>();

  async function send(url: string, i: number): Promise<string> {
    const { labels, header } = await detectLabels(url, photos[i % photos.length]!);
    for (const name of labels) clientLabels.add(name);
    return header;
  }

  test('finds the smallest safe resolution from references, then sends everyone there', async () => {
    const runtime = await startTestRuntime(upstream.url, settings());
    const key = 'rekognition/DetectLabels';
    for (let i = 0; i < 600 && runtime.runtime.loop.calibration()[key]?.point.floor !== 384; i++) {
      await send(runtime.url, i);
      if (i % 10 === 9) await runtime.runtime.loop.drain(5000);
    }
    const snapshot = runtime.runtime.loop.calibration()[key]!;
    assert.equal(snapshot.point.floor, 384, `settled at ${JSON.stringify(snapshot.current)}`);
    const headers = await Promise.all(Array.from({ length: 8 }, (_, i) => send(runtime.url, i)));
    assert.ok(
      headers.some((h) => /;side=384$/.test(h)),
      `requests go at 384 px: ${headers.join(' | ')}`,
    );
    const controller = runtime.runtime.loop.controllers()[key]!;
    assert.equal(controller.state, 'policy', 'the probes that read "Cat" never sent the controller to fallback');
    // Cheaper candidates were tried upstream (and read "Cat"), but only beside referenced requests: every client
    // got a point that had passed, and read "Dog".
    const sides = await Promise.all(upstream.received.map(longSideOf));
    assert.ok(
      sides.some((side) => side < 384),
      'probes below the safe side went upstream',
    );
    assert.deepEqual([...clientLabels], ['Dog']);
    await runtime.runtime.shutdown();
    const lines = await runtime.logLines();
    const probes = lines.filter((l) => l.type === 'decision' && l.point?.probe);
    assert.ok(probes.length > 0 && probes.every((l) => l.type === 'decision' && /\.probe\d*$/.test(l.id)));
    // A candidate is probed at most once per reference, and never with bytes already answered there.
    const probesOf = new Map<string, number[]>();
    for (const l of probes) {
      if (l.type !== 'decision') continue;
      const base = l.id.replace(/\.probe\d*$/, '');
      probesOf.set(base, [...(probesOf.get(base) ?? []), l.bytesSent]);
    }
    for (const [base, sizes] of probesOf) assert.equal(new Set(sizes).size, sizes.length, `${base}: ${sizes}`);
    const referenced = new Set(lines.flatMap((l) => (l.type === 'reference' ? [l.decisionId] : [])));
    assert.ok(
      probes.every((l) => referenced.has(l.id)),
      'each probe is logged with its reference',
    );

    // A restart keeps what was learnt: no second calibration from the stored size.
    const again = await startTestRuntime(upstream.url, settings());
    await send(again.url, 0);
    assert.equal(again.runtime.loop.calibration()[key]?.point.floor, 384);
    const metrics = await (await request(`${again.adminUrl}/metrics`)).body.text();
    assert.match(metrics, /adacompress_calibration_floor_pixels\{key="rekognition\/DetectLabels"\} 384/);
    const ready = (await (await request(`${again.adminUrl}/readyz`)).body.json()) as {
      calibration: Record<string, { point: { floor: number } }>;
    };
    assert.equal(ready.calibration[key]?.point.floor, 384);
    await again.runtime.shutdown();
  });
  test('a state learnt on the model levels gives --calibration-levels ladder its side when the option changes', async () => {
    const stateDir = await mkdtemp(path.join(tmpdir(), 'adacompress-levels-switch-'));
    const modelLevels = {
      ...REFERENCED_WHILE_CALIBRATING,
      decisionLog: path.join(stateDir, 'decisions.jsonl'),
    };
    const key = 'rekognition/DetectLabels';
    try {
      const first = await startTestRuntime(upstream.url, modelLevels);
      let learnt = first.runtime.loop.calibration()[key];
      for (let i = 0; i < 600 && !(learnt && learnt.current.side > 0); i++) {
        await send(first.url, i);
        if (i % 10 === 9) await first.runtime.loop.drain(5000);
        learnt = first.runtime.loop.calibration()[key];
      }
      await first.runtime.shutdown();
      assert.ok(
        learnt && learnt.current.side > 0,
        `the model's levels moved to a smaller side: ${JSON.stringify(learnt)}`,
      );
      assert.doesNotMatch(learnt.levels, /model-free/, 'on the model levels (the backend reads every quality)');

      const again = await startTestRuntime(upstream.url, { ...modelLevels, calibrationLevels: 'ladder' as const });
      try {
        await send(again.url, 0);
        const restored = again.runtime.loop.calibration()[key]!;
        // The ladder from the safe quality down: q95 against the client's original (the default reference), the
        // start at q75 (its third level, where the model's levels started too).
        assert.match(restored.levels, /:model-free-q95-85-75-65-55-45-35-25-15$/);
        assert.deepEqual(
          restored.current,
          { side: learnt.current.side, level: 2 },
          "the side learnt is kept, on the ladder's q75 rung",
        );
      } finally {
        await again.close();
      }
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  });
  test('probes take slots of the reference budget: extra calls never exceed it', async () => {
    const budget = 5;
    const runtime = await startTestRuntime(upstream.url, {
      ...everyRequestReferenced(50),
      referenceBudgetPerMinute: budget,
    });
    const before = upstream.received.length;
    try {
      for (let i = 0; i < 20; i++) {
        await send(runtime.url, i);
        await runtime.runtime.loop.drain(5000);
      }
      const extra = upstream.received.length - before - 20;
      assert.ok(extra > 1, `references and probes were sent (${extra})`);
      assert.ok(extra <= budget, `${extra} calls beyond the clients' own, budget ${budget}`);
    } finally {
      await runtime.close();
    }
  });
});

/**
 * A backend that works at a higher resolution than the API documents: Rekognition's face operations default to a
 * 1920 px working side, and this one finds the face only in images larger than that. The documented ceiling is then
 * where answers are lost, and calibration must go above it (the stored size as it is), not stay there.
 */
describe('online calibration when the documented working side loses answers', () => {
  let upstream: FakeUpstream;
  let photo: Buffer;

  before(async () => {
    const face = { BoundingBox: { Left: 0.4, Top: 0.3, Width: 0.1, Height: 0.15 }, Confidence: 99 };
    upstream = await backendBySide((side) => ({ FaceDetails: side > 1920 ? [face] : [] }));
    photo = await syntheticJpeg({ width: 2400, height: 1600, quality: 90 });
  });
  after(async () => {
    await upstream.close();
  });

  test('it backs off above the working side and sends the stored size', async () => {
    const runtime = await startTestRuntime(upstream.url, everyRequestReferenced(75));
    const key = 'rekognition/DetectFaces';
    const detect = async () => {
      const res = await request(runtime.url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'RekognitionService.DetectFaces' },
        body: JSON.stringify({ Image: { Bytes: photo.toString('base64') } }),
      });
      assert.equal(res.statusCode, 200);
      const body = (await res.body.json()) as { FaceDetails: unknown[] };
      return { header: String(res.headers['x-adacompress']), faces: body.FaceDetails.length };
    };
    try {
      const first = await detect();
      assert.match(first.header, /side=1920/, 'it starts at the documented working side');
      await runtime.runtime.loop.drain(5000);
      for (let i = 0; i < 40 && !runtime.runtime.loop.calibration()[key]?.point.aboveWorkingSide; i++) {
        await detect();
        await runtime.runtime.loop.drain(5000);
      }
      assert.deepEqual(runtime.runtime.loop.calibration()[key]?.point, {
        floor: null,
        level: 0,
        aboveWorkingSide: true,
      });
      const after = await detect();
      assert.doesNotMatch(after.header, /side=/, `sent at the stored size: ${after.header}`);
      assert.equal(after.faces, 1, 'the client gets the face again');
    } finally {
      await runtime.close();
    }
  });
});

/**
 * A classifier with no confident label for the reference (an empty answer: the paper's "no training sample") reads a
 * label in every smaller upload. Such a reference judges nothing, as offline: it must not count as a disagreement at
 * the points probed (that would hold calibration at the safest point on every unsure photo) nor as an agreement.
 */
describe('online calibration with references that judge nothing', () => {
  let upstream: FakeUpstream;
  let photo: Buffer;

  before(async () => {
    upstream = await backendBySide((side) => ({ Labels: side >= 1000 ? [] : [{ Name: 'Cat', Confidence: 60 }] }));
    photo = await syntheticJpeg({ width: 1200, height: 900, quality: 95 });
  });
  after(async () => {
    await upstream.close();
  });

  test('an empty reference answer is logged but gives calibration no sample', async () => {
    const runtime = await startTestRuntime(upstream.url, everyRequestReferenced(50));
    const key = 'rekognition/DetectLabels';
    try {
      for (let i = 0; i < 12; i++) {
        await detectLabels(runtime.url, photo);
        await runtime.runtime.loop.drain(5000);
      }
      const snapshot = runtime.runtime.loop.calibration()[key]!;
      assert.equal(snapshot.samples, 0, `no sample from an empty reference: ${JSON.stringify(snapshot)}`);
      assert.deepEqual(snapshot.current, { side: 0, level: 0 }, 'nothing moved it');
      await runtime.runtime.shutdown();
      const references = (await runtime.logLines()).filter((l) => l.type === 'reference');
      assert.ok(references.length >= 12, `every reference is still logged (${references.length})`);
      assert.ok(references.every((l) => l.type === 'reference' && l.answer?.labels.length === 0));
    } finally {
      await runtime.close();
    }
  });
});

/**
 * A backend on which the shipped model's predictions do not hold: it reads the right label only in uploads of JPEG
 * quality 60 to 80 (a model trained elsewhere expects nothing of the kind; its strictest level sends two of these
 * photos at quality 55). The model's strictest level loses answers here, so its levels must give way to the
 * model-free quality ladder, and calibration must walk that ladder down to the lowest quality that still reads the
 * label (65), never below it.
 */
describe('online calibration when the model does not hold on the backend', () => {
  let upstream: FakeUpstream;
  const photos: Buffer[] = [];

  before(async () => {
    upstream = await backendReadingDogAt((quality) => quality >= 60 && quality <= 80);
    photos.push(...(await photosAtQuality95()));
  });
  after(async () => {
    await upstream.close();
  });

  test("the model's levels give way to a model-free quality ladder, walked down to what the backend reads", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'adacompress-model-free-'));
    const settings = {
      ...REFERENCED_WHILE_CALIBRATING,
      // The paper's reference: this backend reads the label at q60-80 only, the reference's q75 included.
      referenceKind: 'q75' as const,
      decisionLog: path.join(dir, 'decisions.jsonl'),
    };
    const runtime = await startTestRuntime(upstream.url, settings);
    const key = 'rekognition/DetectLabels';
    const clientLabels = new Set<string>();
    let requests = 0;
    try {
      const model = runtime.runtime.loop.calibration()[key];
      for (let i = 0; i < 1500; i++) {
        requests++;
        const { labels } = await detectLabels(runtime.url, photos[i % photos.length]!);
        for (const name of labels) clientLabels.add(name);
        if (i % 20 === 19) await runtime.runtime.loop.drain(5000);
        const at = runtime.runtime.loop.calibration()[key];
        if (at?.levels.includes('model-free') && at.current.level >= 1 && !at.calibrating) break;
      }
      await runtime.runtime.loop.drain(5000);
      const at = runtime.runtime.loop.calibration()[key]!;
      assert.equal(model, undefined, 'no calibration before the first request');
      assert.match(at.levels, /:model-free-q75-65-55-45-35-25-15$/, `levels: ${JSON.stringify(at)}`);
      assert.equal(
        at.current.level,
        1,
        `settled on q65, the lowest the backend reads, after ${requests}: ${JSON.stringify(at)}`,
      );
      assert.deepEqual([...clientLabels], ['Dog'], 'no client ever got an answer the backend misread');
      const lines = await runtime.logLines();
      const ladderDecisions = lines.filter((l) => l.type === 'decision' && String(l.modelId).includes('model-free'));
      assert.ok(ladderDecisions.length > 0, 'decisions at the ladder are logged with its id');
      // Before the switch, the model's own levels were probed: under the safe rung's ceiling, never above quality 75.
      const modelDecisions = lines.flatMap((l) =>
        l.type === 'decision' && l.point && l.modelId === at.levels.split(':')[0] ? [l] : [],
      );
      assert.ok(modelDecisions.length > 0, 'the model decided some probes');
      assert.ok(
        modelDecisions.every((l) => l.point?.maxQuality === 75 && l.action.quality <= 75),
        JSON.stringify(modelDecisions.map((l) => [l.point, l.action])),
      );
      await runtime.runtime.shutdown();

      // A restart keeps the ladder and its point: the model is not tried again on this backend until another goes live.
      const again = await startTestRuntime(upstream.url, settings);
      try {
        await detectLabels(again.url, photos[0]!);
        const restored = again.runtime.loop.calibration()[key]!;
        assert.equal(restored.levels, at.levels);
        assert.deepEqual(restored.current, at.current);
      } finally {
        await again.close();
      }
    } finally {
      await runtime.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
  test('with --calibration-levels ladder the key walks the model-free ladder from the first request', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'adacompress-ladder-first-'));
    const settings = {
      ...REFERENCED_WHILE_CALIBRATING,
      calibrationLevels: 'ladder' as const,
      referenceKind: 'q75' as const,
      decisionLog: path.join(dir, 'decisions.jsonl'),
    };
    const runtime = await startTestRuntime(upstream.url, settings);
    const key = 'rekognition/DetectLabels';
    const clientLabels = new Set<string>();
    try {
      await detectLabels(runtime.url, photos[0]!);
      const first = runtime.runtime.loop.calibration()[key]!;
      assert.match(first.levels, /:model-free-q75-65-55-45-35-25-15$/, `levels at the first request: ${first.levels}`);
      for (let i = 1; i < 1500; i++) {
        const { labels } = await detectLabels(runtime.url, photos[i % photos.length]!);
        for (const name of labels) clientLabels.add(name);
        if (i % 20 === 19) await runtime.runtime.loop.drain(5000);
        const at = runtime.runtime.loop.calibration()[key];
        if (at && at.current.level >= 1 && !at.calibrating) break;
      }
      await runtime.runtime.loop.drain(5000);
      const at = runtime.runtime.loop.calibration()[key]!;
      assert.equal(at.levels, first.levels, 'the levels stay the ladder');
      assert.equal(at.current.level, 1, `settled on q65, the lowest the backend reads: ${JSON.stringify(at)}`);
      assert.deepEqual([...clientLabels], ['Dog'], 'no client ever got an answer the backend misread');
      const modelId = at.levels.split(':')[0];
      const lines = await runtime.logLines();
      const decisions = lines.filter((l) => l.type === 'decision');
      assert.ok(decisions.length > 0);
      assert.ok(
        decisions.every((l) => l.type === 'decision' && l.modelId !== modelId && l.propensity === 1),
        'the model decided no upload, probes included: every decision is the ladder rule, propensity 1',
      );
      await runtime.runtime.shutdown();

      const again = await startTestRuntime(upstream.url, settings);
      try {
        await detectLabels(again.url, photos[0]!);
        const restored = again.runtime.loop.calibration()[key]!;
        assert.equal(restored.levels, at.levels, 'a restart keeps the ladder');
        assert.deepEqual(restored.current, at.current, 'and its point');
      } finally {
        await again.close();
      }
    } finally {
      await runtime.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/**
 * Against the client's original (the default reference), q75 is not safe by construction: a backend that reads the
 * right label only at quality 85 and above (the client's q95 file included) loses every answer at q75. Calibration
 * must start safe and stop on the rung that still reads, not judge its whole grid bad from a q75 start.
 */
describe('online calibration when q75 itself loses answers against the original', () => {
  let upstream: FakeUpstream;
  const photos: Buffer[] = [];

  before(async () => {
    upstream = await backendReadingDogAt((quality) => quality >= 85);
    photos.push(...(await photosAtQuality95()));
  });
  after(async () => {
    await upstream.close();
  });

  test('it starts on the q95 rung, descends to q85 and not below, and no client gets a label its upload would not', async () => {
    const runtime = await startTestRuntime(upstream.url, REFERENCED_WHILE_CALIBRATING);
    const key = 'rekognition/DetectLabels';
    const clientLabels = new Set<string>();
    try {
      const first = await detectLabels(runtime.url, photos[0]!);
      assert.match(first.header, /^q=95;/, `the first request goes at the safe quality: ${first.header}`);
      const start = runtime.runtime.loop.calibration()[key]!;
      assert.equal(start.current.level, 0, 'on the safest rung');
      let requests = 1;
      for (; requests < 600; requests++) {
        const { labels } = await detectLabels(runtime.url, photos[requests % photos.length]!);
        for (const name of labels) clientLabels.add(name);
        if (requests % 5 === 4) await runtime.runtime.loop.drain(5000);
        const at = runtime.runtime.loop.calibration()[key]!;
        if (at.current.level > 0 && !at.calibrating) break;
      }
      const settled = runtime.runtime.loop.calibration()[key]!;
      assert.equal(
        settled.current.level,
        1,
        `settled one rung down after ${requests} requests: ${JSON.stringify(settled)}`,
      );
      const after = await Promise.all(photos.map((photo) => detectLabels(runtime.url, photo)));
      assert.ok(
        after.every((a) => a.labels[0] === 'Dog' && /^q=85;/.test(a.header)),
        `clients get the q85 rung and the label their own upload gets: ${JSON.stringify(after)}`,
      );
      assert.deepEqual([...clientLabels], ['Dog'], 'no client got the label q75 reads, while calibrating either');
      assert.equal(runtime.runtime.loop.controllers()[key]?.state, 'policy', 'no fallback');
    } finally {
      await runtime.close();
    }
  });

  test('with a reference budget of 0 nothing can move the point: a key starts where the paper does, q75, and tests the same first level', async () => {
    const runtime = await startTestRuntime(upstream.url, {
      ...REFERENCED_WHILE_CALIBRATING,
      referenceBudgetPerMinute: 0,
    });
    try {
      const first = await detectLabels(runtime.url, photos[0]!);
      assert.match(first.header, /^q=75;/, `the first request goes at q75: ${first.header}`);
      const at = runtime.runtime.loop.calibration()['rekognition/DetectLabels']!;
      assert.equal(at.current.level, 2, `on the lowest of the three rungs: ${JSON.stringify(at.current)}`);
      // Either start tests the same level first (the model's trained level): the q95 start only adds rungs above it.
      const referenced = await startTestRuntime(upstream.url, REFERENCED_WHILE_CALIBRATING);
      try {
        await detectLabels(referenced.url, photos[0]!);
        const fromTop = referenced.runtime.loop.calibration()['rekognition/DetectLabels']!;
        const levelOnly = (c: typeof at) => c.candidates.find((k) => k.side === c.current.side)?.level;
        assert.equal(fromTop.current.level, 0);
        assert.ok(levelOnly(at)! > 2, `the first level candidate is below the rungs: ${JSON.stringify(at.candidates)}`);
        assert.equal(levelOnly(fromTop), levelOnly(at), 'the same first level candidate from either start');
      } finally {
        await referenced.close();
      }
    } finally {
      await runtime.close();
    }
  });
});
