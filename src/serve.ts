import { helpText } from './config/options.ts';
import { loadProxyConfig, proxyOptions } from './config/proxy.ts';
import { afterGraceMs, createRuntime } from './runtime.ts';

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
    // The shutdown keeps within its grace plus bounded steps after it; this only catches what cannot be stopped
    // (image work already inside libvips), never twice the grace.
    const hardStopMs = config.shutdownGraceMs + 3 * afterGraceMs(config.shutdownGraceMs) + 250;
    const timer = setTimeout(() => {
      runtime.logger.error({ graceMs: config.shutdownGraceMs }, 'shutdown did not finish; exiting with work in flight');
      runtime.abandon();
      process.exit(1);
    }, hardStopMs);
    timer.unref();
    await runtime.shutdown();
    runtime.logger.info('shutdown complete');
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}
