import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { CLIENT_CREDENTIALS } from './proxy.ts';

/**
 * The headers of a Rekognition call to `url` as the SDK signs it with the client's key (SigV4, header form).
 * `unsignedPayload` signs `x-amz-content-sha256: UNSIGNED-PAYLOAD` instead of the body's hash, as S3 clients may.
 */
export async function signedRekognitionHeaders(
  url: string,
  target: string,
  body: string | Buffer,
  options: { unsignedPayload?: boolean } = {},
): Promise<Record<string, string>> {
  const { hostname, port, host } = new URL(url);
  const signer = new SignatureV4({
    credentials: CLIENT_CREDENTIALS,
    region: 'us-east-1',
    service: 'rekognition',
    sha256: Sha256,
  });
  const signed = await signer.sign({
    method: 'POST',
    protocol: 'http:',
    hostname,
    ...(port ? { port: Number(port) } : {}),
    path: '/',
    query: {},
    headers: {
      host,
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': `RekognitionService.${target}`,
      ...(options.unsignedPayload ? { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } : {}),
    },
    body,
  });
  return Object.fromEntries(Object.entries(signed.headers).map(([k, v]) => [k.toLowerCase(), String(v)]));
}
