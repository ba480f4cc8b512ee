import type { Answer } from '../answer.ts';
import type { ConfigOf, OptionTable } from '../config/options.ts';

/** A provider's name, as in keys (`rekognition/DetectLabels`), logs and metrics. Lower case. */
export type ProviderName = string;

/**
 * What an operation's answer is about, which decides how agreement with a reference is measured (rewardSpec):
 * labels (classification, moderation, scenes), faces (boxes), text (OCR), compare (a similarity between images).
 */
export type TaskKind = 'labels' | 'faces' | 'text' | 'compare';
export const taskKinds: readonly TaskKind[] = ['labels', 'faces', 'text', 'compare'];

/** Header map with lower-case names, as Node gives them. */
export type Headers = Record<string, string | string[] | undefined>;

/** The request line and headers, available before the body is read. */
export interface RequestHead {
  method: string;
  /** Path and query exactly as received, e.g. `/rest/2.0/face/v3/detect?access_token=T`. */
  url: string;
  headers: Headers;
}

/** A whole client request, body buffered (only image routes are buffered; everything else streams through). */
export interface BufferedRequest extends RequestHead {
  body: Buffer;
}

/** What goes upstream: path+query relative to the provider's configured base URL, final headers, body. */
export interface OutgoingRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: Buffer;
}

/** The per-API limits that decide what the proxy may send (PROVIDERS.md). */
export interface ImageLimits {
  /** Smallest allowed side in pixels: an image below it is forwarded untouched and the API answers its own error. */
  minSide: number;
  maxSide: number;
  /** Largest image in bytes, as the API counts it (decoded bytes; base64 and URL-encoding are the provider's concern). */
  maxBytes: number;
  /**
   * The resolution (longest side) the API documents working at, where it does: it resizes larger uploads itself, so
   * the proxy never sends more than this. Absent: no documented figure, the stored size is the ceiling.
   */
  workingSide?: number;
}

/** One image operation of an API: what its answer means and what it accepts. */
export interface OperationSpec {
  /** As it appears in keys and logs: `DetectLabels`, `image-classify/v2/advanced_general`, `facepp/v3/detect`. */
  name: string;
  kind: TaskKind;
  limits: ImageLimits;
  /** Image formats the API accepts (sharp's names); the proxy never sends another. */
  formats: readonly string[];
}

/** One image inside a request, decoded from its wire encoding (base64, multipart part, ...), with what it is for. */
export interface ImageSlot {
  /** The field that carries it, e.g. `Image`, `SourceImage`, `image_file1`, `image_base64`, `image`. */
  field: string;
  bytes: Buffer;
  /** The operation this image is sent to. A batching API gives each image its own; the others, the request's. */
  operation: OperationSpec;
  /** Something else in the request refers to this image's pixels (a region of interest): it keeps its size. */
  keepSize?: boolean;
}

/** An image request taken apart: its images, and a way to put it back together with other bytes. */
export interface ExtractedRequest {
  slots: ImageSlot[];
  /**
   * The request with some slots replaced (field -> new bytes), everything else preserved: other fields, their order,
   * file names, the wire encoding. Slots not in the map keep their original bytes. Content-Length is set by the caller.
   */
  rebuild(replacements: ReadonlyMap<string, Buffer>): OutgoingRequest;
}

/** Pixel size of an image as its header states it (stored grid, before EXIF orientation). */
export interface PixelSize {
  width: number;
  height: number;
}

/** What an answer reader needs to know of each image the upstream saw. */
export interface AnsweredSlot {
  field: string;
  operation: OperationSpec;
  /** The image the client sent; answers are normalised into its pixels. Absent when the image could not be read. */
  clientSize?: PixelSize;
  /** EXIF orientation of the client's image (1..8; 1 when absent). */
  clientOrientation?: number;
  /** The image that went upstream (differs from clientSize only when the proxy resized). */
  sentSize?: PixelSize;
}

/** Errors the proxy itself raises, mapped to each API's wire shape by `Provider.errorReply`. */
export type ProxyErrorCode =
  | 'BAD_REQUEST' // malformed body the proxy had to read (bad JSON, bad multipart, bad base64, cut short)
  | 'BODY_TOO_LARGE'
  | 'AUTH_FAILED' // client signature wrong
  | 'AUTH_UNVERIFIABLE' // signature from a key whose secret the proxy does not know (or not over the body), refused
  | 'CLIENT_TIMEOUT' // the client's body stalled or took too long (--client-body-timeout-ms, --client-request-timeout-ms)
  | 'BUSY' // the proxy could not take the body in time (--max-buffered-bytes full for --buffer-wait-ms)
  | 'SHUTTING_DOWN' // still unanswered when the shutdown grace ran out
  | 'UPSTREAM_UNREACHABLE' // no connection to the upstream (refused, DNS, connect timeout)
  | 'UPSTREAM_FAILED' // connected, but the upstream closed or broke the exchange before answering
  | 'UPSTREAM_TIMEOUT'
  | 'INTERNAL'; // the proxy's own machinery failed where it could not fail open (a bug): never blamed on the upstream

export class ProxyError extends Error {
  readonly code: ProxyErrorCode;
  readonly status: number;
  /** `cause`: what really happened (an undici or system error), for the service log; never sent to the client. */
  constructor(code: ProxyErrorCode, status: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProxyError';
    this.code = code;
    this.status = status;
  }
}

export interface ErrorReply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** An upstream answer, buffered, content-decoded: what answer readers parse. */
export interface DecodedResponse {
  status: number;
  body: Buffer;
}

/**
 * One upstream API at run time, made by its descriptor from the config. Everything here is synchronous and pure except
 * `authenticate` and `sign`.
 */
