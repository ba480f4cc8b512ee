import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { verifySigV4 } from '../../src/aws/sigv4.ts';

const secrets: Record<string, string> = { AKIDTEST: 'test-secret' };
const secretFor = (id: string) => secrets[id];

/** A Rekognition-shaped request signed by the real SDK signer, as the wire would carry it. */
async function signedRequest(body = '{"Image":{"Bytes":"AAAA"}}', secret = 'test-secret', accessKeyId = 'AKIDTEST') {
  const signer = new SignatureV4({
    credentials: { accessKeyId, secretAccessKey: secret },
    region: 'us-east-1',
    service: 'rekognition',
    sha256: Sha256,
  });
  const signed = await signer.sign({
    method: 'POST',
    protocol: 'https:',
    hostname: 'localhost',
    port: 4566,
    path: '/',
    query: {},
    headers: {
      host: 'localhost:4566',
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': 'RekognitionService.DetectLabels',
      'content-length': String(Buffer.byteLength(body)),
    },
    body,
  });
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(signed.headers)) headers[k.toLowerCase()] = String(v);
  return { method: 'POST', url: '/', headers, body: Buffer.from(body) };
}

describe('verifySigV4', () => {
  it('accepts a request signed by the official signer and reports key and region', async () => {
    const result = await verifySigV4(await signedRequest(), secretFor, { service: 'rekognition' });
    assert.deepEqual(result, { ok: true, accessKeyId: 'AKIDTEST', region: 'us-east-1', payloadSigned: true });
  });

  it('refuses a tampered body', async () => {
    const request = await signedRequest();
    const result = await verifySigV4({ ...request, body: Buffer.from('{"Image":{"Bytes":"BBBB"}}') }, secretFor);
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.code, 'InvalidSignatureException');
  });

  it('refuses a changed signed header (the operation in X-Amz-Target)', async () => {
    const request = await signedRequest();
    request.headers['x-amz-target'] = 'RekognitionService.DeleteCollection';
    const result = await verifySigV4(request, secretFor);
    assert.equal(!result.ok && result.code, 'InvalidSignatureException');
  });

  it('refuses a signature made with the wrong secret', async () => {
    const result = await verifySigV4(await signedRequest(undefined, 'other-secret'), secretFor);
    assert.equal(!result.ok && result.code, 'InvalidSignatureException');
  });

  it('tells an unknown access key apart from a bad signature', async () => {
    const result = await verifySigV4(await signedRequest(undefined, 'x', 'AKIDUNKNOWN'), secretFor);
    assert.deepEqual(result, {
      ok: false,
      code: 'UnrecognizedClientException',
      message: 'The security token included in the request is invalid.',
    });
  });

  it('says the token is missing when there is no Authorization header', async () => {
    const request = await signedRequest();
    delete request.headers.authorization;
    const result = await verifySigV4(request, secretFor);
    assert.equal(!result.ok && result.code, 'MissingAuthenticationToken');
  });

  it('refuses a malformed Authorization header as incomplete', async () => {
    const request = await signedRequest();
    request.headers.authorization = 'AWS4-HMAC-SHA256 Credential=AKIDTEST/20250101/us-east-1/rekognition/aws4_request';
    const result = await verifySigV4(request, secretFor);
    assert.equal(!result.ok && result.code, 'IncompleteSignature');
  });

  it('refuses a signature outside the allowed clock skew', async () => {
    const request = await signedRequest();
    const later = () => new Date(Date.now() + 20 * 60 * 1000);
    const result = await verifySigV4(request, secretFor, { now: later });
    assert.equal(!result.ok && result.code, 'InvalidSignatureException');
  });

  it('refuses a credential scoped to another service', async () => {
    const result = await verifySigV4(await signedRequest(), secretFor, { service: 's3' });
    assert.equal(!result.ok && result.code, 'InvalidSignatureException');
  });
});
