import { connect, type Socket } from 'node:net';

/** A response as it came off the socket: status line, header lines in order (repeats kept), body bytes. */
export interface RawResponse {
  status: number;
  /** Every informational (1xx) status seen before the final one. */
  informational: number[];
  headers: [string, string][];
  body: Buffer;
  /** Every byte received, for assertions on framing. */
  raw: Buffer;
}

/**
 * One HTTP/1.1 exchange written by hand over a TCP socket: for what clients can send but HTTP libraries will not (a
 * path with dot-segments, `Expect`, a body that stops half way). `write` gets the socket to send more (slowly) on.
 * Resolves when the server closes the connection or `Content-Length` bytes of body arrived.
 */
export function rawRequest(
  url: string,
  head: string,
  options: { body?: Buffer | string; write?: (socket: Socket) => void | Promise<void>; timeoutMs?: number } = {},
): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer within ${options.timeoutMs ?? 10_000} ms: ${Buffer.concat(chunks)}`));
    }, options.timeoutMs ?? 10_000);
    const finish = () => {
      clearTimeout(timer);
      const parsed = parse(Buffer.concat(chunks));
      if (parsed) resolve(parsed);
      else reject(new Error(`incomplete answer: ${Buffer.concat(chunks).toString('latin1').slice(0, 500)}`));
    };
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      const parsed = parse(Buffer.concat(chunks));
      if (parsed?.complete) {
        socket.destroy();
        finish();
      }
    });
    socket.on('close', finish);
    socket.on('error', () => {});
    socket.on('connect', async () => {
      socket.write(head.replace(/\r?\n/g, '\r\n').replace(/(\r\n)*$/, '\r\n\r\n'));
      if (options.body !== undefined) socket.write(options.body);
      await options.write?.(socket);
    });
  });
}

function parse(bytes: Buffer): (RawResponse & { complete: boolean }) | undefined {
  const informational: number[] = [];
  let at = 0;
  for (;;) {
    const end = bytes.indexOf('\r\n\r\n', at);
    if (end === -1) return undefined;
    const lines = bytes.toString('latin1', at, end).split('\r\n');
    const status = Number(lines[0]!.split(' ')[1]);
    const headers = lines.slice(1).map((line): [string, string] => {
      const colon = line.indexOf(':');
      return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()];
    });
    at = end + 4;
    if (status >= 100 && status < 200) {
      informational.push(status);
      continue;
    }
    const length = Number(headers.find(([name]) => name === 'content-length')?.[1] ?? Number.NaN);
    const body = bytes.subarray(at);
    return {
      status,
      informational,
      headers,
      body: Number.isFinite(length) ? body.subarray(0, length) : body,
      raw: bytes,
      complete: Number.isFinite(length) && body.length >= length,
    };
  }
}

export const headerOf = (response: RawResponse, name: string): string | undefined =>
  response.headers.find(([n]) => n === name)?.[1];
