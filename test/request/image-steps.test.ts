import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import type { Policy } from '../../src/policy/types.ts';
import { rekognition } from '../../src/providers/rekognition/index.ts';
import { authenticate } from '../../src/request/authenticate.ts';
import { buffer } from '../../src/request/buffer.ts';
import { describeSlots } from '../../src/request/describe.ts';
import type { Exchange } from '../../src/request/exchange.ts';
import { extract } from '../../src/request/extract.ts';
import { plan } from '../../src/request/plan.ts';
import { rebuild } from '../../src/request/rebuild.ts';
import { route } from '../../src/request/route.ts';
import { shrink } from '../../src/request/shrink.ts';
import { runPath } from '../../src/request/steps.ts';
import { syntheticJpeg } from '../../testkit/images.ts';
import { exchangeOf, testContext } from '../helpers/path-context.ts';
import { testProvider } from '../helpers/providers.ts';

const LABELS = { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'RekognitionService.DetectLabels' };

async function rekognitionExchange(body: unknown, context = testContext().context): Promise<Exchange> {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const exchange = exchangeOf({ method: 'POST', url: '/', headers: LABELS }, Readable.from([Buffer.from(text)]));
  await runPath([route, buffer], exchange, context);
  return exchange;
}
const image = (bytes: Buffer) => ({ Image: { Bytes: bytes.toString('base64') }, MaxLabels: 5 });

test('authenticate: an unsigned request to a re-signing API on a public listener is refused', async () => {
  const { context } = testContext();
  const exchange = await rekognitionExchange(image(Buffer.from('x')), context);
  await runPath([authenticate], exchange, context);
  assert.equal(exchange.error?.code, 'AUTH_UNVERIFIABLE');
});

test('extract: images become slots with their own operation and key', async () => {
  const { context } = testContext();
  const photo = await syntheticJpeg();
  const exchange = await rekognitionExchange(image(photo), context);
  await runPath([extract], exchange, context);
  assert.equal(exchange.slots.length, 1);
  const [slot] = exchange.slots;
  assert.equal(slot!.field, 'Image');
  assert.equal(slot!.key, 'rekognition/DetectLabels');
  assert.equal(slot!.operation.kind, 'labels');
  assert.ok(slot!.bytes.equals(photo));
});

test('extract: unreadable bodies, S3 images and saturation send the original, with the reason', async () => {
  const { context } = testContext();
  const broken = await rekognitionExchange('{"Image":', context);
  await runPath([extract], broken, context);
  assert.equal(broken.originalReason, 'bad-request');
  const s3 = await rekognitionExchange({ Image: { S3Object: { Bucket: 'b', Name: 'n' } } }, context);
  await runPath([extract], s3, context);
  assert.equal(s3.originalReason, 'no-inline-image');
  const busy = testContext({
    limiter: Object.assign(Object.create(null), { saturated: true }) as never,
  }).context;
  const saturated = await rekognitionExchange(image(Buffer.from('x')), busy);
  await runPath([extract], saturated, busy);
  assert.equal(saturated.originalReason, 'overload');
  assert.equal(saturated.slots.length, 0, 'nothing parsed while saturated');
});

test('plan: the learning loop plans every image before it is touched', async () => {
  const planned: string[] = [];
  const loop = { plan: (x: Exchange) => void planned.push(...x.slots.map((s) => s.key)), record: () => {} };
  const { context } = testContext({ loop });
  const exchange = await rekognitionExchange(image(await syntheticJpeg()), context);
  await runPath([extract, plan], exchange, context);
  assert.deepEqual(planned, ['rekognition/DetectLabels']);
});

test("shrink: each image under its plan's policy, never larger, the API's minimum respected", async () => {
  const { context } = testContext();
  const photo = await syntheticJpeg({ width: 400, height: 300, quality: 95 });
  const exchange = await rekognitionExchange(image(photo), context);
  await runPath([extract, shrink], exchange, context);
  const outcome = exchange.slots[0]!.outcome;
  assert.equal(outcome?.kind, 'encoded');
  assert.ok(outcome?.kind === 'encoded' && outcome.bytes.length < photo.length);
  assert.equal(outcome?.decision?.action.quality, 30);
  assert.ok(exchange.slots[0]!.workMs! >= 0);

  const tiny = await rekognitionExchange(image(await syntheticJpeg({ width: 60, height: 60 })), context);
  await runPath([extract, shrink], tiny, context);
  assert.equal(tiny.slots[0]!.outcome?.kind === 'original' && tiny.slots[0]!.outcome.reason, 'below-minimum');

  const failing: Policy = { id: 'broken', decide: async () => Promise.reject(new Error('no')) };
  const withPlan = await rekognitionExchange(image(photo), context);
  await runPath([extract], withPlan, context);
  withPlan.slots[0]!.plan = { route: { state: 'policy', mode: 'policy' }, policy: failing };
  await runPath([shrink], withPlan, context);
  assert.equal(withPlan.slots[0]!.outcome?.kind === 'original' && withPlan.slots[0]!.outcome.reason, 'policy-failed');
});

