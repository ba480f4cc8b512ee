import { SignatureV4 } from '@smithy/signature-v4';
import { NodeSha256 } from '../../aws/node-sha256.ts';
import { verifySigV4 } from '../../aws/sigv4.ts';
import { headerValue } from '../headers.ts';
import {
  type BufferedRequest,
  type CredentialSource,
  type ErrorReply,
  type OutgoingRequest,
  ProxyError,
  type RequestHead,
} from '../types.ts';

/** Headers that belong to the client's signature and must not survive re-signing. */
const SIGNING_HEADERS = new Set(['authorization', 'x-amz-date', 'x-amz-security-token', 'x-amz-content-sha256']);

/**
 * Check the client's SigV4 where the proxy knows the key's secret (its own key, and --client-keys). A key it cannot
 * verify, or no signature at all, gets what `unverified` says: a re-signing proxy that accepts anything would be an
 * open door to the account, so only a private listener allows it by default. So does a signature with
 * `UNSIGNED-PAYLOAD`: it covers the head only, so the same signed head could carry any body, which the proxy would
 * then sign with its own key.
 */
export async function verifyClient(
  request: BufferedRequest,
  credentials: CredentialSource,
  clientSecrets: ReadonlyMap<string, string>,
  unverified: 'reject' | 'allow',
): Promise<void> {
  const own = await credentials();
  const secretFor = (key: string) =>
    clientSecrets.get(key) ?? (key === own.accessKeyId ? own.secretAccessKey : undefined);
  if (!headerValue(request.headers, 'authorization')) {
    if (unverified === 'allow') return;
    throw new ProxyError('AUTH_UNVERIFIABLE', 400, 'Request is missing Authentication Token');
  }
  const result = await verifySigV4(request, secretFor, { service: 'rekognition' });
  if (result.ok) {
    if (result.payloadSigned || unverified === 'allow') return;
    throw new ProxyError(
      'AUTH_FAILED',
      403,
      'UNSIGNED-PAYLOAD is not accepted here: the signature must cover the request body (x-amz-content-sha256).',
    );
  }
  if (result.code === 'UnrecognizedClientException') {
    if (unverified === 'allow') return;
    throw new ProxyError('AUTH_UNVERIFIABLE', 403, 'The security token included in the request is invalid.');
  }
  throw new ProxyError('AUTH_FAILED', 403, result.message);
}

/** Re-sign with the proxy's own key: every header final first (host, length), signature last. */
export function createSigner(
  credentials: CredentialSource,
  regionFor: (head: RequestHead) => string,
  originFor: (head: RequestHead) => string,
) {
  return async (request: OutgoingRequest, head: RequestHead): Promise<OutgoingRequest> => {
    const origin = new URL(originFor(head));
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers)) {
      if (!SIGNING_HEADERS.has(name)) headers[name] = value;
    }
    // aws-sigv4-proxy's lesson in reverse: it signs before copying the client's headers, so some go unsigned.
    headers.host = origin.host;
    headers['content-length'] = String(request.body.length);
    const signer = new SignatureV4({
      credentials,
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
  };
}

const AWS_ERRORS: Record<ProxyError['code'], string> = {
  BAD_REQUEST: 'SerializationException',
  BODY_TOO_LARGE: 'ImageTooLargeException',
  AUTH_FAILED: 'InvalidSignatureException',
  AUTH_UNVERIFIABLE: 'UnrecognizedClientException',
  CLIENT_TIMEOUT: 'RequestTimeoutException',
  BUSY: 'ServiceUnavailableException',
  SHUTTING_DOWN: 'ServiceUnavailableException',
  UPSTREAM_UNREACHABLE: 'ServiceUnavailableException',
  UPSTREAM_FAILED: 'ServiceUnavailableException',
  UPSTREAM_TIMEOUT: 'RequestTimeoutException',
  INTERNAL: 'InternalServerError',
};

/** The JSON 1.1 error shape; SDKs read the code from x-amzn-errortype first. */
export function awsError(error: ProxyError): ErrorReply {
  const type =
    error.code === 'AUTH_UNVERIFIABLE' && error.status === 400
      ? 'MissingAuthenticationTokenException'
      : AWS_ERRORS[error.code];
  return {
    status: error.status,
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': type },
    body: JSON.stringify({ __type: type, message: error.message }),
  };
}
