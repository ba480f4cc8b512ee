import type { Readable } from 'node:stream';
import { ProxyError } from '../providers/types.ts';

/**
 * Buffer a request body up to `limit` bytes. A declared Content-Length over the limit is refused before reading a byte;
 * an undeclared body is cut off as soon as it passes the limit. `signal` stops the read (the client's body stalled,
 * or shutdown) with the signal's reason; the stream is left readable, not destroyed, so the client can still be
 * answered on its connection.
 */
export async function readBody(
  stream: Readable,
  limit: number,
  declaredLength?: string,
  signal?: AbortSignal,
): Promise<Buffer> {
  const tooLarge = () =>
    new ProxyError('BODY_TOO_LARGE', 413, `Request body is larger than the limit of ${limit} bytes`);
  if (declaredLength !== undefined && Number(declaredLength) > limit) {
    stream.resume(); // drain so the connection can be reused for the error answer
    throw tooLarge();
  }
  signal?.throwIfAborted();
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = (error?: unknown) => {
      stream.off('data', onData).off('end', onEnd).off('error', settle);
      signal?.removeEventListener('abort', onAbort);
      if (error === undefined) return resolve(Buffer.concat(chunks, size));
      // Whatever is still coming is read and dropped, so the answer can go out on this connection.
      stream.resume();
      reject(error);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) settle(tooLarge());
      else chunks.push(chunk);
    };
    const onEnd = () => settle();
    const onAbort = () => settle(signal!.reason);
    stream.on('data', onData).on('end', onEnd).on('error', settle);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
