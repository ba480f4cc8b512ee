import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { z } from 'zod';
import { option } from '../../config/options.ts';
import { decodeBase64Strict } from '../base64.ts';
import { forwardableHeaders, headerValue } from '../headers.ts';
import { isObject, parseJsonObject } from '../json.ts';
import { base64AsJsonString, findStrings, type JsonStringSpan, pathKey, spliceStrings } from '../json-text.ts';
import {
  type BufferedRequest,
  type ExtractedRequest,
  type ImageLimits,
  type ImageSlot,
  type OperationSpec,
  type Provider,
  type ProviderDescriptor,
  ProxyError,
  type RequestHead,
} from '../types.ts';
import { rekognitionAnswer } from './answers.ts';
import { awsError, createSigner, verifyClient } from './signing.ts';

/** Amazon Rekognition: JSON 1.1 over `POST /`, the operation in X-Amz-Target, SigV4 over the body (PROVIDERS.md). */

const TARGET_PREFIX = 'RekognitionService.';
const MB = 1024 * 1024;
const LIMITS: ImageLimits = { minSide: 80, maxSide: 10_000, maxBytes: 5 * MB };
const FORMATS = ['jpeg', 'png'];

const operation = (name: string, kind: OperationSpec['kind'], limits: Partial<ImageLimits> = {}): OperationSpec => ({
  name,
  kind,
  limits: { ...LIMITS, ...limits },
  formats: FORMATS,
});

/**
 * Rekognition documents the face sizes it finds relative to a 1920x1080 image ("Guidelines and quotas": a face must be
 * at least 40x40 pixels in an image of 1920x1080; larger images need proportionally larger faces): it works at about
 * that resolution, so the face operations are never sent more (the working side). The other operations document no
 * working resolution: the stored size is the conservative ceiling.
 */
const FACE_WORKING_SIDE = { workingSide: 1920 };

/** Operations whose top-level image fields carry bytes the proxy may recompress; everything else passes through. */
export const REKOGNITION_OPERATIONS: readonly OperationSpec[] = [
  operation('DetectLabels', 'labels'),
  operation('DetectFaces', 'faces', FACE_WORKING_SIDE),
  operation('DetectText', 'text'),
  operation('DetectModerationLabels', 'labels'),
  operation('DetectProtectiveEquipment', 'labels', { minSide: 64, maxSide: 4096 }),
  operation('RecognizeCelebrities', 'labels', FACE_WORKING_SIDE),
  operation('DetectCustomLabels', 'labels', { maxBytes: 4 * MB }),
  operation('IndexFaces', 'faces', FACE_WORKING_SIDE),
  operation('SearchFacesByImage', 'compare', FACE_WORKING_SIDE),
  operation('SearchUsersByImage', 'compare', FACE_WORKING_SIDE),
  operation('CompareFaces', 'compare', FACE_WORKING_SIDE),
];

const IMAGE_FIELDS: Readonly<Record<string, readonly string[]>> = { CompareFaces: ['SourceImage', 'TargetImage'] };
const imageFieldsOf = (operation: string) => IMAGE_FIELDS[operation] ?? ['Image'];

const CREDENTIAL_SCOPE = /Credential=([^/,\s]+)\/(\d{8})\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request/;

export const scopeRegionOf = (head: RequestHead): string | undefined =>
  CREDENTIAL_SCOPE.exec(headerValue(head.headers, 'authorization') ?? '')?.[3];

function operationOf(head: RequestHead): string | undefined {
  const target = headerValue(head.headers, 'x-amz-target');
  return target?.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : undefined;
}

export const rekognitionOptions = {
  rekognitionEndpoint: option(
    z.string().regex(/^https?:\/\/[^/]+$/, 'must be scheme://host[:port], {region} allowed in the host'),
    'https://rekognition.{region}.amazonaws.com',
    'Upstream Rekognition origin; {region} is replaced by --rekognition-region or the region of the client signature.',
  ),
  rekognitionRegion: option(
    z.string().regex(/^[a-z0-9-]*$/),
    '',
    'Fixed Rekognition region; empty = the region of the client SigV4 credential scope.',
    '""',
  ),
  awsProfile: option(
    z.string(),
    '',
    'Profile for the proxy own AWS credentials; empty = the default chain (env, shared files, SSO, instance role).',
    '""',
  ),
  clientKeys: option(
    z.string().regex(/^([A-Za-z0-9]+:[^,]+)?(,[A-Za-z0-9]+:[^,]+)*$/, 'must be AKID:secret[,AKID:secret...]'),
    '',
    'Client access keys whose SigV4 signatures the proxy verifies, as AKID:secret pairs (the proxy own key is always known). Never logged.',
    '""',
  ),
  unverifiedSignatures: option(
    z.enum(['auto', 'reject', 'allow']),
    'auto',
    'What a Rekognition request signed with a key the proxy cannot verify gets: auto = reject unless listening on loopback.',
  ),
};

export function parseClientKeys(spec: string): Map<string, string> {
  const keys = new Map<string, string>();
  for (const pair of spec.split(',').filter(Boolean)) {
    const colon = pair.indexOf(':');
    keys.set(pair.slice(0, colon), pair.slice(colon + 1));
  }
  return keys;
}

