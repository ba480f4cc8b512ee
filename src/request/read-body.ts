import type { Readable } from 'node:stream';
import { ProxyError } from '../providers/types.ts';

/**
 * Buffer a request body up to `limit` bytes. A declared Content-Length over the limit is refused before reading a byte;
 * an undeclared body is cut off as soon as it passes the limit.
 */
export async function readBody(stream: Readable, limit: number, declaredLength?: string): Promise<Buffer> {
  const tooLarge = () =>
    new ProxyError('BODY_TOO_LARGE', 413, `Request body is larger than the limit of ${limit} bytes`);
  if (declaredLength !== undefined && Number(declaredLength) > limit) {
    stream.resume(); // drain so the connection can be reused for the error answer
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > limit) {
      stream.resume();
      throw tooLarge();
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks, size);
}
