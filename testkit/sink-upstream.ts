import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An upstream that reads every body and keeps none of it (only counts): for tests and benchmarks that push hundreds
 * of megabytes through the proxy, where the fake upstream's recording would be the memory measured. `answer` may
 * stream its own answer (a 64 MB one, say).
 */
export async function startSinkUpstream(
  answer: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{}');
  },
) {
  const stats = { requests: 0, bytes: 0 };
  const server = createServer((req, res) => {
    stats.requests++;
    req.on('data', (chunk: Buffer) => {
      stats.bytes += chunk.length;
    });
    req.on('error', () => {});
    req.on('end', () => answer(req, res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
