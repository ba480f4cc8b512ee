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
  // stdout is written asynchronously: a blocking write per request line cost ~0.3 ms on the hot path. pino flushes
  // what is queued when the process exits; SIGKILL can lose the last lines of this service log (never of the decision
  // log, which has its own durability rules).
  return pino(
    { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { service: 'adacompress' } },
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
