import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { defaultProxyConfig, type ProxyConfig } from '../../src/config/proxy.ts';
import { listDecisionLogFiles } from '../../src/feedback/read-log.ts';
import { type LogLine, parseLogLine } from '../../src/feedback/schema.ts';
import { createLogger } from '../../src/logger.ts';
import type { ProviderDescriptor } from '../../src/providers/types.ts';
import { createRuntime } from '../../src/runtime.ts';
import { CLIENT_CREDENTIALS, logCapture, PROXY_CREDENTIALS } from './proxy.ts';

/** The whole composed proxy (router, loop, decision log, admin) on random ports, against one fake upstream. */
export async function startTestRuntime(
  upstreamUrl: string,
  overrides: Partial<ProxyConfig> = {},
  extra: { descriptors?: readonly ProviderDescriptor[] } = {},
) {
  const dir = await mkdtemp(path.join(tmpdir(), 'adacompress-runtime-'));
  const logs = logCapture();
  const config = defaultProxyConfig(
    {
      port: 0,
      adminPort: 0,
      rekognitionEndpoint: upstreamUrl,
      faceppEndpoint: upstreamUrl,
      baiduEndpoint: upstreamUrl,
      clientKeys: `${CLIENT_CREDENTIALS.accessKeyId}:${CLIENT_CREDENTIALS.secretAccessKey}`,
      unverifiedSignatures: 'allow',
      decisionLog: path.join(dir, 'decisions.jsonl'),
      ...overrides,
    },
    extra.descriptors,
  );
  const runtime = await createRuntime(config, {
    logger: createLogger('info', logs.stream),
    credentials: async () => PROXY_CREDENTIALS,
    ...(extra.descriptors ? { descriptors: extra.descriptors } : {}),
  });
  const { url, adminUrl } = await runtime.listen();
  return {
    runtime,
    url,
    adminUrl,
    dir,
    logs,
    /** Every line of the decision log, each validated against the schema (throws on an invalid one). */
    async logLines(): Promise<LogLine[]> {
      const lines: LogLine[] = [];
      for (const file of await listDecisionLogFiles(config.decisionLog)) {
        for (const text of (await readFile(file, 'utf8')).split('\n').filter(Boolean)) {
          const parsed = parseLogLine(text);
          if (!parsed.ok)
            throw new Error(`invalid log line: ${parsed.error.message} ${parsed.error.issues.join('; ')}`);
          lines.push(parsed.line);
        }
      }
      return lines;
    },
    async close() {
      await runtime.shutdown();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
