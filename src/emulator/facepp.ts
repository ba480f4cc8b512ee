import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { faceppDetect, faceppSceneAndObject } from './answers.ts';
import { admit, bodyOf, type EmulatorContext, infer } from './context.ts';
import { FACEPP_COMPARE_THRESHOLDS, faceSignature, matchConfidence } from './face-similarity.ts';
import { decodeBase64, type ImageInfo, inspectImage } from './runtime.ts';

/** Face++: multipart (or urlencoded) POSTs with api_key/api_secret fields. Limits from PROVIDERS.md. */

export const FACEPP_LIMITS = {
  maxBodyBytes: 2 * 1024 * 1024,
  maxBytes: 2 * 1024 * 1024,
  minSide: 48,
  maxSide: 4096,
  formats: ['jpeg', 'png'],
  /**
   * What one multipart body may hold (@fastify/multipart's busboy limits). The 2 MB body cap is checked on the byte
   * count, but a chunked body has no Content-Length to refuse up front: these bound what is buffered meanwhile.
   */
  multipart: { fields: 32, files: 4, parts: 36, fieldSize: 2 * 1024 * 1024, fileSize: 2 * 1024 * 1024 },
};

class FaceppError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** The whole request body went over FACEPP_LIMITS.maxBodyBytes: Face++ answers that in plain text. */
class BodyTooLarge extends Error {}

interface Fields {
  text: Map<string, string>;
  files: Map<string, Buffer>;
}

/** Bytes of the request body as they arrive (multipart is streamed, so nothing else knows the total). */
interface BodyCount {
  bytes: number;
}

/**
 * Multipart via @fastify/multipart (a parser independent of the proxy's own, so the tests check every body the proxy
 * rebuilds against it), or urlencoded from the buffered body. Face++ also reads fields from the query string.
 */
async function readFields(request: FastifyRequest, count: BodyCount): Promise<Fields> {
  let fields: Fields;
  if (request.isMultipart()) {
    fields = await readMultipart(request, count);
  } else {
    const body = bodyOf(request);
    count.bytes = body.length;
    if (body.length > FACEPP_LIMITS.maxBodyBytes) throw new BodyTooLarge();
    fields = { text: new Map(), files: new Map() };
    for (const [name, value] of new URLSearchParams(body.toString('latin1'))) fields.text.set(name, value);
  }
  for (const [name, value] of new URL(request.url, 'http://x').searchParams)
    if (!fields.text.has(name)) fields.text.set(name, value);
  return fields;
}

async function readMultipart(request: FastifyRequest, count: BodyCount): Promise<Fields> {
  const declared = Number(request.headers['content-length']);
  const fields: Fields = { text: new Map(), files: new Map() };
  // Counts beside busboy's pipe (set up in the same tick by request.parts(): a stream starts flowing a tick later).
  request.raw.on('data', (chunk: Buffer) => {
    count.bytes += chunk.length;
  });
  // Refused before parsing when the length is declared (Face++'s front end does the same): drain, then answer.
  if (declared > FACEPP_LIMITS.maxBodyBytes) {
    request.raw.resume();
    await new Promise((resolve) => request.raw.once('end', resolve).once('close', resolve));
    throw new BodyTooLarge();
  }
  try {
    for await (const part of request.parts()) {
      if (part.type === 'file') {
        const bytes = await part.toBuffer();
        if (part.file.truncated) throw new BodyTooLarge();
        fields.files.set(part.fieldname, bytes);
      } else {
        fields.text.set(part.fieldname, typeof part.value === 'string' ? part.value : JSON.stringify(part.value));
      }
    }
  } catch (error) {
    if (error instanceof BodyTooLarge || count.bytes > FACEPP_LIMITS.maxBodyBytes) throw new BodyTooLarge();
    throw new FaceppError(400, 'BAD_ARGUMENTS');
  }
  if (count.bytes > FACEPP_LIMITS.maxBodyBytes) throw new BodyTooLarge();
  return fields;
}

/** Where one image may come from: detect has one unnumbered slot, compare two numbered ones. */
interface ImageSlot {
  file: string;
  base64: string;
  url: string;
  faceToken?: string;
}
const SINGLE: ImageSlot = { file: 'image_file', base64: 'image_base64', url: 'image_url' };
const PAIR: [ImageSlot, ImageSlot] = [
  { file: 'image_file1', base64: 'image_base64_1', url: 'image_url1', faceToken: 'face_token1' },
  { file: 'image_file2', base64: 'image_base64_2', url: 'image_url2', faceToken: 'face_token2' },
];

