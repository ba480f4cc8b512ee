import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { faceppDetect, faceppSceneAndObject } from './answers.ts';
import { admit, bodyOf, type EmulatorContext, infer } from './context.ts';
import { decodeBase64, inspectImage } from './runtime.ts';

/** Face++: multipart (or urlencoded) POSTs with api_key/api_secret fields. Limits from PROVIDERS.md. */

export const FACEPP_LIMITS = {
  maxBodyBytes: 2 * 1024 * 1024,
  maxBytes: 2 * 1024 * 1024,
  minSide: 48,
  maxSide: 4096,
  formats: ['jpeg', 'png'],
};

class FaceppError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

interface Fields {
  text: Map<string, string>;
  files: Map<string, Buffer>;
}

/** Multipart via the platform's own parser (undici's FormData), or urlencoded. */
async function readFields(request: FastifyRequest): Promise<Fields> {
  const fields: Fields = { text: new Map(), files: new Map() };
  const type = String(request.headers['content-type'] ?? '');
  const body = bodyOf(request);
  if (type.startsWith('multipart/form-data')) {
    let form: FormData;
    try {
      form = await new Response(new Uint8Array(body), { headers: { 'content-type': type } }).formData();
    } catch {
      throw new FaceppError(400, 'BAD_ARGUMENTS');
    }
    for (const [name, value] of form) {
      if (typeof value === 'string') fields.text.set(name, value);
      else fields.files.set(name, Buffer.from(await value.arrayBuffer()));
    }
  } else {
    for (const [name, value] of new URLSearchParams(body.toString('latin1'))) fields.text.set(name, value);
  }
  // Face++ also reads the fields from the query string.
  for (const [name, value] of new URL(request.url, 'http://x').searchParams)
    if (!fields.text.has(name)) fields.text.set(name, value);
  return fields;
}

async function readImage(ctx: EmulatorContext, fields: Fields) {
  let param: string;
  let bytes: Buffer | undefined;
  if (fields.files.has('image_file')) {
    param = 'image_file';
    bytes = fields.files.get('image_file')!;
  } else if (fields.text.has('image_base64')) {
    param = 'image_base64';
    bytes = decodeBase64(fields.text.get('image_base64')!);
    if (!bytes) throw new FaceppError(400, 'INVALID_IMAGE_BASE64');
  } else if (fields.text.has('image_url')) {
    // The emulator never fetches URLs (it has no network by design): answer what Face++ answers for an unreachable one.
    throw new FaceppError(400, 'INVALID_IMAGE_URL');
  } else {
    throw new FaceppError(400, 'MISSING_ARGUMENTS: image_url, image_file, image_base64');
  }
  ctx.stats.image('facepp', bytes.length);
  if (bytes.length > FACEPP_LIMITS.maxBytes) throw new FaceppError(400, `IMAGE_FILE_TOO_LARGE:${param}`);
  const info = await inspectImage(bytes);
  if (!info || !FACEPP_LIMITS.formats.includes(info.format))
    throw new FaceppError(400, `IMAGE_ERROR_UNSUPPORTED_FORMAT:${param}`);
  const { minSide, maxSide } = FACEPP_LIMITS;
  if (Math.min(info.width, info.height) < minSide || Math.max(info.width, info.height) > maxSide) {
    throw new FaceppError(400, `INVALID_IMAGE_SIZE:${param}`);
  }
  return { bytes, info };
}

const OPERATIONS: Record<string, string> = {
  '/facepp/v3/detect': 'detect',
  '/imagepp/beta/detectsceneandobject': 'detectsceneandobject',
};

export function registerFacepp(app: FastifyInstance, ctx: EmulatorContext): void {
  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const started = performance.now();
    const path = request.url.split('?')[0]!;
    const operation = OPERATIONS[path];
    const requestId = `${Math.floor(Date.now() / 1000)},${crypto.randomUUID()}`;
    const release = await admit(ctx, 'facepp', operation ?? 'unknown', request);
    const timeUsed = () => Math.round(performance.now() - started);
    try {
      if (bodyOf(request).length > FACEPP_LIMITS.maxBodyBytes) {
        ctx.stats.error('facepp');
        return reply.status(413).type('text/plain').send('Request Entity Too Large');
      }
      if (!release) throw new FaceppError(403, 'CONCURRENCY_LIMIT_EXCEEDED');
      if (!operation) throw new FaceppError(404, 'API_NOT_FOUND');
      const fields = await readFields(request);
      const apiKey = fields.text.get('api_key');
      const apiSecret = fields.text.get('api_secret');
      if (apiKey === undefined) throw new FaceppError(400, 'MISSING_ARGUMENTS: api_key');
      if (apiSecret === undefined) throw new FaceppError(400, 'MISSING_ARGUMENTS: api_secret');
      if (apiKey !== ctx.config.faceppApiKey || apiSecret !== ctx.config.faceppApiSecret) {
        throw new FaceppError(401, 'AUTHENTICATION_ERROR');
      }
      const { bytes, info } = await readImage(ctx, fields);
      const imageId = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('base64url');
      const seed = `${info.width}x${info.height}:${bytes.length}`;
      let answer: { time_used: number };
      if (operation === 'detect') {
        const { faces, frame } = await infer(ctx, 'faceppDetect', bytes);
        answer = faceppDetect(faces, frame, seed, requestId, imageId);
      } else {
        const { objects, classify } = await infer(ctx, 'faceppDetectsceneandobject', bytes);
        answer = faceppSceneAndObject(objects ?? [], classify, requestId, imageId);
      }
      answer.time_used = timeUsed();
      return reply.type('application/json').send(JSON.stringify(answer));
    } catch (error) {
      ctx.stats.error('facepp');
      const known = error instanceof FaceppError;
      if (!known) request.log.error({ err: error }, 'facepp emulator failure');
      return reply
        .status(known ? error.status : 500)
        .type('application/json')
        .send(
          JSON.stringify({
            time_used: timeUsed(),
            error_message: known ? error.message : 'INTERNAL_ERROR',
            request_id: requestId,
          }),
        );
    } finally {
      release?.();
    }
  };
  app.post('/facepp/*', handler);
  app.post('/imagepp/*', handler);
  app.post('/humanbodypp/*', handler);
}
