import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { defaultProxyConfig, type ProxyConfig } from '../../src/config/proxy.ts';
import { createLogger } from '../../src/logger.ts';
import { FixedQualityPolicy } from '../../src/policy/fixed.ts';
import type { Policy } from '../../src/policy/types.ts';
import { createProviders } from '../../src/providers/registry.ts';
import type { LearningHooks } from '../../src/request/steps.ts';
import { buildServer, createPathContext, serverOptionsFrom } from '../../src/server.ts';

export const PROXY_CREDENTIALS = { accessKeyId: 'AKIDPROXY', secretAccessKey: 'proxy-secret-key' };
export const CLIENT_CREDENTIALS = { accessKeyId: 'AKIDCLIENT', secretAccessKey: 'client-secret-key' };

/** Collects log lines in memory so tests can assert on what was (and was not) logged. */
export function logCapture() {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      for (const line of String(chunk).split('\n').filter(Boolean)) {
        raw.push(line);
        lines.push(JSON.parse(line));
      }
      callback();
    },
  });
  return { stream, lines, raw };
}

/**
 * A real proxy on a random port, every upstream pointed at `upstreamUrl` (one fake upstream plays all three APIs), with
 * the proxy's own AWS key and a known client key.
 */
export async function startTestProxy(
  upstreamUrl: string,
  overrides: Partial<ProxyConfig> = {},
  extra: { policy?: Policy; loop?: LearningHooks } = {},
) {
  const config = defaultProxyConfig({
    rekognitionEndpoint: upstreamUrl,
    faceppEndpoint: upstreamUrl,
    baiduEndpoint: upstreamUrl,
    clientKeys: `${CLIENT_CREDENTIALS.accessKeyId}:${CLIENT_CREDENTIALS.secretAccessKey}`,
    unverifiedSignatures: 'reject',
    ...overrides,
  });
  const logs = logCapture();
  const logger = createLogger('debug', logs.stream);
  const providers = createProviders(config, {
    maxBodyBytes: config.maxBodyBytes,
    imageLimits: config.imageLimits,
    listenerIsPrivate: false,
    awsCredentials: async () => PROXY_CREDENTIALS,
  });
  const context = createPathContext(serverOptionsFrom(config), {
    providers,
    policy: extra.policy ?? new FixedQualityPolicy(config.quality),
    logger,
  });
  if (extra.loop) context.loop = extra.loop;
  const server = buildServer(context, { maxBodyBytes: config.maxBodyBytes, ownsAgent: true });
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = server.app.server.address() as AddressInfo;
  return {
    ...server,
    metrics: context.metrics,
    url: `http://127.0.0.1:${port}`,
    logs,
    close: () => server.app.close(),
  };
}
export type TestProxy = Awaited<ReturnType<typeof startTestProxy>>;
