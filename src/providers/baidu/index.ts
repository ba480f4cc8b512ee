import { option, url } from '../../config/options.ts';
import { forwardableHeaders, headerValue, pathOf } from '../headers.ts';
import { parseJsonObject } from '../json.ts';
import type { ImageLimits, OperationSpec, ProviderDescriptor, RequestHead } from '../types.ts';
import { baiduAnswers } from './answers.ts';
import { baiduError } from './errors.ts';
import { formImages, jsonImages } from './images.ts';
import { baiduMapAnswer } from './mapping.ts';

/**
 * Baidu AI (aip.baidubce.com): image recognition and OCR take a urlencoded form with `image` (base64, then
 * URL-encoded); face takes JSON with `image` and `image_type`. Authentication is an access_token in the query (or a
 * bce-auth-v1 header that does not sign the body), so a rewritten body stays valid. See PROVIDERS.md.
 */

const REST = '/rest/2.0/';
const MB = 1024 * 1024;
/**
 * Baidu counts 4 MB of base64 *after URL-encoding*. Base64 grows bytes by 4/3; URL-encoding then turns each `+` and
 * `/` (2 of 64 symbols, so about 1/32 of compressed data's characters) into 3 characters: a factor of 1 + 2/32 =
 * 1.0625. 4 MiB / (4/3 * 1.0625) = 2,960,685 decoded bytes on average; 2% below that leaves room for unlucky data.
 * Face's JSON is not URL-encoded, so the same figure is a safe default there too.
 */
export const BAIDU_LIMITS: ImageLimits = {
  minSide: 15,
  maxSide: 4096,
  maxBytes: Math.floor(((4 * MB * 3) / 4 / 1.0625) * 0.98),
};

type Wire = 'form' | 'json';
const operation = (name: string, kind: OperationSpec['kind'], limits: Partial<ImageLimits> = {}): OperationSpec => ({
  name,
  kind,
  limits: { ...BAIDU_LIMITS, ...limits },
  formats: ['jpeg', 'png', 'bmp'],
});

/**
 * Baidu's face-detection guide (the face v3 detect call of its "faceDetect" sample) recommends images within 1920x1080:
 * the face operations are never sent more. The others document no working resolution.
 */
const FACE_WORKING_SIDE = { workingSide: 1920 };

/** Urlencoded operations with the image in the form field `image` (`url` is the alternative the proxy leaves alone). */
const FORM_OPERATIONS: readonly OperationSpec[] = [
  ...[
    'image-classify/v2/advanced_general',
    'image-classify/v1/object_detect',
    'image-classify/v1/animal',
    'image-classify/v1/plant',
    'image-classify/v1/car',
    'image-classify/v2/dish',
    'image-classify/v2/logo',
    'image-classify/v1/multi_object_detect',
  ].map((name) => operation(name, 'labels')),
  ...[
    'ocr/v1/general_basic',
    'ocr/v1/accurate_basic',
    'ocr/v1/general',
    'ocr/v1/accurate',
    'ocr/v1/general_enhanced',
    'ocr/v1/webimage',
    'ocr/v1/handwriting',
    'ocr/v1/numbers',
  ].map((name) => operation(name, 'text')),
];

/**
 * JSON operations: one `{image, image_type}` object, or for match an array of them. Decided by path alone: the
 * official Node SDK sends these JSON bodies labelled `application/x-www-form-urlencoded`.
 */
const JSON_OPERATIONS: readonly OperationSpec[] = [
  operation('face/v3/detect', 'faces', FACE_WORKING_SIDE),
  operation('face/v3/search', 'compare', FACE_WORKING_SIDE),
  operation('face/v3/multi-search', 'compare', FACE_WORKING_SIDE),
  operation('face/v3/match', 'compare', FACE_WORKING_SIDE),
];
const WIRE = new Map<string, Wire>([
  ...FORM_OPERATIONS.map((o): [string, Wire] => [o.name, 'form']),
  ...JSON_OPERATIONS.map((o): [string, Wire] => [o.name, 'json']),
]);

export const baiduOptions = {
  baiduEndpoint: option(url(), 'https://aip.baidubce.com', 'Upstream Baidu AI origin.'),
};

