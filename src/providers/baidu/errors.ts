import { randomInt } from 'node:crypto';
import type { ErrorReply, ProxyError } from '../types.ts';

/**
 * Baidu's codes for the proxy's errors. Errors Baidu itself would give (bad parameter, image size, token) come as
 * Baidu sends them, in the body with HTTP 200, so clients' existing handling applies; the proxy's own transport
 * failures use 502/504 so that clients' and load balancers' retry logic, which looks at the status, sees them.
 */
const BAIDU_ERRORS: Record<ProxyError['code'], { status: number; code: number; message: string }> = {
  BAD_REQUEST: { status: 200, code: 100, message: 'Invalid parameter' },
  BODY_TOO_LARGE: { status: 200, code: 216202, message: 'image size error' },
  AUTH_FAILED: { status: 200, code: 110, message: 'Access token invalid or no longer valid' },
  AUTH_UNVERIFIABLE: { status: 200, code: 6, message: 'No permission to access data' },
  CLIENT_TIMEOUT: { status: 408, code: 282000, message: 'internal error' },
  BUSY: { status: 503, code: 282000, message: 'internal error' },
  SHUTTING_DOWN: { status: 503, code: 282000, message: 'internal error' },
  UPSTREAM_UNREACHABLE: { status: 502, code: 282000, message: 'internal error' },
  UPSTREAM_FAILED: { status: 502, code: 282000, message: 'internal error' },
  UPSTREAM_TIMEOUT: { status: 504, code: 282000, message: 'internal error' },
  INTERNAL: { status: 502, code: 282000, message: 'internal error' },
};

export function baiduError(error: ProxyError): ErrorReply {
  const { status, code, message } = BAIDU_ERRORS[error.code];
  return {
    status,
    headers: { 'content-type': 'application/json;charset=utf-8' },
    // log_id: a positive integer like Baidu's, kept below 2^53 so every JSON reader parses it exactly.
    body: JSON.stringify({ error_code: code, error_msg: message, log_id: randomInt(1, 2 ** 47) }),
  };
}
