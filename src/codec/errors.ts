/** Stable codes: callers (and tests) match on these, never on message text. */
export type CodecErrorCode =
  | 'EMPTY' // zero bytes
  | 'UNSUPPORTED_FORMAT' // not an image sharp can read (random bytes, text, ...)
  | 'CORRUPT' // an image header, but the data is broken or truncated
  | 'TOO_MANY_PIXELS' // over CodecLimits.maxInputPixels: a decompression bomb or simply too big to touch
  | 'TOO_MANY_SCANS' // over CodecLimits.maxJpegScans or maxScanPixels: a progressive scan bomb
  | 'TIMED_OUT' // the work's deadline passed (sharp's timeout stopped libvips)
  | 'ENCODE_FAILED'; // sharp failed while decoding/encoding for another reason

export class CodecError extends Error {
  readonly code: CodecErrorCode;
  constructor(code: CodecErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CodecError';
    this.code = code;
  }
}

/** Map one of sharp's (libvips') error messages onto a stable code. */
export function codecErrorFromSharp(error: unknown, during: string): CodecError {
  if (error instanceof CodecError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (/pixel limit/i.test(message)) {
    return new CodecError('TOO_MANY_PIXELS', `${during}: image exceeds the pixel limit`, { cause: error });
  }
  if (/^timeout/i.test(message)) {
    return new CodecError('TIMED_OUT', `${during}: stopped at its deadline`, { cause: error });
  }
  if (/unsupported image format/i.test(message)) {
    return new CodecError('UNSUPPORTED_FORMAT', `${during}: not a supported image format`, { cause: error });
  }
  return new CodecError(during === 'encode' ? 'ENCODE_FAILED' : 'CORRUPT', `${during}: ${message}`, { cause: error });
}
