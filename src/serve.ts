import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import sharp from 'sharp';
import { buildAdmin } from './admin/admin.ts';
import { helpText } from './config/options.ts';
import { loadProxyConfig, type ProxyConfig, proxyOptions } from './config/proxy.ts';
import { createLogger } from './logger.ts';
import { FixedQualityPolicy } from './policy/fixed.ts';
import { createProviders, isLoopback } from './providers/registry.ts';
import type { CredentialSource } from './providers/rekognition.ts';
import { buildServer, serverOptionsFrom } from './server.ts';

/** `adacompress serve`: the proxy and its admin listener, with graceful shutdown. */
export async function run(argv: string[]): Promise<void> {
  const config = loadProxyConfig(argv, process.env);
  if (config.help) {
    console.log(helpText('serve', 'Run the proxy: point SDK base URLs at --host:--port.', proxyOptions));
    return;
  }
  await startProxy(config);
}

export async function startProxy(config: ProxyConfig) {
  const logger = createLogger(config.logLevel);
  // sharp's own thread pool: libvips threads per image. Image-level parallelism is --image-concurrency.
  sharp.concurrency(1);
  const credentials: CredentialSource = fromNodeProviderChain(config.awsProfile ? { profile: config.awsProfile } : {});
  const providers = createProviders(config, credentials, config.trustLoopback && isLoopback(config.host));
  const policy = new FixedQualityPolicy(config.quality);
  const proxy = buildServer(serverOptionsFrom(config), { providers, policy, logger });
  let shuttingDown = false;
  const admin = buildAdmin({
    logger,
    registry: proxy.metrics.registry,
    readiness: () => ({ ready: !shuttingDown, detail: { policy: policy.id, shuttingDown } }),
  });
  await proxy.app.listen({ host: config.host, port: config.port });
  await admin.listen({ host: config.adminHost, port: config.adminPort });
  logger.info(
    {
      proxy: proxy.app.addresses(),
      admin: admin.addresses(),
      policy: policy.id,
      upstreams: providers.map((p) => p.name),
    },
    'adacompress proxy listening',
  );

  const shutdown = async (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.info({ signal }, 'shutting down: draining in-flight requests');
    const timer = setTimeout(() => {
      logger.error({ graceMs: config.shutdownGraceMs }, 'shutdown grace expired; exiting with requests in flight');
      process.exit(1);
    }, config.shutdownGraceMs);
    timer.unref();
    await proxy.app.close();
    await admin.close();
    logger.info('shutdown complete');
    logger.flush();
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  return { proxy, admin, shutdown };
}
