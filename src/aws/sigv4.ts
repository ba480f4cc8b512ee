import { createHash, timingSafeEqual } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { NodeSha256 } from './node-sha256.ts';

/**
 * Verify an AWS Signature Version 4 (header form) the way AWS does: recompute it with the official signer over the
 * headers the client says it signed, at the client's own X-Amz-Date, and compare in constant time. Used by the
 * Rekognition emulator and by the proxy to check client signatures.
 */

export interface SignedRequest {
  method: string;
  /** Path and query exactly as received. */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export type SigV4FailureCode =
  | 'MissingAuthenticationToken'
  | 'IncompleteSignature'
  | 'UnrecognizedClientException'
  | 'InvalidSignatureException';

export type SigV4Result =
  | {
      ok: true;
      accessKeyId: string;
      region: string;
      /** False for `x-amz-content-sha256: UNSIGNED-PAYLOAD`: the signature then covers the head, not the body. */
      payloadSigned: boolean;
    }
  | { ok: false; code: SigV4FailureCode; message: string };

export interface SigV4Options {
  /** Expected signing service name; a credential scope for another service is refused. Default: any. */
  service?: string;
  /** Largest allowed distance between X-Amz-Date and now. Default 15 minutes, as AWS. */
  maxSkewMs?: number;
  /** Clock, for tests. */
  now?: () => Date;
}

const AUTH_PATTERN =
  /^AWS4-HMAC-SHA256\s+Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request\s*,\s*SignedHeaders=([a-z0-9;._-]+)\s*,\s*Signature=([0-9a-f]{64})\s*$/i;

const header = (headers: SignedRequest['headers'], name: string): string | undefined => {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
};

/** 20250101T000000Z -> Date, or undefined when malformed. */
function parseAmzDate(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const date = new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function parseQuery(search: string): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const [key, value] of new URLSearchParams(search)) {
    const existing = query[key];
    if (existing === undefined) query[key] = value;
    else query[key] = Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  return query;
}

const fail = (code: SigV4FailureCode, message: string): SigV4Result => ({ ok: false, code, message });

const MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

export async function verifySigV4(
  request: SignedRequest,
  secretFor: (accessKeyId: string) => string | undefined,
  options: SigV4Options = {},
): Promise<SigV4Result> {
  const authorization = header(request.headers, 'authorization');
  if (!authorization) return fail('MissingAuthenticationToken', 'Missing Authentication Token');
  const m = AUTH_PATTERN.exec(authorization.trim());
  if (!m) {
    return fail(
      'IncompleteSignature',
      "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters (AWS4-HMAC-SHA256).",
    );
  }
  const [, accessKeyId, scopeDate, region, service, signedList, signature] = m as unknown as [string, ...string[]];
  const amzDate = header(request.headers, 'x-amz-date');
  const signingDate = amzDate ? parseAmzDate(amzDate) : undefined;
  if (!signingDate)
    return fail('IncompleteSignature', "Authorization header requires existence of a valid 'X-Amz-Date' header.");
  if (amzDate!.slice(0, 8) !== scopeDate) {
    return fail(
      'InvalidSignatureException',
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${scopeDate}' != '${amzDate!.slice(0, 8)}'`,
    );
  }
  if (options.service !== undefined && service !== options.service) {
    return fail('InvalidSignatureException', `Credential should be scoped to correct service: '${options.service}'.`);
  }
  const secret = secretFor(accessKeyId!);
  if (secret === undefined)
    return fail('UnrecognizedClientException', 'The security token included in the request is invalid.');

  const now = (options.now ?? (() => new Date()))();
  const maxSkewMs = options.maxSkewMs ?? 15 * 60 * 1000;
  if (Math.abs(now.getTime() - signingDate.getTime()) > maxSkewMs) {
    return fail(
      'InvalidSignatureException',
      `Signature expired: ${amzDate} is now earlier or later than the allowed skew.`,
    );
  }

  const signedNames = signedList!.toLowerCase().split(';');
  if (!signedNames.includes('host')) return fail('InvalidSignatureException', "'Host' must be a signed header.");
  const headers: Record<string, string> = {};
  for (const name of signedNames) {
    const value = header(request.headers, name);
    if (value === undefined) return fail('InvalidSignatureException', MISMATCH);
    headers[name] = value;
  }
  // The signer trusts a signed x-amz-content-sha256 as the payload hash; AWS checks it against the body, so must we.
  const claimedHash = headers['x-amz-content-sha256'];
  if (claimedHash !== undefined && claimedHash !== 'UNSIGNED-PAYLOAD') {
    if (createHash('sha256').update(request.body).digest('hex') !== claimedHash.toLowerCase()) {
      return fail(
        'InvalidSignatureException',
        'The provided x-amz-content-sha256 header does not match what was computed.',
      );
    }
  }

  const parsed = new URL(request.url, 'http://placeholder');
  const signer = new SignatureV4({
    credentials: { accessKeyId: accessKeyId!, secretAccessKey: secret },
    region: region!,
    service: service!,
    sha256: NodeSha256,
    applyChecksum: false,
  });
  const signed = await signer.sign(
    {
      method: request.method.toUpperCase(),
      protocol: 'https:',
      hostname: headers.host!.replace(/:\d+$/, ''),
      path: decodeURIComponent(parsed.pathname),
      query: parseQuery(parsed.search),
      headers,
      body: request.body,
    },
    { signingDate, signingRegion: region!, signingService: service!, signableHeaders: new Set(signedNames) },
  );
  const expected = /Signature=([0-9a-f]{64})/.exec(String(signed.headers.authorization ?? ''))?.[1] ?? '';
  const ours = Buffer.from(expected, 'utf8');
  const theirs = Buffer.from(signature!.toLowerCase(), 'utf8');
  if (ours.length !== theirs.length || !timingSafeEqual(ours, theirs))
    return fail('InvalidSignatureException', MISMATCH);
  return { ok: true, accessKeyId: accessKeyId!, region: region!, payloadSigned: claimedHash !== 'UNSIGNED-PAYLOAD' };
}
