import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import sharp from 'sharp';
import { verifySigV4 } from '../aws/sigv4.ts';
import { rekognitionFaces, rekognitionLabels } from './answers.ts';
import { isImageUnreadable } from './backends/pixels.ts';
import { admit, bodyOf, type EmulatorContext, infer } from './context.ts';
import type { Detection, ImageSize } from './models.ts';
import { decodeBase64, type ImageInfo, inspectImage } from './runtime.ts';
import { detectTextParams, rekognitionText } from './text-answers.ts';

/** Rekognition, JSON 1.1 over `POST /` with X-Amz-Target, SigV4-signed. Limits from PROVIDERS.md. */

export const REKOGNITION_LIMITS = { maxBytes: 5_242_880, minSide: 80, maxSide: 10_000, formats: ['jpeg', 'png'] };

class AwsError extends Error {
  readonly type: string;
  readonly status: number;
  constructor(type: string, message: string, status = 400) {
    super(message);
    this.type = type;
    this.status = status;
  }
}

function sendError(reply: FastifyReply, error: AwsError) {
  // SDKs read the code from x-amzn-errortype first; auth errors carry `message`, service errors `Message` (as AWS).
  const lower = error.status === 403;
  return reply
    .status(error.status)
    .header('x-amzn-errortype', error.type)
    .header('x-amzn-requestid', crypto.randomUUID())
    .type('application/x-amz-json-1.1')
    .send(JSON.stringify({ __type: error.type, [lower ? 'message' : 'Message']: error.message }));
}

interface Decoded {
  bytes: Buffer;
  info: ImageInfo;
}

async function decodeImage(ctx: EmulatorContext, image: unknown, field: string): Promise<Decoded> {
  const value = image as { Bytes?: unknown; S3Object?: unknown } | undefined;
  if (value?.S3Object !== undefined) {
    // The emulator has no S3: answer what AWS answers for an object it cannot read.
    throw new AwsError(
      'InvalidS3ObjectException',
      'Unable to get object metadata from S3. Check object key, region and/or access permissions.',
    );
  }
  if (typeof value?.Bytes !== 'string')
    throw new AwsError('InvalidParameterException', `Request has invalid parameters: ${field}`);
  const bytes = decodeBase64(value.Bytes);
  if (!bytes) throw new AwsError('SerializationException', `Invalid base64 in ${field}.Bytes`);
  if (bytes.length === 0)
    throw new AwsError('InvalidParameterException', `Request has invalid parameters: ${field}.Bytes is empty`);
  if (bytes.length > REKOGNITION_LIMITS.maxBytes) {
    throw new AwsError(
      'ImageTooLargeException',
      `Image size is too large: ${bytes.length} bytes, at most ${REKOGNITION_LIMITS.maxBytes}.`,
    );
  }
  ctx.stats.image('rekognition', bytes.length);
  const info = await inspectImage(bytes);
  if (!info || !REKOGNITION_LIMITS.formats.includes(info.format)) {
    throw new AwsError('InvalidImageFormatException', 'Request has invalid image format');
  }
  const { minSide, maxSide } = REKOGNITION_LIMITS;
  if (Math.min(info.width, info.height) < minSide || Math.max(info.width, info.height) > maxSide) {
    throw new AwsError(
      'InvalidParameterException',
      `Request has invalid parameters: image is ${info.width}x${info.height}, each side must be ${minSide} to ${maxSide} pixels.`,
    );
  }
  return { bytes, info };
}

function numberParam(body: Record<string, unknown>, name: string, min: number, max: number): number | undefined {
  const value = body[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || value < min || value > max) {
    throw new AwsError(
      'InvalidParameterException',
      `Request has invalid parameters: ${name} must be a number from ${min} to ${max}`,
    );
  }
  return value;
}

/**
 * A 16x16 grey thumbnail of a face, mean-centred and unit-normalised: a deliberately crude face descriptor. The crop is
 * taken from the image as Rekognition saw it (`frame`, EXIF-oriented when `oriented`), where the box ratios belong.
 */
async function faceDescriptor(
  image: Buffer,
  frame: ImageSize,
  oriented: boolean,
  face: Detection,
): Promise<Float64Array> {
  const left = Math.min(frame.width - 1, Math.floor(face.box.left * frame.width));
  const top = Math.min(frame.height - 1, Math.floor(face.box.top * frame.height));
  const width = Math.max(1, Math.min(frame.width - left, Math.round(face.box.width * frame.width)));
  const height = Math.max(1, Math.min(frame.height - top, Math.round(face.box.height * frame.height)));
  // Orient first (its own pipeline stage), so the extract addresses the corrected frame.
  const upright = oriented ? await sharp(image).autoOrient().toBuffer() : image;
  const raw = await sharp(upright)
    .extract({ left, top, width, height })
    .greyscale()
    .resize(16, 16, { fit: 'fill' })
    .raw()
    .toBuffer();
  const v = Float64Array.from(raw);
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  let norm = 0;
  for (let i = 0; i < v.length; i++) {
    v[i] = v[i]! - mean;
    norm += v[i]! ** 2;
  }
  norm = Math.sqrt(norm) || 1;
  return v.map((x) => x / norm);
}

const faceBox = (f: Detection) => ({ Width: f.box.width, Height: f.box.height, Left: f.box.left, Top: f.box.top });

