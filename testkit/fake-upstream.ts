import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

export interface FakeAnswer {
  status?: number;
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
}
export type Responder = (request: RecordedRequest) => FakeAnswer | Promise<FakeAnswer>;

/**
 * A real upstream on a random port that records what it received: the "cloud API" of the proxy tests.
 * No mocks of the HTTP layer: the proxy talks to it over a real socket with undici.
 */
export async function startFakeUpstream(respond: Responder = () => ({ body: '{}' })) {
  const received: RecordedRequest[] = [];
  let responder = respond;
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of req) chunks.push(chunk as Buffer);
    } catch {
      return; // the caller gave up mid-body (the proxy cut a stalled client): nothing to record or answer
    }
    const recorded = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      body: Buffer.concat(chunks),
    };
    received.push(recorded);
    try {
      const answer = await responder(recorded);
      res.writeHead(answer.status ?? 200, { 'content-type': 'application/json', ...answer.headers });
      res.end(answer.body ?? '');
    } catch (error) {
      res.writeHead(500);
      res.end(String(error));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    last: () => received.at(-1),
    setResponder(next: Responder) {
      responder = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
export type FakeUpstream = Awaited<ReturnType<typeof startFakeUpstream>>;