export const rekognition: ProviderDescriptor<typeof rekognitionOptions> = {
  name: 'rekognition',
  options: rekognitionOptions,
  endpointOption: 'rekognitionEndpoint',
  operations: REKOGNITION_OPERATIONS,

  create(settings, context): Provider {
    const regionFor = (head: RequestHead): string => settings.rekognitionRegion || scopeRegionOf(head) || 'us-east-1';
    const originFor = (head: RequestHead): string => settings.rekognitionEndpoint.replace('{region}', regionFor(head));
    const credentials =
      context.awsCredentials ?? fromNodeProviderChain(settings.awsProfile ? { profile: settings.awsProfile } : {});
    const unverified =
      settings.unverifiedSignatures === 'auto'
        ? context.listenerIsPrivate
          ? 'allow'
          : 'reject'
        : settings.unverifiedSignatures;
    const clientSecrets = parseClientKeys(settings.clientKeys);
    const sign = createSigner(credentials, regionFor, originFor);

    return {
      name: 'rekognition',
      bufferAll: true,
      maxBodyBytes: context.maxBodyBytes,
      matches: (head) => head.method === 'POST' && operationOf(head) !== undefined && head.url.split('?')[0] === '/',
      imageOperation: (head) => context.operations.get(operationOf(head) ?? ''),
      extract: (request, spec) => extractImages(request, spec),
      answers(response, slots) {
        const parsed = response.status === 200 ? parseJsonObject(response.body) : undefined;
        return slots.map((slot) => (parsed ? rekognitionAnswer(parsed, slot) : undefined));
      },
      errorReply: awsError,
      upstreamOrigin: originFor,
      authenticate: (request) => verifyClient(request, credentials, clientSecrets, unverified),
      sign,
    };
  },

  client: {
    operations: ['DetectLabels', 'DetectFaces', 'DetectText'],
    emulatorCredentials: { awsAccessKeyId: 'AKIDEMULATOR', awsSecretAccessKey: 'emulator-secret' },
    credentialsFromEnv: (env) => ({
      awsAccessKeyId: env.AWS_ACCESS_KEY_ID ?? '',
      awsSecretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? '',
      ...(env.AWS_SESSION_TOKEN ? { awsSessionToken: env.AWS_SESSION_TOKEN } : {}),
    }),
    context: (credentials) => ({
      awsCredentials: async () => ({
        accessKeyId: credentials.awsAccessKeyId ?? '',
        secretAccessKey: credentials.awsSecretAccessKey ?? '',
        ...(credentials.awsSessionToken ? { sessionToken: credentials.awsSessionToken } : {}),
      }),
    }),
    async request(spec, image) {
      const bytes = image.toString('base64');
      const fields = imageFieldsOf(spec.name);
      const body = Object.fromEntries(fields.map((field) => [field, { Bytes: bytes }]));
      return {
        method: 'POST',
        url: '/',
        headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `${TARGET_PREFIX}${spec.name}` },
        body: Buffer.from(JSON.stringify(body)),
      };
    },
  },

  emulator: async () => (await import('../../emulator/rekognition.ts')).registerRekognition,
};

/**
 * The inline images of a Rekognition request. The rebuild splices the new base64 into the client's JSON text in place
 * of each replaced `Bytes` string: every other byte (numbers such as `1e400`, white space, key order, nesting of any
 * depth) goes as the client wrote it. A field named twice in the body is ambiguous (which one the API reads is not
 * documented): the request then goes as sent.
 */
function extractImages(request: BufferedRequest, spec: OperationSpec): ExtractedRequest | undefined {
  let body: unknown;
  try {
    body = JSON.parse(request.body.toString('utf8'));
  } catch {
    throw new ProxyError('BAD_REQUEST', 400, 'Request body is not valid JSON');
  }
  if (!isObject(body)) throw new ProxyError('BAD_REQUEST', 400, 'Request body is not a JSON object');
  const fields = imageFieldsOf(spec.name);
  const found = findStrings(
    request.body,
    fields.map((field) => [field, 'Bytes']),
  );
  const slots: ImageSlot[] = [];
  const spans = new Map<string, JsonStringSpan>();
  for (const field of fields) {
    const image = body[field];
    // S3Object images stay where they are: only inline bytes can be recompressed.
    if (!isObject(image) || typeof image.Bytes !== 'string') continue;
    const at = found.get(pathKey([field, 'Bytes'])) ?? [];
    if (at.length !== 1) return undefined;
    const bytes = decodeBase64Strict(image.Bytes);
    if (!bytes) throw new ProxyError('BAD_REQUEST', 400, `${field}.Bytes is not valid base64`);
    slots.push({ field, bytes, operation: spec });
    spans.set(field, at[0]!);
  }
  if (slots.length === 0) return undefined;
  return {
    slots,
    rebuild(replacements) {
      const texts = new Map<JsonStringSpan, string>();
      for (const [field, bytes] of replacements) {
        const span = spans.get(field);
        if (span) texts.set(span, base64AsJsonString(bytes.toString('base64'), request.body, span));
      }
      return {
        method: request.method,
        url: request.url,
        headers: forwardableHeaders(request.headers),
        body: spliceStrings(request.body, texts),
      };
    },
  };
}
