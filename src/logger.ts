import pino, { type DestinationStream, type Logger } from 'pino';

/** Credentials that may sit in headers, bodies or queries: censored wherever they appear in a log object. */
export const REDACT_PATHS = [
  'authorization',
  '*.authorization',
  '*.headers.authorization',
  '*.headers["x-amz-security-token"]',
  '*["x-amz-security-token"]',
  'api_key',
  'api_secret',
  'access_token',
  'client_secret',
  '*.api_key',
  '*.api_secret',
  '*.access_token',
  '*.client_secret',
  'secretAccessKey',
  '*.secretAccessKey',
  'clientKeys',
  '*.clientKeys',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { service: 'adacompress' } },
    destination,
  );
}
