import type { Answer } from '../answer.ts';

export type ProviderName = 'rekognition' | 'facepp' | 'baidu';

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

/** One image inside a request, decoded from its wire encoding (base64, multipart part, ...). */
export interface ImageSlot {
  /** The field that carries it, e.g. `Image`, `SourceImage`, `image_file1`, `image_base64`, `image`. */
  field: string;
  bytes: Buffer;
}

/** An image request taken apart: its images, and a way to put it back together with other bytes. */
export interface ExtractedRequest {
  operation: string;
  slots: ImageSlot[];
  /**
   * The request with some slots replaced (field -> new bytes), everything else preserved: other fields, their order,
   * file names, the wire encoding. Slots not in the map keep their original bytes. Content-Length is set by the caller.
   */
  rebuild(replacements: ReadonlyMap<string, Buffer>): OutgoingRequest;
}

/** The per-API limits that decide what the proxy may send (PROVIDERS.md). */
export interface ImageLimits {
  /** Smallest allowed side in pixels: an image below it is forwarded untouched and the API answers its own error. */
  minSide: number;
  maxSide: number;
  /** Largest image in bytes, as the API counts it (decoded bytes; base64 and URL-encoding are the provider's concern). */
  maxBytes: number;
}

/** Errors the proxy itself raises, mapped to each API's wire shape by `Provider.errorReply`. */
export type ProxyErrorCode =
  | 'BAD_REQUEST' // malformed body the proxy had to read (bad JSON, bad multipart, bad base64)
  | 'BODY_TOO_LARGE'
  | 'AUTH_FAILED' // client signature wrong
  | 'AUTH_UNVERIFIABLE' // signature from a key whose secret the proxy does not know, refused by config
  | 'UPSTREAM_UNREACHABLE'
  | 'UPSTREAM_TIMEOUT';

export class ProxyError extends Error {
  readonly code: ProxyErrorCode;
  readonly status: number;
  constructor(code: ProxyErrorCode, status: number, message: string) {
    super(message);
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

/**
 * One upstream API. Adding a fourth API is one new module implementing this and one line in the registry.
 * All methods are synchronous and pure except `prepareUpstream`, which may sign.
 */
export interface Provider {
  readonly name: ProviderName;
  /** Does the request belong to this API at all (by path and headers)? */
  matches(head: RequestHead): boolean;
  /**
   * The image operation this request is, or undefined when it carries no image the proxy may rewrite (token requests,
   * other operations): then it passes through untouched. Decided from the head only, before reading the body.
   */
  imageOperation(head: RequestHead): string | undefined;
  /** Largest body the proxy buffers for an image operation of this API. */
  readonly maxBodyBytes: number;
  /**
   * Take the buffered request apart. Returns undefined when it turns out to carry no recompressible image (e.g. an
   * S3Object, an image_url): the original then passes through. Throws ProxyError('BAD_REQUEST') for a body the API
   * would refuse as malformed anyway; the caller decides whether to forward the original or answer the error.
   */
  extract(request: BufferedRequest, operation: string): ExtractedRequest | undefined;
  limits(operation: string): ImageLimits;
  /**
   * Read the upstream answer into the normalised shape, or undefined when it is an error or unreadable. `imageSize` is the
   * client's image in pixels, for APIs whose boxes are ratios (Rekognition): the log keeps boxes in client pixels.
   */
  answer(
    operation: string,
    status: number,
    body: Buffer,
    imageSize?: { width: number; height: number },
  ): Answer | undefined;
  /** The proxy's own error, in this API's wire shape. */
  errorReply(error: ProxyError): ErrorReply;
  /** Origin (scheme://host:port) to forward this request to: from config, never from the request's Host. */
  upstreamOrigin(head: RequestHead): string;
  /** True when every request must be buffered, not only image ones (Rekognition: its signature covers the body). */
  readonly bufferAll: boolean;
  /** Optional: check the client's credentials before anything is forwarded (Rekognition: SigV4). Throws ProxyError. */
  authenticate?(request: BufferedRequest): Promise<void>;
  /** Optional: the last step before sending, once every header is final (Rekognition: re-sign with the proxy's key). */
  sign?(request: OutgoingRequest, head: RequestHead): Promise<OutgoingRequest>;
}
