import { helpText } from './config/options.ts';
import { loadProxyConfig, proxyOptions } from './config/proxy.ts';
import { createRuntime } from './runtime.ts';

/** `adacompress serve`: the proxy and its admin listener, with graceful shutdown on SIGTERM/SIGINT. */
export async function run(argv: string[]): Promise<void> {
  const config = loadProxyConfig(argv, process.env);
  if (config.help) {
    console.log(helpText('serve', 'Run the proxy: point SDK base URLs at --host:--port.', proxyOptions));
    return;
  }
  const runtime = await createRuntime(config);
  const { url, adminUrl } = await runtime.listen();
  runtime.logger.info(
    { url, adminUrl, policy: runtime.router.status(), decisionLog: runtime.decisionLog?.stats().currentFile },
    'adacompress proxy listening',
  );
  const stop = async (signal: string) => {
    runtime.logger.info({ signal }, 'shutting down: draining in-flight requests');
    const timer = setTimeout(() => {
      runtime.logger.error({ graceMs: config.shutdownGraceMs }, 'shutdown grace expired; exiting with work in flight');
      process.exit(1);
    }, config.shutdownGraceMs * 2);
    timer.unref();
    await runtime.shutdown();
    runtime.logger.info('shutdown complete');
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}
