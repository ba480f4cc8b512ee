import type { Readable } from 'node:stream';
import pino from 'pino';
import { createMetrics } from '../../src/admin/metrics.ts';
import { FixedQualityPolicy } from '../../src/policy/fixed.ts';
import { baidu } from '../../src/providers/baidu/index.ts';
import { facepp } from '../../src/providers/facepp/index.ts';
import { rekognition } from '../../src/providers/rekognition/index.ts';
import type { RequestHead } from '../../src/providers/types.ts';
import { createExchange, type Exchange } from '../../src/request/exchange.ts';
import type { PathContext } from '../../src/request/steps.ts';
import { createPathContext } from '../../src/server.ts';
import { testProvider } from './providers.ts';
import { logCapture } from './proxy.ts';

/** A path context as a server builds it (real limiter, metrics, agent), with a log captured for assertions. */
export function testContext(overrides: Partial<PathContext> = {}) {
  const logs = logCapture();
  const context = createPathContext(
    {
      maxBodyBytes: 2 * 1024 * 1024,
      maxResponseBytes: 1024 * 1024,
      codecLimits: { maxInputPixels: 50_000_000 },
      imageConcurrency: 2,
      imageQueue: 8,
      imageDeadlineMs: 5000,
      connectTimeoutMs: 1000,
      upstreamTimeoutMs: 5000,
      upstreamConnections: 4,
      maxBufferedBytes: 64 * 1024 * 1024,
      bufferWaitMs: 1000,
      clientBodyTimeoutMs: 5000,
      clientRequestTimeoutMs: 30_000,
    },
    {
      providers: [testProvider(rekognition), testProvider(facepp), testProvider(baidu)],
      policy: new FixedQualityPolicy(30),
      logger: pino({ level: 'debug' }, logs.stream),
      metrics: createMetrics(),
    },
  );
  return { context: { ...context, ...overrides }, logs };
}

export const exchangeOf = (head: RequestHead, body?: Readable): Exchange =>
  createExchange(head, new AbortController().signal, body);
