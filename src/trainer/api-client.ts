/**
 * Sends one image to one API operation the way a client would, and reads the answer with the SAME provider code the
 * proxy uses (`Provider.answer`), so collected answers are exactly what the proxy's decision log would hold.
 */
import type { Answer } from '../answer.ts';
import { createBaiduProvider } from '../providers/baidu.ts';
import { createFaceppProvider } from '../providers/facepp.ts';
import { createRekognitionProvider } from '../providers/rekognition.ts';
import type { OutgoingRequest, Provider } from '../providers/types.ts';

/** The operations collect knows how to call, by router key (provider/operation). */
export const collectKeys = [
  'rekognition/DetectLabels',
  'rekognition/DetectFaces',
  'baidu/image-classify/v2/advanced_general',
  'baidu/face/v3/detect',
  'facepp/imagepp/beta/detectsceneandobject',
  'facepp/facepp/v3/detect',
] as const;
export type CollectKey = (typeof collectKeys)[number];

export interface Endpoints {
  rekognition: string;
  facepp: string;
  baidu: string;
}

export interface ApiCredentials {
  awsAccessKeyId: string;
  awsSecretAccessKey: string;
  awsRegion: string;
  faceppApiKey: string;
  faceppApiSecret: string;
  baiduApiKey: string;
  baiduSecretKey: string;
}

/** The emulator's documented credentials (docs/EMULATOR.md). */
export const emulatorCredentials: ApiCredentials = {
  awsAccessKeyId: 'AKIDEMULATOR',
  awsSecretAccessKey: 'emulator-secret',
  awsRegion: 'us-east-1',
  faceppApiKey: 'emulator-key',
  faceppApiSecret: 'emulator-secret',
  baiduApiKey: 'emulator-ak',
  baiduSecretKey: 'emulator-sk',
};

export interface CallResult {
  status: number;
  answer: Answer | null;
}

export interface ApiClient {
  call(key: CollectKey, image: Buffer, size: { width: number; height: number }): Promise<CallResult>;
}

const MAX_BODY = 16 * 1024 * 1024;

export function splitKey(key: string): { provider: string; operation: string } {
  const slash = key.indexOf('/');
  return { provider: key.slice(0, slash), operation: key.slice(slash + 1) };
}

export function createApiClient(endpoints: Endpoints, credentials: ApiCredentials, timeoutMs = 60_000): ApiClient {
  const rekognition = createRekognitionProvider({
    endpoint: endpoints.rekognition,
    region: credentials.awsRegion,
    credentials: async () => ({
      accessKeyId: credentials.awsAccessKeyId,
      secretAccessKey: credentials.awsSecretAccessKey,
    }),
    clientSecrets: new Map(),
    unverified: 'allow',
    maxBodyBytes: MAX_BODY,
  });
  const facepp = createFaceppProvider({ origin: endpoints.facepp, maxBodyBytes: MAX_BODY });
  const baidu = createBaiduProvider({ origin: endpoints.baidu, maxBodyBytes: MAX_BODY });
  let baiduToken: Promise<string> | undefined;

  const send = async (origin: string, request: OutgoingRequest): Promise<{ status: number; body: Buffer }> => {
    const response = await fetch(new URL(request.url, origin), {
      method: request.method,
      headers: request.headers,
      body: new Uint8Array(request.body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: response.status, body: Buffer.from(await response.arrayBuffer()) };
  };

  const token = (): Promise<string> => {
    baiduToken ??= (async () => {
      const query = new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: credentials.baiduApiKey,
        client_secret: credentials.baiduSecretKey,
      });
      const response = await fetch(new URL(`/oauth/2.0/token?${query}`, endpoints.baidu), { method: 'POST' });
      const body = (await response.json()) as { access_token?: string };
      if (!body.access_token) {
        baiduToken = undefined;
        throw new Error(`Baidu token request failed (HTTP ${response.status})`);
      }
      return body.access_token;
    })();
    return baiduToken;
  };

  const read = (
    provider: Provider,
    operation: string,
    status: number,
    body: Buffer,
    size: { width: number; height: number },
  ) => provider.answer(operation, status, body, size) ?? null;

  return {
    async call(key, image, size) {
      const { provider, operation } = splitKey(key);
      if (provider === 'rekognition') {
        const body = Buffer.from(JSON.stringify({ Image: { Bytes: image.toString('base64') } }));
        const head = {
          method: 'POST',
          url: '/',
          headers: {
            'content-type': 'application/x-amz-json-1.1',
            'x-amz-target': `RekognitionService.${operation}`,
          },
        };
        const signed = await rekognition.sign!({ ...head, body }, head);
        const { status, body: answer } = await send(rekognition.upstreamOrigin(head), signed);
        return { status, answer: read(rekognition, operation, status, answer, size) };
      }
      if (provider === 'facepp') {
        const form = new FormData();
        form.set('api_key', credentials.faceppApiKey);
        form.set('api_secret', credentials.faceppApiSecret);
        form.set('image_file', new Blob([new Uint8Array(image)], { type: 'image/jpeg' }), 'image.jpg');
        const response = await fetch(new URL(`/${operation}`, endpoints.facepp), {
          method: 'POST',
          body: form,
          signal: AbortSignal.timeout(timeoutMs),
        });
        const body = Buffer.from(await response.arrayBuffer());
        return { status: response.status, answer: read(facepp, operation, response.status, body, size) };
      }
      if (provider === 'baidu') {
        const url = `/rest/2.0/${operation}?access_token=${encodeURIComponent(await token())}`;
        const json = operation.startsWith('face/');
        // Faces: ask for up to 10 (the API's default is the largest face only, which would make recall trivial).
        const body = json
          ? Buffer.from(JSON.stringify({ image: image.toString('base64'), image_type: 'BASE64', max_face_num: 10 }))
          : Buffer.from(`image=${encodeURIComponent(image.toString('base64'))}`);
        const headers = {
          'content-type': json ? 'application/json' : 'application/x-www-form-urlencoded',
        };
        const { status, body: answer } = await send(endpoints.baidu, { method: 'POST', url, headers, body });
        return { status, answer: read(baidu, operation, status, answer, size) };
      }
      throw new Error(`collect: no client for ${key}`);
    },
  };
}
