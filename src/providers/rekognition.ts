import { SignatureV4 } from '@smithy/signature-v4';
import type { Answer, Face, Label } from '../answer.ts';
import { NodeSha256 } from '../aws/node-sha256.ts';
import { verifySigV4 } from '../aws/sigv4.ts';
import { decodeBase64Strict } from './base64.ts';
import { forwardableHeaders, headerValue } from './headers.ts';
import { isObject, type Json, parseJsonObject } from './json.ts';
import {
  type BufferedRequest,
  type ErrorReply,
  type ExtractedRequest,
  type ImageLimits,
  type OutgoingRequest,
  type Provider,
  ProxyError,
  type RequestHead,
} from './types.ts';

/** What the proxy signs with: the standard AWS credential chain resolves it (env, shared files, profile, role). */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}
export type CredentialSource = () => Promise<AwsCredentials>;

export interface RekognitionOptions {
  /** Origin with an optional `{region}` placeholder, e.g. `https://rekognition.{region}.amazonaws.com`. */
  endpoint: string;
  /** Fixed region; when absent, the region of the client's credential scope (then us-east-1). */
  region?: string;
  credentials: CredentialSource;
  /** Secrets of client keys the proxy may verify, by access key id. The proxy's own key is always verifiable. */
  clientSecrets: ReadonlyMap<string, string>;
  /** What a request the proxy cannot verify (unknown key, or unsigned) gets. */
  unverified: 'reject' | 'allow';
  maxBodyBytes: number;
}

const TARGET_PREFIX = 'RekognitionService.';

/** Operations whose top-level image fields carry bytes the proxy may recompress (PROVIDERS.md). */
const IMAGE_FIELDS: Record<string, readonly string[]> = {
  DetectLabels: ['Image'],
  DetectFaces: ['Image'],
  DetectText: ['Image'],
  DetectModerationLabels: ['Image'],
  DetectProtectiveEquipment: ['Image'],
  RecognizeCelebrities: ['Image'],
  DetectCustomLabels: ['Image'],
  IndexFaces: ['Image'],
  SearchFacesByImage: ['Image'],
  SearchUsersByImage: ['Image'],
  CompareFaces: ['SourceImage', 'TargetImage'],
};

const MB = 1024 * 1024;
const DEFAULT_LIMITS: ImageLimits = { minSide: 80, maxSide: 10_000, maxBytes: 5 * MB };
const OPERATION_LIMITS: Record<string, Partial<ImageLimits>> = {
  DetectCustomLabels: { maxBytes: 4 * MB },
  DetectProtectiveEquipment: { minSide: 64, maxSide: 4096 },
};

/** Headers that belong to the client's signature and must not survive re-signing. */
const SIGNING_HEADERS = new Set(['authorization', 'x-amz-date', 'x-amz-security-token', 'x-amz-content-sha256']);

const CREDENTIAL_SCOPE = /Credential=([^/,\s]+)\/(\d{8})\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request/;

function scopeOf(head: RequestHead): { accessKeyId: string; region: string } | undefined {
  const match = CREDENTIAL_SCOPE.exec(headerValue(head.headers, 'authorization') ?? '');
  return match ? { accessKeyId: match[1]!, region: match[3]! } : undefined;
}

function operationOf(head: RequestHead): string | undefined {
  const target = headerValue(head.headers, 'x-amz-target');
  return target?.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : undefined;
}

