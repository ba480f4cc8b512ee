import { createHmac } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { baiduFaces, baiduGeneral } from './answers.ts';
import { isImageUnreadable } from './backends/pixels.ts';
import { admit, bodyOf, type EmulatorContext, infer } from './context.ts';
import type { OperationName } from './operations.ts';
import { decodeBase64, inspectImage } from './runtime.ts';
import { type BaiduTextOptions, baiduText } from './text-answers.ts';

/**
 * Baidu AI: OAuth client-credentials tokens, then `?access_token=` on every call; errors in the body (HTTP 200) with
 * Baidu's numeric codes. Limits from PROVIDERS.md (safe defaults: 4 MB of URL-encoded base64, sides 15..4096).
 */

export const BAIDU_LIMITS = {
  maxEncodedBytes: 4 * 1024 * 1024,
  minSide: 15,
  maxSide: 4096,
  formats: ['jpeg', 'png', 'bmp'],
};
const TOKEN_LIFETIME_S = 2_592_000;

class BaiduError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

/** Form (the SDK), JSON (face v3 as documented) or query: one flat map of parameters. */
function readParams(request: FastifyRequest): { params: Map<string, string>; encodedImageBytes: number } {
  const params = new Map<string, string>();
  const body = bodyOf(request);
  const type = String(request.headers['content-type'] ?? '');
  let encodedImageBytes = 0;
  // The SDK's face client sends a JSON body under a form content type: the body's first byte decides, as on Baidu.
  if (type.includes('json') || body[0] === 0x7b) {
    try {
      for (const [k, v] of Object.entries(JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>)) {
        params.set(k, typeof v === 'string' ? v : JSON.stringify(v));
      }
    } catch {
      throw new BaiduError(100, 'Invalid parameter');
    }
    encodedImageBytes = params.get('image')?.length ?? 0;
  } else {
    const text = body.toString('latin1');
    encodedImageBytes = /(?:^|&)image=([^&]*)/.exec(text)?.[1]?.length ?? 0;
    for (const [k, v] of new URLSearchParams(text)) params.set(k, v);
  }
  for (const [k, v] of new URL(request.url, 'http://x').searchParams) if (!params.has(k)) params.set(k, v);
  return { params, encodedImageBytes };
}

/** Tokens are stateless: AK, expiry and an HMAC under the configured SK, so a restart or a second instance accepts them. */
function issueToken(ak: string, sk: string, now: number): string {
  const expires = Math.floor(now / 1000) + TOKEN_LIFETIME_S;
  const payload = `${Buffer.from(ak).toString('base64url')}.${expires}`;
  return `24.${payload}.${createHmac('sha256', sk).update(payload).digest('hex').slice(0, 32)}`;
}

function tokenValid(token: string | undefined, ak: string, sk: string, now: number): boolean {
  const m = /^24\.([A-Za-z0-9_-]+)\.(\d+)\.([0-9a-f]{32})$/.exec(token ?? '');
  if (!m) return false;
  const payload = `${m[1]}.${m[2]}`;
  return (
    Buffer.from(m[1]!, 'base64url').toString() === ak &&
    Number(m[2]) * 1000 > now &&
    createHmac('sha256', sk).update(payload).digest('hex').slice(0, 32) === m[3]
  );
}

async function readImage(ctx: EmulatorContext, params: Map<string, string>, encodedImageBytes: number) {
  const text = params.get('image');
  if (text === undefined || text === '') {
    // url= would need a fetch; the emulator has no network by design, so only inline images are answered.
    throw new BaiduError(216200, params.has('url') ? 'empty image (the emulator does not fetch url=)' : 'empty image');
  }
  if (encodedImageBytes > BAIDU_LIMITS.maxEncodedBytes) throw new BaiduError(216202, 'image size error');
  const bytes = decodeBase64(text);
  if (!bytes || bytes.length === 0) throw new BaiduError(216201, 'image format error');
  ctx.stats.image('baidu', bytes.length);
  const info = await inspectImage(bytes);
  if (!info || !BAIDU_LIMITS.formats.includes(info.format)) throw new BaiduError(216201, 'image format error');
  if (
    Math.min(info.width, info.height) < BAIDU_LIMITS.minSide ||
    Math.max(info.width, info.height) > BAIDU_LIMITS.maxSide
  ) {
    throw new BaiduError(216202, 'image size error');
  }
  return { bytes, info };
}

function intParam(params: Map<string, string>, name: string, fallback: number, min: number, max: number): number {
  const raw = params.get(name);
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new BaiduError(100, 'Invalid parameter');
  return value;
}

/** The OCR routes: which emulated operation each is, and whether its lines carry `location`. */
const OCR_ROUTES: Record<string, { operation: OperationName; location: boolean }> = {
  ocr_general_basic: { operation: 'baiduGeneralBasic', location: false },
  ocr_accurate_basic: { operation: 'baiduAccurateBasic', location: false },
  ocr_general: { operation: 'baiduGeneral', location: true },
  ocr_accurate: { operation: 'baiduAccurate', location: true },
};

/** language_type values the SDK documents (CHN_ENG default); every one is read by the same Chinese-English model. */
const LANGUAGE_TYPES = ['CHN_ENG', 'ENG', 'POR', 'FRE', 'GER', 'ITA', 'SPA', 'RUS', 'JAP', 'KOR', 'auto_detect'];