export interface Provider {
  readonly name: ProviderName;
  /** Does the request belong to this API at all (by path and headers)? */
  matches(head: RequestHead): boolean;
  /**
   * The image operation this request is, or undefined when it carries no image the proxy may rewrite (token requests,
   * other operations): then it passes through untouched. Decided from the head only, before reading the body.
   */
  imageOperation(head: RequestHead): OperationSpec | undefined;
  /** Largest body the proxy buffers for an image operation of this API. */
  readonly maxBodyBytes: number;
  /** True when every request must be buffered, not only image ones (Rekognition: its signature covers the body). */
  readonly bufferAll: boolean;
  /**
   * Take the buffered request apart. Returns undefined when it turns out to carry no recompressible image (e.g. an
   * S3Object, an image_url): the original then passes through. Throws ProxyError('BAD_REQUEST') for a body the API
   * would refuse as malformed anyway; the caller forwards the original and lets the API answer in its own words.
   */
  extract(request: BufferedRequest, operation: OperationSpec): ExtractedRequest | undefined;
  /**
   * The upstream answer as one normalised answer per image slot, aligned with `slots` (undefined where the API
   * answered an error or something unreadable). Boxes are in the pixels of each slot's client image.
   */
  answers(response: DecodedResponse, slots: readonly AnsweredSlot[]): (Answer | undefined)[];
  /**
   * Optional: the decoded answer body rewritten for the client when the proxy sent some image at another size, so
   * that every pixel coordinate in it means the client's own pixels (answer-mapping.ts); undefined when nothing in it
   * changes. Throws AnswerMappingError when it cannot rewrite it (the client then gets the upstream's bytes). Absent:
   * the API's answers carry no pixels (Rekognition: ratios of the image).
   */
  mapAnswer?(body: Buffer, slots: readonly AnsweredSlot[]): Buffer | undefined;
  /** The proxy's own error, in this API's wire shape. */
  errorReply(error: ProxyError): ErrorReply;
  /** Origin (scheme://host:port) to forward this request to: from config, never from the request's Host. */
  upstreamOrigin(head: RequestHead): string;
  /** Optional: check the client's credentials before anything is forwarded (Rekognition: SigV4). Throws ProxyError. */
  authenticate?(request: BufferedRequest): Promise<void>;
  /** Optional: the last step before sending, once every header is final (Rekognition: re-sign with the proxy's key). */
  sign?(request: OutgoingRequest, head: RequestHead): Promise<OutgoingRequest>;
}

/** The proxy's own AWS credentials (the standard chain resolves them: env, shared files, profile, role). */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}
export type CredentialSource = () => Promise<AwsCredentials>;

/** What every provider gets from the proxy besides its own options. */
export interface ProviderContext {
  /** Largest body the proxy buffers for an image operation (--max-body-bytes). */
  maxBodyBytes: number;
  /** The listener is on loopback and trusted: decides what unverifiable signatures get by default. */
  listenerIsPrivate: boolean;
  /** The descriptor's operations with the configured limit overrides applied (--image-limits), by name. */
  operations: ReadonlyMap<string, OperationSpec>;
  /** The proxy's own AWS credentials; absent = the standard AWS chain (tests and the trainer inject theirs). */
  awsCredentials?: CredentialSource;
}

/** How the trainer's `collect` calls an operation the way a client would (one image per call). */
export interface ApiClientSpec {
  /** Operations collect can call (those the emulator implements). */
  operations: readonly string[];
  /** The credentials the emulator accepts (docs/EMULATOR.md), by name. */
  emulatorCredentials: Readonly<Record<string, string>>;
  /** Real credentials from the environment, same names. */
  credentialsFromEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string>;
  /** Context for the provider made to sign these calls (Rekognition: the AWS key to sign with). */
  context?(credentials: Readonly<Record<string, string>>): Partial<ProviderContext>;
  /**
   * The request for one image, before signing. `call` sends a preliminary request and gives its answer (Baidu's token
   * request); it is the trainer's own transport.
   */
  request(
    operation: OperationSpec,
    image: Buffer,
    credentials: Readonly<Record<string, string>>,
    call: (request: OutgoingRequest) => Promise<DecodedResponse>,
  ): Promise<OutgoingRequest>;
}

/** An emulated API's routes (src/emulator/*.ts), loaded only by the emulator. */
export type EmulatorRoutes = (
  app: import('fastify').FastifyInstance,
  context: import('../emulator/context.ts').EmulatorContext,
) => void;

/**
 * Everything the product knows about one upstream API, in one value: its name, options (endpoint, ...), operations
 * with their task kinds and limits, the run-time provider, the trainer's client and the emulator's routes. The
 * registry (registry.ts) lists descriptors; the config table, decision-log schema, trainer client and emulator routes
 * derive from that list, so adding an API is one module and one line there (docs/ARCHITECTURE.md).
 */
export interface ProviderDescriptor<Table extends OptionTable = OptionTable> {
  readonly name: ProviderName;
  /** Options of this API (flags/env), merged into `adacompress serve`'s table. */
  readonly options: Table;
  /** The option (a key of `options`) holding the upstream origin: the trainer points it at an emulator or an API. */
  readonly endpointOption: string;
  /** The image operations the proxy intercepts, with their documented limits. */
  readonly operations: readonly OperationSpec[];
  create(settings: ConfigOf<Table>, context: ProviderContext): Provider;
  readonly client?: ApiClientSpec;
  /** The emulator's routes for this API, imported lazily so the proxy never loads the emulator. */
  readonly emulator?: () => Promise<EmulatorRoutes>;
}
