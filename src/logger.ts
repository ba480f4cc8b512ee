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

/** Bytes of log lines gathered before one write to stdout, and the longest a line waits for it. */
export const LOG_BUFFER_BYTES = 8 * 1024;
export const LOG_FLUSH_MS = 250;

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { service: 'adacompress' } },
    destination ?? bufferedStdout(),
  );
}

/**
 * stdout, written in batches: one write per request line (a syscall, and on a pipe or file a thread-pool job) cost
 * about as much CPU as the whole pass-through of that request (`npm run bench -- passthrough`). Lines gather up to
 * LOG_BUFFER_BYTES and wait at most LOG_FLUSH_MS, so a quiet proxy's lines still show at once to the eye. pino
 * flushes what is queued when the process exits; SIGKILL can lose the last quarter second of this service log (never
 * of the decision log, which has its own durability rules).
 */
function bufferedStdout(): DestinationStream {
  const stream = pino.destination({ dest: 1, sync: false, minLength: LOG_BUFFER_BYTES });
  const timer = setInterval(() => {
    try {
      stream.flush();
    } catch {
      // Closed (the process is exiting): nothing is left to flush.
      clearInterval(timer);
    }
  }, LOG_FLUSH_MS).unref();
  return stream;
}
