import { randomUUID } from 'node:crypto';
import type { ErrorReply, ProxyError } from '../types.ts';

/** Face++'s own error codes for the proxy's errors, with the status Face++ pairs them with. */
const FACEPP_ERRORS: Record<ProxyError['code'], { status: number; message: string }> = {
  BAD_REQUEST: { status: 400, message: 'BAD_ARGUMENTS' },
  BODY_TOO_LARGE: { status: 413, message: 'Request Entity Too Large' },
  AUTH_FAILED: { status: 401, message: 'AUTHENTICATION_ERROR' },
  AUTH_UNVERIFIABLE: { status: 403, message: 'AUTHORIZATION_ERROR' },
  CLIENT_TIMEOUT: { status: 408, message: 'REQUEST_TIMEOUT' },
  BUSY: { status: 503, message: 'INTERNAL_ERROR' },
  SHUTTING_DOWN: { status: 503, message: 'INTERNAL_ERROR' },
  UPSTREAM_UNREACHABLE: { status: 502, message: 'INTERNAL_ERROR' },
  UPSTREAM_FAILED: { status: 502, message: 'INTERNAL_ERROR' },
  UPSTREAM_TIMEOUT: { status: 504, message: 'INTERNAL_ERROR' },
  INTERNAL: { status: 502, message: 'INTERNAL_ERROR' },
};

/**
 * The proxy's errors in Face++'s shape. A too-large body is answered as Face++ does, in plain text. Only the proxy's
 * own message text goes out (it names a field at most), never anything from the upstream.
 */
export function faceppError(error: ProxyError): ErrorReply {
  const { status, message } = FACEPP_ERRORS[error.code];
  if (error.code === 'BODY_TOO_LARGE') {
    return { status, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: message };
  }
  const detail = error.code === 'BAD_REQUEST' ? `${message}: ${error.message}` : message;
  return {
    status,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      time_used: 0,
      error_message: detail,
      request_id: `${Math.floor(Date.now() / 1000)},${randomUUID()}`,
    }),
  };
}
