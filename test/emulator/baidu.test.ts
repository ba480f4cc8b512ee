import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import { type RunningEmulator, startEmulator } from '../../src/emulator/main.ts';
import { COUPLE, DOG, face, imagenet, modelDir, skipWithoutData, solid } from './helpers.ts';

// baidu-aip-sdk is CommonJS without types.
interface AipClient {
  advancedGeneral(image: string, options?: Record<string, string>): Promise<Record<string, unknown>>;
  detect(image: string, imageType: string, options?: Record<string, string>): Promise<Record<string, unknown>>;
}
type AipClientClass = new (appId: string, ak: string, sk: string) => AipClient;
const aip = createRequire(import.meta.url)('baidu-aip-sdk') as {
  imageClassify: AipClientClass;
  face: AipClientClass;
  HttpClient: { setRequestInterceptor(f: (options: { url: string }) => { url: string }): void };
};

describe('Baidu emulator, driven by baidu-aip-sdk', { skip: skipWithoutData }, () => {
  let emulator: RunningEmulator;
  before(async () => {
    emulator = await startEmulator({ modelDir, workers: 1 });
    // The SDK's documented hook: every request (token included) goes to the emulator instead of aip.baidubce.com.
    aip.HttpClient.setRequestInterceptor((options) => {
      options.url = options.url.replace('https://aip.baidubce.com', emulator.url);
      return options;
    });
  });
  after(() => emulator?.close());

  it('gets a token and classifies a dog photo: top-5 keywords with Animal-Dog roots', async () => {
    const client = new aip.imageClassify('1', 'emulator-ak', 'emulator-sk');
    const out = (await client.advancedGeneral((await imagenet(DOG)).toString('base64'))) as {
      result_num: number;
      result: { keyword: string; score: number; root: string }[];
    };
    assert.equal(out.result_num, 5);
    assert.match(out.result[0]!.keyword, /terrier/i);
    assert.equal(out.result[0]!.root, 'Animal-Dog');
    assert.ok(out.result[0]!.score > out.result[1]!.score);
    assert.equal(emulator.counters().baidu.operations.token, 1);
  });

  it('detects faces with pixel locations inside the image, largest first, up to max_face_num', async () => {
    const client = new aip.face('1', 'emulator-ak', 'emulator-sk');
    const out = (await client.detect((await face(COUPLE)).toString('base64'), 'BASE64', { max_face_num: '10' })) as {
      error_code: number;
      result: {
        face_num: number;
        face_list: { location: { left: number; top: number; width: number; height: number } }[];
      };
    };
    assert.equal(out.error_code, 0);
    assert.equal(out.result.face_num, 2);
    for (const { location: l } of out.result.face_list) {
      // The couple photo is 2280x1588 and the faces are big: boxes in pixels, not ratios.
      assert.ok(
        l.width > 200 && l.left >= 0 && l.left + l.width <= 2280 && l.top + l.height <= 1588,
        JSON.stringify(l),
      );
    }
    const one = (await client.detect((await face(COUPLE)).toString('base64'), 'BASE64')) as {
      result: { face_num: number };
    };
    assert.equal(one.result.face_num, 1);
  });

  it('refuses a call with an invalid token (error 110 in the body)', async () => {
    const response = await fetch(`${emulator.url}/rest/2.0/image-classify/v2/advanced_general?access_token=24.bogus`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `image=${encodeURIComponent((await solid(100, 100)).toString('base64'))}`,
    });
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as { error_code: number }).error_code, 110);
  });

  it('refuses wrong AK/SK at the token endpoint, and the SDK then gets no answer but an error', async () => {
    const token = await fetch(
      `${emulator.url}/oauth/2.0/token?grant_type=client_credentials&client_id=emulator-ak&client_secret=x`,
      {
        method: 'POST',
      },
    );
    assert.equal(token.status, 401);
    assert.equal(((await token.json()) as { error: string }).error, 'invalid_client');
    const client = new aip.imageClassify('1', 'emulator-ak', 'wrong-sk');
    const out = (await client.advancedGeneral((await solid(100, 100)).toString('base64'))) as { error_code?: number };
    assert.equal(out.error_code, 110);
  });

  it('answers its limit errors: too small (216202) and not an image (216201)', async () => {
    const client = new aip.imageClassify('1', 'emulator-ak', 'emulator-sk');
    const small = (await client.advancedGeneral((await solid(10, 40)).toString('base64'))) as { error_code?: number };
    assert.equal(small.error_code, 216202);
    const text = (await client.advancedGeneral(Buffer.from('not an image').toString('base64'))) as {
      error_code?: number;
    };
    assert.equal(text.error_code, 216201);
  });
});
