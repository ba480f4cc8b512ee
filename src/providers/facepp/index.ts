import { option, url } from '../../config/options.ts';
import { forwardableHeaders, headerValue, pathOf } from '../headers.ts';
import { boundaryOf } from '../multipart.ts';
import type { ImageLimits, OperationSpec, ProviderDescriptor, RequestHead } from '../types.ts';
import { faceppAnswers } from './answers.ts';
import { faceppError } from './errors.ts';
import { badRequest, type FoundImages, formImages, multipartImages, slotFieldsFor } from './images.ts';
import { faceppMapAnswer } from './mapping.ts';

/**
 * Face++ (Megvii): multipart or urlencoded forms with the image in `image_file*` (binary part) or `image_base64*`,
 * credentials as plain form fields (nothing signed, so the body may be rewritten freely). See PROVIDERS.md.
 */

const MB = 1024 * 1024;
/** Face++ caps the whole request body at 2 MB (over it: a plain-text 413). */
export const FACEPP_BODY_LIMIT = 2 * MB;
/**
 * Default limits. Face++ counts 2 MB of *body*: a binary part may be nearly that, but base64 grows the image by 4/3.
 * The limits cannot know which encoding a request uses, so the default fits both: (2 MB - 16 KiB for the other
 * fields) * 3/4 = 1,560,576 decoded bytes. Override with --image-limits for multipart-only clients.
 */
export const FACEPP_LIMITS: ImageLimits = {
  minSide: 48,
  maxSide: 4096,
  maxBytes: Math.floor(((FACEPP_BODY_LIMIT - 16 * 1024) * 3) / 4),
};

const operation = (name: string, kind: OperationSpec['kind']): OperationSpec => ({
  name,
  kind,
  limits: FACEPP_LIMITS,
  formats: ['jpeg', 'png'],
});

/**
 * Operations that take an image by the documented field names, named by their path without the leading slash. Other
 * paths under the Face++ prefixes (faceset management, face/analyze by token) pass through; an allowlist also keeps
 * operation names, which become log fields and metric labels, a bounded set whatever paths clients send. Beautify and
 * body segmentation are left out on purpose: what they return is an image made from the uploaded pixels, so a
 * cheaper upload would be a worse product, and no answer measure here could see it.
 */
export const FACEPP_OPERATIONS: readonly OperationSpec[] = [
  operation('facepp/v3/detect', 'faces'),
  operation('facepp/v3/compare', 'compare'),
  operation('facepp/v3/search', 'compare'),
  operation('facepp/v1/skinanalyze', 'labels'),
  operation('facepp/v1/skinanalyze_advanced', 'labels'),
  operation('facepp/v1/facialfeatures', 'faces'),
  operation('humanbodypp/v1/detect', 'faces'),
  operation('humanbodypp/v1/gesture', 'faces'),
  operation('humanbodypp/v1/skeleton', 'faces'),
  operation('imagepp/v1/recognizetext', 'text'),
  operation('imagepp/beta/detectsceneandobject', 'labels'),
  operation('imagepp/v1/licenseplate', 'text'),
];
const PREFIXES = ['/facepp/', '/imagepp/', '/humanbodypp/'];

/**
 * Request fields that give a face's box in the client's pixels (detect/search: `face_rectangle`; compare:
 * `face_rectangle1`/`face_rectangle2`, one per image): the API looks only there, so the image they refer to is never
 * resized.
 */
const RECTANGLE_FIELDS = ['face_rectangle'];
const rectangleFor = (field: string, imageField: string): string => {
  const number = /([12])$/.exec(imageField)?.[1];
  return number ? `${field}${number}` : field;
};

const MULTIPART = 'multipart/form-data';
const URLENCODED = 'application/x-www-form-urlencoded';
const mimeOf = (head: RequestHead): string =>
  (headerValue(head.headers, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();

export const faceppOptions = {
  faceppEndpoint: option(url(), 'https://api-us.faceplusplus.com', 'Upstream Face++ origin (api-cn for China).'),
};

export const facepp: ProviderDescriptor<typeof faceppOptions> = {
  name: 'facepp',
  options: faceppOptions,
  endpointOption: 'faceppEndpoint',
  operations: FACEPP_OPERATIONS,

  create: (settings, context) => ({
    name: 'facepp',
    maxBodyBytes: context.maxBodyBytes,
    bufferAll: false,
    matches: (head) => PREFIXES.some((prefix) => pathOf(head.url).startsWith(prefix)),
    imageOperation(head) {
      if (head.method !== 'POST') return undefined;
      const mime = mimeOf(head);
      if (mime !== MULTIPART && mime !== URLENCODED) return undefined;
      return context.operations.get(pathOf(head.url).replace(/^\/+|\/+$/g, ''));
    },
    extract(request, spec) {
      const fields = slotFieldsFor(spec.name);
      let found: FoundImages | undefined;
      if (mimeOf(request) === MULTIPART) {
        const boundary = boundaryOf(headerValue(request.headers, 'content-type') ?? '');
        if (boundary === undefined) throw badRequest('multipart Content-Type without a boundary');
        found = multipartImages(request.body, boundary, fields, spec);
      } else {
        found = formImages(request.body, fields, spec);
      }
      if (found === undefined || found.slots.length === 0) return undefined;
      const { rebuildBody } = found;
      // A face_rectangle field names a region in the client's pixels: that image must keep its size.
      const slots = found.slots.map((slot) =>
        RECTANGLE_FIELDS.some((field) => found.fieldNames.has(rectangleFor(field, slot.field)))
          ? { ...slot, keepSize: true }
          : slot,
      );
      return {
        slots,
        rebuild: (replacements) => ({
          method: request.method,
          url: request.url,
          headers: forwardableHeaders(request.headers),
          body: rebuildBody(replacements),
        }),
      };
    },
    answers: faceppAnswers,
    mapAnswer: faceppMapAnswer,
    errorReply: faceppError,
    upstreamOrigin: () => settings.faceppEndpoint,
  }),

  client: {
    operations: ['facepp/v3/detect', 'imagepp/beta/detectsceneandobject'],
    emulatorCredentials: { apiKey: 'emulator-key', apiSecret: 'emulator-secret' },
    credentialsFromEnv: (env) => ({
      apiKey: env.ADACOMPRESS_COLLECT_FACEPP_API_KEY ?? '',
      apiSecret: env.ADACOMPRESS_COLLECT_FACEPP_API_SECRET ?? '',
    }),
    async request(spec, image, credentials) {
      // What `curl -F` sends: the credentials as fields, the image as a file part (one per compared image).
      const form = new FormData();
      form.set('api_key', credentials.apiKey ?? '');
      form.set('api_secret', credentials.apiSecret ?? '');
      for (const { file } of slotFieldsFor(spec.name)) {
        form.set(file, new Blob([new Uint8Array(image)], { type: 'image/jpeg' }), 'image.jpg');
      }
      const encoded = new Request('http://form.invalid/', { method: 'POST', body: form });
      return {
        method: 'POST',
        url: `/${spec.name}`,
        headers: { 'content-type': encoded.headers.get('content-type') ?? MULTIPART },
        body: Buffer.from(await encoded.arrayBuffer()),
      };
    },
  },

  emulator: async () => (await import('../../emulator/facepp.ts')).registerFacepp,
};
