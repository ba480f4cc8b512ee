import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Engine, engines } from '../../src/emulator/backends/engines.ts';
import { type Inference, inProcessInference } from '../../src/emulator/inference.ts';
import { Gate } from '../../src/emulator/runtime.ts';
import { buildEmulator } from '../../src/emulator/server.ts';
import { emptyInference, solid } from './helpers.ts';

/** An inference that holds every call until released: makes concurrency deterministic without timing. */
function heldInference() {
  const waiting: (() => void)[] = [];
  const inference: Inference = {
    run: async (job) => {
      await new Promise<void>((resolve) => waiting.push(resolve));
      return emptyInference.run(job);
    },
    close: async () => {},
  };
  return {
    inference,
    waiting,
    releaseAll: () => {
      for (const release of waiting.splice(0)) release();
    },
  };
}

const faceppForm = async () => {
  const form = new FormData();
  form.set('api_key', 'emulator-key');
  form.set('api_secret', 'emulator-secret');
  form.set('image_file', new Blob([new Uint8Array(await solid(100, 100))]), 'x.jpg');
  const request = new Request('http://x/', { method: 'POST', body: form });
  return { body: Buffer.from(await request.arrayBuffer()), type: request.headers.get('content-type')! };
};

describe('emulator admin routes and admission', () => {
  it('counts calls, request bytes and image bytes per API, and resets them', async () => {
    const app = await buildEmulator({}, { inference: emptyInference });
    const { body, type } = await faceppForm();
    const response = await app.inject({
      method: 'POST',
      url: '/facepp/v3/detect',
      headers: { 'content-type': type },
      body,
    });
    assert.equal(response.statusCode, 200);
    const stats = (await app.inject({ method: 'GET', url: '/__emulator/stats' })).json();
    assert.equal(stats.facepp.calls, 1);
    assert.equal(stats.facepp.requestBytes, body.length);
    assert.equal(stats.facepp.imageBytes, (await solid(100, 100)).length);
    assert.equal(stats.rekognition.calls, 0);
    const reset = (await app.inject({ method: 'POST', url: '/__emulator/stats/reset' })).json();
    assert.equal(reset.facepp.calls, 0);
    await app.close();
  });

  it('answers Face++ CONCURRENCY_LIMIT_EXCEEDED when the slots and the queue are full', async () => {
    const held = heldInference();
    const app = await buildEmulator({ concurrency: 1, queue: 1 }, { inference: held.inference });
    const { body, type } = await faceppForm();
    const call = () =>
      app.inject({ method: 'POST', url: '/facepp/v3/detect', headers: { 'content-type': type }, body });
    const first = call();
    const second = call();
    // Wait until the first call holds the only slot (it reached inference) before sending the third.
    while (held.waiting.length === 0) await new Promise((r) => setImmediate(r));
    const third = await call();
    assert.equal(third.statusCode, 403);
    assert.equal(third.json().error_message, 'CONCURRENCY_LIMIT_EXCEEDED');
    held.releaseAll();
    await first;
    while (held.waiting.length === 0) await new Promise((r) => setImmediate(r));
    held.releaseAll();
    assert.equal((await second).statusCode, 200);
    await app.close();
  });

  it('changes the run-time knobs over HTTP and refuses unknown ones', async () => {
    const app = await buildEmulator({}, { inference: emptyInference });
    const ok = await app.inject({
      method: 'POST',
      url: '/__emulator/config',
      payload: { labelsBackend: 'classifier', latencyMs: 5 },
    });
    assert.equal(ok.statusCode, 200);
    const knobs = ok.json();
    assert.equal(knobs.labelsBackend, 'classifier');
    assert.equal(knobs.latencyMs, 5);
    // labelsBackend is the older name for DetectLabels without its detector.
    assert.equal(knobs.rekognitionDetectLabels, 'mobilenetv2-12-int8');
    const back = await app.inject({
      method: 'POST',
      url: '/__emulator/config',
      payload: { labelsBackend: 'detector+classifier' },
    });
    assert.equal(back.json().rekognitionDetectLabels, 'mobilenetv2-12-int8+fastestdet');
    const bad = await app.inject({ method: 'POST', url: '/__emulator/config', payload: { labelsBackend: 'oracle' } });
    assert.equal(bad.statusCode, 400);
    const unknown = await app.inject({ method: 'POST', url: '/__emulator/config', payload: { secret: 'x' } });
    assert.equal(unknown.statusCode, 400);
    await app.close();
  });

  it('switches any operation to another backend and working resolution, all or nothing, and lists the backends', async () => {
    const app = await buildEmulator({}, { inference: emptyInference });
    const post = (payload: Record<string, unknown>) =>
      app.inject({ method: 'POST', url: '/__emulator/config', payload });
    const ok = await post({
      baiduAdvancedGeneral: 'mobilenet-v3-small',
      faceppDetect: 'yunet@native',
      faceppOrientation: 'exif',
    });
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.json().baiduAdvancedGeneral, 'mobilenet-v3-small');
    assert.equal(app.emulator.config.faceppDetect, 'yunet@native');
    assert.equal(app.emulator.config.faceppOrientation, 'exif');
    const refused: [Record<string, unknown>, RegExp][] = [
      [{ baiduFaceDetect: 'resnet-50' }, /baiduFaceDetect: unknown backend resnet-50 \(known: .*yunet/],
      [{ baiduAdvancedGeneral: 'yunet' }, /yunet answers faces; Baidu advanced_general needs classify/],
      [{ faceppDetectsceneandobject: 'fastestdet' }, /needs a classify backend/],
      [{ rekognitionDetectLabels: 'mobilenetv2-12-int8+mobilenet-v3-small' }, /two classify backends/],
      [{ rekognitionDetectFaces: 'yunet@big' }, /is not backend/],
      [{ rekognitionOrientation: 'sideways' }, /exif or stored/],
      [{ labelsBackend: 'classifier', rekognitionDetectLabels: 'mobilenet-v3-small' }, /not both/],
    ];
    for (const [payload, message] of refused) {
      const response = await post({ latencyMs: 9, ...payload });
      assert.equal(response.statusCode, 400, JSON.stringify(payload));
      assert.match(response.json().error, message);
    }
    // Nothing of a refused patch was applied.
    assert.equal(app.emulator.config.latencyMs, 0);
    assert.equal(app.emulator.config.baiduFaceDetect, 'yunet@1920x1080');
    const backends = (await app.inject({ method: 'GET', url: '/__emulator/backends' })).json() as {
      name: string;
      task: string;
    }[];
    assert.deepEqual(backends.map((b) => `${b.name}:${b.task}`).sort(), [
      'fastestdet:objects',
      'mobilenet-v3-small:classify',
      'mobilenetv2-12-int8:classify',
      'ppocr-v4:text',
      'ultraface-rfb-320:faces',
      'yolox-nano:objects',
      'yunet:faces',
    ]);
    // The OCR engine is an engine, not a spec'd model: listed as one.
    assert.equal((backends.find((b) => b.name === 'ppocr-v4') as { engine?: boolean }).engine, true);
    await app.close();
  });

  it('starts with every operation bound as configured, and --labels-backend classifier drops the detector', async () => {
    const app = await buildEmulator(
      { labelsBackend: 'classifier', rekognitionDetectFaces: 'ultraface-rfb-320' },
      { inference: emptyInference },
    );
    const knobs = (await app.inject({ method: 'GET', url: '/__emulator/config' })).json();
    assert.equal(knobs.rekognitionDetectLabels, 'mobilenetv2-12-int8');
    assert.equal(knobs.labelsBackend, 'classifier');
    assert.equal(knobs.rekognitionDetectFaces, 'ultraface-rfb-320');
    assert.equal(knobs.rekognitionOrientation, 'exif');
    assert.equal(knobs.faceppOrientation, 'stored');
    await app.close();
  });

  it('binds an engine registered beside the specs, as a multi-model backend (OCR) will plug in', async () => {
    const box = { left: 0.25, top: 0.25, width: 0.5, height: 0.5 };
    const engine: Engine = {
      name: 'one-face',
      task: 'faces',
      load: async () => ({
        name: 'one-face',
        task: 'faces',
        run: async () => [{ name: 'face', score: 0.99, box }],
        release: async () => {},
      }),
    };
    engines.push(engine);
    try {
      const inference = await inProcessInference([], '/no/models/needed');
      const app = await buildEmulator({ baiduFaceDetect: 'one-face' }, { inference });
      const token = (
        await app.inject({
          method: 'POST',
          url: '/oauth/2.0/token?grant_type=client_credentials&client_id=emulator-ak&client_secret=emulator-sk',
        })
      ).json().access_token;
      const detect = await app.inject({
        method: 'POST',
        url: `/rest/2.0/face/v3/detect?access_token=${token}`,
        headers: { 'content-type': 'application/json' },
        payload: { image: (await solid(200, 100)).toString('base64'), image_type: 'BASE64' },
      });
      assert.deepEqual(detect.json().result.face_list[0].location, {
        left: 50,
        top: 25,
        width: 100,
        height: 50,
        rotation: 0,
      });
      const listed = (await app.inject({ method: 'GET', url: '/__emulator/backends' })).json();
      assert.ok(listed.some((b: { name: string; engine?: boolean }) => b.name === 'one-face' && b.engine));
      await app.close();
      await inference.close();
    } finally {
      engines.splice(engines.indexOf(engine), 1);
    }
  });

  it('Gate admits up to concurrency, queues up to queue, refuses beyond, and hands slots to waiters', async () => {
    const gate = new Gate(1, 1);
    const first = await gate.acquire();
    assert.ok(first);
    const secondPending = gate.acquire();
    assert.equal(await gate.acquire(), undefined);
    first();
    const second = await secondPending;
    assert.ok(second);
    second();
    assert.ok(await gate.acquire());
  });
});