/** The slot's image in Face++'s precedence (file, base64, url), checked against its limits. */
async function readImage(ctx: EmulatorContext, fields: Fields, slot: ImageSlot) {
  let param: string;
  let bytes: Buffer | undefined;
  if (slot.faceToken && fields.text.has(slot.faceToken)) {
    // The emulator keeps no faces between calls: a token is never one it knows.
    throw new FaceppError(400, `INVALID_FACE_TOKEN:${fields.text.get(slot.faceToken)}`);
  }
  if (fields.files.has(slot.file)) {
    param = slot.file;
    bytes = fields.files.get(slot.file)!;
  } else if (fields.text.has(slot.base64)) {
    param = slot.base64;
    bytes = decodeBase64(fields.text.get(slot.base64)!);
    if (!bytes) throw new FaceppError(400, `INVALID_IMAGE_BASE64:${param}`);
  } else if (fields.text.has(slot.url)) {
    // The emulator never fetches URLs (it has no network by design): answer what Face++ answers for an unreachable one.
    throw new FaceppError(400, `INVALID_IMAGE_URL:${slot.url}`);
  } else {
    const names = [slot.faceToken, slot.url, slot.file, slot.base64].filter(Boolean);
    throw new FaceppError(400, `MISSING_ARGUMENTS: ${names.join(', ')}`);
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
  '/facepp/v3/compare': 'compare',
  '/imagepp/beta/detectsceneandobject': 'detectsceneandobject',
};

const newImageId = () => Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('base64url');
const seedOf = (bytes: Buffer, info: ImageInfo) => `${info.width}x${info.height}:${bytes.length}`;

/**
 * compare: both images' faces (detect's rule: largest first), and when each image has one, the match confidence of
 * the two largest with Face++'s thresholds. Without a face on either side Face++ leaves confidence and thresholds out.
 */
async function compare(ctx: EmulatorContext, fields: Fields, requestId: string) {
  const images = [];
  for (const slot of PAIR) images.push(await readImage(ctx, fields, slot));
  const sides = await Promise.all(
    images.map(async ({ bytes, info }) => {
      const imageId = newImageId();
      // Each image is read like a detect upload: the same backend at the same working resolution.
      const detected = await infer(ctx, 'faceppDetect', bytes);
      const { faces } = faceppDetect(detected.faces, detected.frame, seedOf(bytes, info), '', imageId);
      return { bytes, imageId, faces };
    }),
  );
  const [one, two] = sides as [(typeof sides)[0], (typeof sides)[0]];
  const answer: Record<string, unknown> = { request_id: requestId, time_used: 0 };
  if (one.faces[0] && two.faces[0]) {
    const [a, b] = await Promise.all([
      faceSignature(one.bytes, one.faces[0].face_rectangle),
      faceSignature(two.bytes, two.faces[0].face_rectangle),
    ]);
    if (a && b) {
      answer.confidence = matchConfidence(a, b);
      answer.thresholds = { ...FACEPP_COMPARE_THRESHOLDS };
    }
  }
  Object.assign(answer, { image_id1: one.imageId, image_id2: two.imageId, faces1: one.faces, faces2: two.faces });
  return answer as { time_used: number };
}

export function registerFacepp(app: FastifyInstance, ctx: EmulatorContext): void {
  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const started = performance.now();
    const path = request.url.split('?')[0]!;
    const operation = OPERATIONS[path];
    const requestId = `${Math.floor(Date.now() / 1000)},${crypto.randomUUID()}`;
    const timeUsed = () => Math.round(performance.now() - started);
    let release: (() => void) | undefined;
    const count: BodyCount = { bytes: 0 };
    try {
      let fields: Fields;
      try {
        fields = await readFields(request, count);
      } finally {
        // Every call is counted and pays its upload time, whatever its body held.
        release = await admit(ctx, 'facepp', operation ?? 'unknown', count.bytes);
      }
      if (!release) throw new FaceppError(403, 'CONCURRENCY_LIMIT_EXCEEDED');
      if (!operation) throw new FaceppError(404, 'API_NOT_FOUND');
      const apiKey = fields.text.get('api_key');
      const apiSecret = fields.text.get('api_secret');
      if (apiKey === undefined) throw new FaceppError(400, 'MISSING_ARGUMENTS: api_key');
      if (apiSecret === undefined) throw new FaceppError(400, 'MISSING_ARGUMENTS: api_secret');
      if (apiKey !== ctx.config.faceppApiKey || apiSecret !== ctx.config.faceppApiSecret) {
        throw new FaceppError(401, 'AUTHENTICATION_ERROR');
      }
      let answer: { time_used: number };
      if (operation === 'compare') {
        answer = await compare(ctx, fields, requestId);
      } else {
        const { bytes, info } = await readImage(ctx, fields, SINGLE);
        const imageId = newImageId();
        if (operation === 'detect') {
          const { faces, frame } = await infer(ctx, 'faceppDetect', bytes);
          answer = faceppDetect(faces, frame, seedOf(bytes, info), requestId, imageId);
        } else {
          const { objects, classify } = await infer(ctx, 'faceppDetectsceneandobject', bytes);
          answer = faceppSceneAndObject(objects ?? [], classify, requestId, imageId);
        }
      }
      answer.time_used = timeUsed();
      return reply.type('application/json').send(JSON.stringify(answer));
    } catch (error) {
      ctx.stats.error('facepp');
      if (error instanceof BodyTooLarge) return reply.status(413).type('text/plain').send('Request Entity Too Large');
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
  // Encapsulated: the multipart parser serves the Face++ routes only (the other APIs read their raw bytes).
  app.register(async (scope) => {
    // A file over its limit is marked truncated (answered as the 413 it is) rather than thrown as a parse error.
    await scope.register(multipart, { limits: FACEPP_LIMITS.multipart, throwFileSizeLimit: false });
    scope.post('/facepp/*', handler);
    scope.post('/imagepp/*', handler);
    scope.post('/humanbodypp/*', handler);
  });
}