/** The OCR options (Baidu's flags are the strings true/false; only `true` turns one on). */
function ocrOptions(params: Map<string, string>, location: boolean): BaiduTextOptions {
  const language = params.get('language_type');
  if (language !== undefined && language !== '' && !LANGUAGE_TYPES.includes(language))
    throw new BaiduError(216100, 'invalid param');
  const flag = (name: string) => params.get(name) === 'true';
  return {
    location,
    vertexes: flag('vertexes_location'),
    probability: flag('probability'),
    detectDirection: flag('detect_direction'),
  };
}

export function registerBaidu(app: FastifyInstance, ctx: EmulatorContext): void {
  // GET as well as POST, as the real service: the official Python SDK asks for its token with GET.
  const token = async (request: FastifyRequest, reply: FastifyReply) => {
    await admit(ctx, 'baidu', 'token', request).then((release) => release?.());
    const { params } = readParams(request);
    const fail = (status: number, error: string, description: string) => {
      ctx.stats.error('baidu');
      return reply.status(status).send({ error, error_description: description });
    };
    if (params.get('grant_type') !== 'client_credentials')
      return fail(400, 'unsupported_grant_type', 'The authorization grant type is not supported');
    if (params.get('client_id') !== ctx.config.baiduApiKey) return fail(401, 'invalid_client', 'unknown client id');
    if (params.get('client_secret') !== ctx.config.baiduSecretKey)
      return fail(401, 'invalid_client', 'Client authentication failed');
    const token = issueToken(ctx.config.baiduApiKey, ctx.config.baiduSecretKey, Date.now());
    return reply.send({
      refresh_token: token.replace(/^24\./, '25.'),
      expires_in: TOKEN_LIFETIME_S,
      session_key: 'emulator-session',
      access_token: token,
      scope: 'public brain_all_scope vis-classify_dishes vis-faceverify_faceverify_h5-face-liveness',
      session_secret: 'emulator-session-secret',
    });
  };
  app.route({ method: ['GET', 'POST'], url: '/oauth/2.0/token', handler: token });

  const operations: Record<string, string> = {
    '/rest/2.0/image-classify/v2/advanced_general': 'advanced_general',
    '/rest/2.0/face/v3/detect': 'face_detect',
    '/rest/2.0/ocr/v1/general_basic': 'ocr_general_basic',
    '/rest/2.0/ocr/v1/accurate_basic': 'ocr_accurate_basic',
    '/rest/2.0/ocr/v1/general': 'ocr_general',
    '/rest/2.0/ocr/v1/accurate': 'ocr_accurate',
  };
  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const operation = operations[request.url.split('?')[0]!];
    const logId = ctx.nextId();
    const release = await admit(ctx, 'baidu', operation ?? 'unknown', request);
    try {
      if (!operation) throw new BaiduError(3, 'Unsupported openapi method');
      const { params, encodedImageBytes } = readParams(request);
      // The official SDK appends a second "?aipSdk=node" after the token; Baidu reads the token up to it, so do we.
      const accessToken = params.get('access_token')?.split('?')[0];
      if (!tokenValid(accessToken, ctx.config.baiduApiKey, ctx.config.baiduSecretKey, Date.now())) {
        throw new BaiduError(110, 'Access token invalid or no longer valid');
      }
      if (!release) throw new BaiduError(18, 'Open api qps request limit reached');
      if (operation === 'face_detect') {
        const imageType = params.get('image_type');
        if (imageType !== 'BASE64') {
          throw new BaiduError(
            imageType === undefined ? 222001 : 222200,
            imageType === undefined ? 'param[image_type] is null' : 'the emulator answers image_type BASE64 only',
          );
        }
        const maxFaceNum = intParam(params, 'max_face_num', 1, 1, 120);
        const { bytes, info } = await readImage(ctx, params, encodedImageBytes);
        const seed = `${info.width}x${info.height}:${bytes.length}`;
        const { faces, frame } = await infer(ctx, 'baiduFaceDetect', bytes);
        return reply.send(baiduFaces(faces, frame, seed, logId, maxFaceNum));
      }
      const ocr = OCR_ROUTES[operation];
      if (ocr) {
        const options = ocrOptions(params, ocr.location);
        const { bytes } = await readImage(ctx, params, encodedImageBytes);
        const { text, frame } = await infer(ctx, ocr.operation, bytes);
        return reply.send(baiduText(text, frame, logId, options));
      }
      const topNum = intParam(params, 'top_num', 5, 1, 100);
      const { bytes } = await readImage(ctx, params, encodedImageBytes);
      return reply.send(baiduGeneral((await infer(ctx, 'baiduAdvancedGeneral', bytes)).classify, logId, topNum));
    } catch (thrown) {
      ctx.stats.error('baidu');
      // A readable header over unreadable pixels is a broken image, which Baidu answers as a format error.
      const error = isImageUnreadable(thrown) ? new BaiduError(216201, 'image format error') : thrown;
      const known = error instanceof BaiduError;
      if (!known) request.log.error({ err: error }, 'baidu emulator failure');
      // Baidu answers its errors with HTTP 200 and the code in the body.
      return reply.send({
        error_code: known ? error.code : 282000,
        error_msg: known ? error.message : 'internal error',
        log_id: logId,
      });
    } finally {
      release?.();
    }
  };
  app.post('/rest/2.0/*', handler);
}