export function createRekognitionProvider(options: RekognitionOptions): Provider {
  const regionFor = (head: RequestHead): string => options.region || scopeOf(head)?.region || 'us-east-1';
  const originFor = (head: RequestHead): string => options.endpoint.replace('{region}', regionFor(head));

  return {
    name: 'rekognition',
    bufferAll: true,
    maxBodyBytes: options.maxBodyBytes,

    matches: (head) => head.method === 'POST' && operationOf(head) !== undefined && head.url.split('?')[0] === '/',

    imageOperation(head) {
      const operation = operationOf(head);
      return operation && operation in IMAGE_FIELDS ? operation : undefined;
    },

    extract(request: BufferedRequest, operation: string): ExtractedRequest | undefined {
      let body: unknown;
      try {
        body = JSON.parse(request.body.toString('utf8'));
      } catch {
        throw new ProxyError('BAD_REQUEST', 400, 'Request body is not valid JSON');
      }
      if (!isObject(body)) throw new ProxyError('BAD_REQUEST', 400, 'Request body is not a JSON object');
      const slots = [];
      for (const field of IMAGE_FIELDS[operation] ?? []) {
        const image = body[field];
        // S3Object images stay where they are: only inline bytes can be recompressed.
        if (!isObject(image) || typeof image.Bytes !== 'string') continue;
        const bytes = decodeBase64Strict(image.Bytes);
        if (!bytes) throw new ProxyError('BAD_REQUEST', 400, `${field}.Bytes is not valid base64`);
        slots.push({ field, bytes });
      }
      if (slots.length === 0) return undefined;
      const parsed = body;
      return {
        operation,
        slots,
        rebuild(replacements) {
          const copy: Json = { ...parsed };
          for (const [field, bytes] of replacements) {
            copy[field] = { ...(parsed[field] as Json), Bytes: bytes.toString('base64') };
          }
          return {
            method: request.method,
            url: request.url,
            headers: forwardableHeaders(request.headers),
            body: Buffer.from(JSON.stringify(copy)),
          };
        },
      };
    },

    limits: (operation) => ({ ...DEFAULT_LIMITS, ...OPERATION_LIMITS[operation] }),

    answer(operation, status, body, imageSize): Answer | undefined {
      if (status !== 200) return undefined;
      const parsed = parseJsonObject(body);
      return parsed ? normaliseAnswer(operation, parsed, imageSize) : undefined;
    },

    errorReply: (error) => awsError(error),

    upstreamOrigin: originFor,

    async authenticate(request) {
      const own = await options.credentials();
      const secretFor = (key: string) =>
        options.clientSecrets.get(key) ?? (key === own.accessKeyId ? own.secretAccessKey : undefined);
      if (!headerValue(request.headers, 'authorization')) {
        if (options.unverified === 'allow') return;
        throw new ProxyError('AUTH_UNVERIFIABLE', 400, 'Request is missing Authentication Token');
      }
      const result = await verifySigV4(request, secretFor, { service: 'rekognition' });
      if (result.ok) return;
      if (result.code === 'UnrecognizedClientException') {
        if (options.unverified === 'allow') return;
        throw new ProxyError('AUTH_UNVERIFIABLE', 403, 'The security token included in the request is invalid.');
      }
      throw new ProxyError('AUTH_FAILED', 403, result.message);
    },

    async sign(request: OutgoingRequest, head: RequestHead): Promise<OutgoingRequest> {
      const origin = new URL(originFor(head));
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(request.headers)) {
        if (!SIGNING_HEADERS.has(name)) headers[name] = value;
      }
      // Every header final first (host, length), signature last: aws-sigv4-proxy's lesson in reverse.
      headers.host = origin.host;
      headers['content-length'] = String(request.body.length);
      const signer = new SignatureV4({
        credentials: options.credentials,
        region: regionFor(head),
        service: 'rekognition',
        sha256: NodeSha256,
      });
      const [path = '/', query = ''] = request.url.split('?', 2);
      const signed = await signer.sign({
        method: request.method,
        protocol: origin.protocol,
        hostname: origin.hostname,
        ...(origin.port ? { port: Number(origin.port) } : {}),
        path,
        query: Object.fromEntries(new URLSearchParams(query)),
        headers,
        body: request.body,
      });
      return { ...request, headers: signed.headers as Record<string, string> };
    },
  };
}