test('rebuild: the smaller image goes into the request, every other field as sent', async () => {
  const { context } = testContext();
  const photo = await syntheticJpeg({ width: 400, height: 300, quality: 95 });
  const exchange = await rekognitionExchange(image(photo), context);
  await runPath([extract, shrink, rebuild], exchange, context);
  const sent = JSON.parse(exchange.outgoing!.body.toString());
  assert.equal(sent.MaxLabels, 5);
  assert.ok(Buffer.from(sent.Image.Bytes, 'base64').length < photo.length);
});

test('rebuild: a body that would not be smaller on the wire sends the original, images marked so', async () => {
  const { context } = testContext();
  const exchange = await rekognitionExchange(image(await syntheticJpeg()), context);
  await runPath([extract, shrink], exchange, context);
  // Pretend the wire disagrees: the rebuilt body is as large as the client's.
  const real = exchange.extracted!;
  exchange.extracted = { ...real, rebuild: (r) => ({ ...real.rebuild(r), body: Buffer.alloc(exchange.body!.length) }) };
  await runPath([rebuild], exchange, context);
  assert.equal(exchange.outgoing, undefined);
  assert.equal(exchange.slots[0]!.outcome?.kind === 'original' && exchange.slots[0]!.outcome.reason, 'not-smaller');
  assert.equal(exchange.originalReason, 'not-smaller');
});

test('shrink: an image over the API maximum side is fitted to it, and the header says so', async () => {
  const { context } = testContext();
  const wide = await syntheticJpeg({ width: 10_400, height: 300, quality: 90 });
  const exchange = await rekognitionExchange(image(wide), context);
  await runPath([extract, shrink], exchange, context);
  const outcome = exchange.slots[0]!.outcome;
  assert.equal(outcome?.kind, 'encoded');
  if (outcome?.kind !== 'encoded') return;
  assert.equal(Math.max(outcome.width, outcome.height), 10_000, 'Rekognition refuses sides over 10000 px');
  assert.equal(outcome.fitted, 'dimensions');
  assert.match(describeSlots(exchange.slots), /;side=10000;fit=dimensions$/);
});

test('shrink: an image over the byte limit steps down until it fits, never under the minimum side', async () => {
  const provider = testProvider(rekognition, { imageLimits: 'rekognition:maxBytes=6000' });
  const { context } = testContext({ providers: [provider] });
  const noisy = await syntheticJpeg({ width: 900, height: 700, quality: 95 });
  const exchange = await rekognitionExchange(image(noisy), context);
  await runPath([extract, shrink], exchange, context);
  const outcome = exchange.slots[0]!.outcome;
  assert.equal(outcome?.kind, 'encoded');
  if (outcome?.kind !== 'encoded') return;
  assert.ok(outcome.bytes.length <= 6000, `${outcome.bytes.length} bytes`);
  assert.ok(Math.min(outcome.width, outcome.height) >= 80, 'never under the API minimum');
  assert.equal(outcome.fitted, 'bytes');
});

test("shrink: never more than the API's documented working side (Rekognition faces: 1920), never less by default", async () => {
  const { context } = testContext();
  const photo = await syntheticJpeg({ width: 3000, height: 2000, quality: 90 });
  const faces = exchangeOf(
    { method: 'POST', url: '/', headers: { ...LABELS, 'x-amz-target': 'RekognitionService.DetectFaces' } },
    Readable.from([Buffer.from(JSON.stringify(image(photo)))]),
  );
  await runPath([route, buffer, extract, shrink], faces, context);
  const sentFaces = faces.slots[0]!.outcome;
  assert.ok(sentFaces?.kind === 'encoded' && Math.max(sentFaces.width, sentFaces.height) === 1920);
  const labels = await rekognitionExchange(image(photo), context);
  await runPath([extract, shrink], labels, context);
  const sentLabels = labels.slots[0]!.outcome;
  assert.ok(sentLabels?.kind === 'encoded' && sentLabels.width === 3000, 'labels: no documented working side');
});