export const baidu: ProviderDescriptor<typeof baiduOptions> = {
  name: 'baidu',
  options: baiduOptions,
  endpointOption: 'baiduEndpoint',
  operations: [...FORM_OPERATIONS, ...JSON_OPERATIONS],

  create: (settings, context) => ({
    name: 'baidu',
    maxBodyBytes: context.maxBodyBytes,
    bufferAll: false,
    matches(head) {
      const path = pathOf(head.url);
      return path.startsWith(REST) || path.startsWith('/oauth/2.0/');
    },
    /** `/oauth/2.0/token` and every other route stream through untouched. */
    imageOperation(head: RequestHead) {
      const path = pathOf(head.url);
      if (head.method !== 'POST' || !path.startsWith(REST)) return undefined;
      const spec = context.operations.get(path.slice(REST.length).replace(/\/+$/, ''));
      if (!spec || WIRE.get(spec.name) === 'json') return spec;
      const mime = (headerValue(head.headers, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
      return mime === 'application/x-www-form-urlencoded' ? spec : undefined;
    },
    extract(request, spec) {
      const found = WIRE.get(spec.name) === 'json' ? jsonImages(request.body, spec) : formImages(request.body, spec);
      if (found === undefined) return undefined;
      return {
        slots: found.slots,
        rebuild: (replacements) => ({
          method: request.method,
          url: request.url,
          headers: forwardableHeaders(request.headers),
          body: found.rebuildBody(replacements),
        }),
      };
    },
    answers: baiduAnswers,
    mapAnswer: baiduMapAnswer,
    errorReply: baiduError,
    upstreamOrigin: () => settings.baiduEndpoint,
  }),

  client: {
    operations: [
      'image-classify/v2/advanced_general',
      'face/v3/detect',
      'ocr/v1/general_basic',
      'ocr/v1/accurate_basic',
      'ocr/v1/general',
      'ocr/v1/accurate',
    ],
    emulatorCredentials: { apiKey: 'emulator-ak', secretKey: 'emulator-sk' },
    credentialsFromEnv: (env) => ({
      apiKey: env.ADACOMPRESS_COLLECT_BAIDU_API_KEY ?? '',
      secretKey: env.ADACOMPRESS_COLLECT_BAIDU_SECRET_KEY ?? '',
    }),
    async request(spec, image, credentials, call) {
      const token = await accessToken(credentials, call);
      const url = `${REST}${spec.name}?access_token=${encodeURIComponent(token)}`;
      if (WIRE.get(spec.name) === 'json') {
        // Faces: ask for up to 10 (the API's default is the largest face only, which would make recall trivial).
        const body = { image: image.toString('base64'), image_type: 'BASE64', max_face_num: 10 };
        return { method: 'POST', url, headers: { 'content-type': 'application/json' }, body: jsonBody(body) };
      }
      const body = Buffer.from(`image=${encodeURIComponent(image.toString('base64'))}`);
      return { method: 'POST', url, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body };
    },
  },

  emulator: async () => (await import('../../emulator/baidu.ts')).registerBaidu,
};

const jsonBody = (value: unknown) => Buffer.from(JSON.stringify(value));

type Call = Parameters<NonNullable<ProviderDescriptor['client']>['request']>[3];

/**
 * OAuth client credentials, fetched once per client (its transport) and credential pair, then reused: tokens live
 * 30 days. Keyed by the transport so that two clients of two endpoints never share a token.
 */
const tokensByClient = new WeakMap<Call, Map<string, Promise<string>>>();
function accessToken(credentials: Readonly<Record<string, string>>, call: Call): Promise<string> {
  const key = `${credentials.apiKey}\n${credentials.secretKey}`;
  let tokens = tokensByClient.get(call);
  if (!tokens) {
    tokens = new Map();
    tokensByClient.set(call, tokens);
  }
  let token = tokens.get(key);
  if (!token) {
    const query = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: credentials.apiKey ?? '',
      client_secret: credentials.secretKey ?? '',
    });
    token = call({ method: 'POST', url: `/oauth/2.0/token?${query}`, headers: {}, body: Buffer.alloc(0) }).then(
      (response) => {
        const value = parseJsonObject(response.body)?.access_token;
        if (typeof value !== 'string') throw new Error(`Baidu token request failed (HTTP ${response.status})`);
        return value;
      },
    );
    token.catch(() => tokens.delete(key));
    tokens.set(key, token);
  }
  return token;
}
