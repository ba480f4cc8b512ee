/**
 * The pass-through baseline: @fastify/http-proxy (undici, via @fastify/reply-from) forwarding everything to the
 * upstream given as argv[2]. Prints `listening URL` once ready. Started by the benchmarks as a child process.
 */
import httpProxy from '@fastify/http-proxy';
import Fastify from 'fastify';

const upstream = process.argv[2];
if (!upstream) throw new Error('usage: node bench/lib/http-proxy-server.ts UPSTREAM_URL');
const app = Fastify({ logger: false });
await app.register(httpProxy, { upstream, prefix: '/', http2: false });
const address = await app.listen({ host: '127.0.0.1', port: 0 });
console.log(`listening ${address}`);
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