async function compareFaces(ctx: EmulatorContext, body: Record<string, unknown>) {
  const threshold = numberParam(body, 'SimilarityThreshold', 0, 100) ?? 80;
  const source = await decodeImage(ctx, body.SourceImage, 'SourceImage');
  const target = await decodeImage(ctx, body.TargetImage, 'TargetImage');
  const [sourceSeen, targetSeen] = await Promise.all([
    infer(ctx, 'rekognitionCompareFaces', source.bytes),
    infer(ctx, 'rekognitionCompareFaces', target.bytes),
  ]);
  const sourceFaces = sourceSeen.faces;
  const targetFaces = targetSeen.faces;
  const oriented = (info: ImageInfo) => ctx.config.rekognitionOrientation === 'exif' && info.format === 'jpeg';
  const sourceFace = [...sourceFaces].sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height)[0];
  if (!sourceFace)
    throw new AwsError('InvalidParameterException', 'Request has invalid parameters: no face in SourceImage');
  const reference = await faceDescriptor(source.bytes, sourceSeen.frame, oriented(source.info), sourceFace);
  const matches = [];
  const unmatched = [];
  for (const face of targetFaces) {
    const d = await faceDescriptor(target.bytes, targetSeen.frame, oriented(target.info), face);
    const cosine = d.reduce((sum, x, i) => sum + x * reference[i]!, 0);
    // Correlation of grey thumbnails, mapped to 0-100: crude by design (no face embedding model here).
    const similarity = Number((Math.max(0, cosine) * 100).toFixed(3));
    const detail = { BoundingBox: faceBox(face), Confidence: Number((face.score * 100).toFixed(3)) };
    if (similarity >= threshold) matches.push({ Similarity: similarity, Face: detail });
    else unmatched.push(detail);
  }
  matches.sort((a, b) => b.Similarity - a.Similarity);
  return {
    SourceImageFace: { BoundingBox: faceBox(sourceFace), Confidence: Number((sourceFace.score * 100).toFixed(3)) },
    FaceMatches: matches,
    UnmatchedFaces: unmatched,
  };
}

async function operate(ctx: EmulatorContext, operation: string, body: Record<string, unknown>): Promise<unknown> {
  if (operation === 'DetectLabels') {
    const params = {
      MaxLabels: numberParam(body, 'MaxLabels', 0, 1000),
      MinConfidence: numberParam(body, 'MinConfidence', 0, 100),
    };
    const { bytes } = await decodeImage(ctx, body.Image, 'Image');
    const { classify, objects } = await infer(ctx, 'rekognitionDetectLabels', bytes);
    return rekognitionLabels(classify, objects, params);
  }
  if (operation === 'DetectFaces') {
    const { bytes } = await decodeImage(ctx, body.Image, 'Image');
    return rekognitionFaces((await infer(ctx, 'rekognitionDetectFaces', bytes)).faces);
  }
  if (operation === 'CompareFaces') return compareFaces(ctx, body);
  if (operation === 'DetectText') {
    const params = detectTextParams(body.Filters);
    if ('invalid' in params)
      throw new AwsError('InvalidParameterException', `Request has invalid parameters: ${params.invalid}`);
    const { bytes } = await decodeImage(ctx, body.Image, 'Image');
    return rekognitionText((await infer(ctx, 'rekognitionDetectText', bytes)).text, params);
  }
  throw new AwsError('UnsupportedOperationException', `The emulator does not implement ${operation}.`);
}

export function registerRekognition(app: FastifyInstance, ctx: EmulatorContext): void {
  app.post('/', async (request: FastifyRequest, reply: FastifyReply) => {
    const target = String(request.headers['x-amz-target'] ?? '');
    const operation = target.startsWith('RekognitionService.') ? target.slice('RekognitionService.'.length) : '';
    const release = await admit(ctx, 'rekognition', operation || 'unknown', request);
    try {
      if (!release) throw new AwsError('ThrottlingException', 'Rate exceeded');
      if (!operation) throw new AwsError('UnknownOperationException', '');
      const verified = await verifySigV4(
        { method: request.method, url: request.url, headers: request.headers, body: bodyOf(request) },
        (id) => (id === ctx.config.awsAccessKeyId ? ctx.config.awsSecretAccessKey : undefined),
        { service: 'rekognition' },
      );
      if (!verified.ok) {
        const type =
          verified.code === 'MissingAuthenticationToken' ? 'MissingAuthenticationTokenException' : verified.code;
        throw new AwsError(type, verified.message, 403);
      }
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(bodyOf(request).toString('utf8') || '{}');
      } catch {
        throw new AwsError('SerializationException', 'Start of structure or map found where not expected.');
      }
      const answer = await operate(ctx, operation, body ?? {});
      return reply
        .type('application/x-amz-json-1.1')
        .header('x-amzn-requestid', crypto.randomUUID())
        .send(JSON.stringify(answer));
    } catch (error) {
      ctx.stats.error('rekognition');
      if (error instanceof AwsError) return sendError(reply, error);
      // A header that reads but pixels that do not (a truncated upload): AWS's answer to an image it cannot decode.
      if (isImageUnreadable(error))
        return sendError(reply, new AwsError('InvalidImageFormatException', 'Request has invalid image format'));
      request.log.error({ err: error }, 'rekognition emulator failure');
      return sendError(reply, new AwsError('InternalServerError', 'Internal server error', 500));
    } finally {
      release?.();
    }
  });
}