const AWS_ERRORS: Record<ProxyError['code'], string> = {
  BAD_REQUEST: 'SerializationException',
  BODY_TOO_LARGE: 'ImageTooLargeException',
  AUTH_FAILED: 'InvalidSignatureException',
  AUTH_UNVERIFIABLE: 'UnrecognizedClientException',
  UPSTREAM_UNREACHABLE: 'ServiceUnavailableException',
  UPSTREAM_TIMEOUT: 'RequestTimeoutException',
};

/** The JSON 1.1 error shape; SDKs read the code from x-amzn-errortype first. */
function awsError(error: ProxyError): ErrorReply {
  const type = AWS_ERRORS[error.code];
  if (error.code === 'AUTH_UNVERIFIABLE' && error.status === 400) {
    return reply(400, 'MissingAuthenticationTokenException', error.message);
  }
  return reply(error.status, type, error.message);
}

function reply(status: number, type: string, message: string): ErrorReply {
  return {
    status,
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': type },
    body: JSON.stringify({ __type: type, message }),
  };
}

interface RatioBox {
  Left?: number;
  Top?: number;
  Width?: number;
  Height?: number;
}

/** Rekognition boxes are ratios of the image; the log wants the client's pixels. */
function toPixels(box: RatioBox | undefined, size: { width: number; height: number } | undefined) {
  const w = size?.width ?? 1;
  const h = size?.height ?? 1;
  return {
    left: (box?.Left ?? 0) * w,
    top: (box?.Top ?? 0) * h,
    width: (box?.Width ?? 0) * w,
    height: (box?.Height ?? 0) * h,
  };
}

const asArray = (value: unknown): Json[] => (Array.isArray(value) ? value.filter(isObject) : []);
const byScore = (a: { score: number }, b: { score: number }) => b.score - a.score;

function labelsFrom(items: Json[], nameKey = 'Name'): Label[] {
  return items
    .filter((item) => typeof item[nameKey] === 'string')
    .map((item) => ({
      name: item[nameKey] as string,
      score: Number(item.Confidence ?? item.MatchConfidence ?? 0) / 100,
    }))
    .sort(byScore);
}

function facesFrom(items: Json[], size: { width: number; height: number } | undefined): Face[] {
  return items.map((item) => ({
    box: toPixels(item.BoundingBox as RatioBox | undefined, size),
    score: Number(item.Confidence ?? 100) / 100,
  }));
}

function normaliseAnswer(operation: string, body: Json, size?: { width: number; height: number }): Answer {
  switch (operation) {
    case 'DetectLabels':
    case 'DetectCustomLabels':
      return { labels: labelsFrom(asArray(body.Labels ?? body.CustomLabels)), faces: [] };
    case 'DetectModerationLabels':
      return { labels: labelsFrom(asArray(body.ModerationLabels)), faces: [] };
    case 'RecognizeCelebrities':
      return {
        labels: labelsFrom(asArray(body.CelebrityFaces)),
        faces: facesFrom(
          asArray(body.CelebrityFaces).map((c) => (isObject(c.Face) ? c.Face : {})),
          size,
        ),
      };
    case 'DetectFaces':
      return { labels: [], faces: facesFrom(asArray(body.FaceDetails), size) };
    case 'CompareFaces': {
      // Boxes of the target image, the one whose faces are listed; the source face is one known face, not an answer.
      const matched = asArray(body.FaceMatches).map((m) => (isObject(m.Face) ? m.Face : {}));
      return { labels: [], faces: facesFrom([...matched, ...asArray(body.UnmatchedFaces)], size) };
    }
    case 'IndexFaces':
      return {
        labels: [],
        faces: facesFrom(
          asArray(body.FaceRecords).map((r) => (isObject(r.FaceDetail) ? r.FaceDetail : {})),
          size,
        ),
      };
    case 'DetectText': {
      const lines = asArray(body.TextDetections).filter((t) => t.Type === 'LINE' && typeof t.DetectedText === 'string');
      return { labels: [], faces: [], text: lines.map((t) => t.DetectedText as string).join('\n') };
    }
    default:
      return { labels: [], faces: [] };
  }
}
