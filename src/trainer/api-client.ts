/**
 * Sends one image to one API operation the way a client would, and reads the answer with the SAME code the proxy uses:
 * each provider descriptor builds the client's request, and the request path's own sign -> forward -> read-answer
 * steps send it and normalise the answer, so collected answers are exactly what the proxy's decision log would hold.
 */
import { buffer as readAll } from 'node:stream/consumers';
import pino from 'pino';
import { createMetrics } from '../admin/metrics.ts';
import type { Answer } from '../answer.ts';
import type { InspectedImage } from '../codec/types.ts';
import { WorkLimiter } from '../limiter.ts';
import { FixedQualityPolicy } from '../policy/fixed.ts';
import { findOperation, providerDescriptors, settingsOf } from '../providers/registry.ts';
import type { DecodedResponse, OutgoingRequest, Provider, ProviderDescriptor } from '../providers/types.ts';
import { createExchange, type SlotWork } from '../request/exchange.ts';
import { forward } from '../request/forward.ts';
import { readAnswer } from '../request/read-answer.ts';
import { sign } from '../request/sign.ts';
import { type PathContext, runPath } from '../request/steps.ts';
import { createUpstreamAgent, sendUpstream } from '../request/upstream.ts';

/** The operations collect knows how to call, by router key (provider/operation): what the descriptors' clients offer. */
export const collectKeys: readonly string[] = providerDescriptors.flatMap((d) =>
  (d.client?.operations ?? []).map((operation) => `${d.name}/${operation}`),
);

export interface CallResult {
  status: number;
  answer: Answer | null;
}

/** One image sent at one action: the client's image, and what was encoded from it. */
export interface CallImage {
  original: InspectedImage;
  bytes: Buffer;
  width: number;
  height: number;
}

export interface ApiClient {
  call(key: string, image: CallImage): Promise<CallResult>;
  close(): Promise<void>;
}

export function splitKey(key: string): { provider: string; operation: string } {
  const slash = key.indexOf('/');
  return { provider: key.slice(0, slash), operation: key.slice(slash + 1) };
}

/** Credentials by provider name; the emulator's documented ones (docs/EMULATOR.md) for each provider with a client. */
export type ApiCredentials = Record<string, Readonly<Record<string, string>>>;
export const emulatorCredentials: ApiCredentials = Object.fromEntries(
  providerDescriptors.flatMap((d) => (d.client ? [[d.name, d.client.emulatorCredentials]] : [])),
);
export const credentialsFromEnv = (env: Readonly<Record<string, string | undefined>>): ApiCredentials =>
  Object.fromEntries(
    providerDescriptors.flatMap((d) => (d.client ? [[d.name, d.client.credentialsFromEnv(env)]] : [])),
  );

const MAX_BODY = 64 * 1024 * 1024;

/** A client of every provider, each pointed at `endpoints[name]` (an emulator or the real API). */
export function createApiClient(
  endpoints: Readonly<Record<string, string>>,
  credentials: ApiCredentials,
  timeoutMs = 60_000,
  descriptors: readonly ProviderDescriptor[] = providerDescriptors,
): ApiClient {
  const agent = createUpstreamAgent({ connections: 16, connectTimeoutMs: timeoutMs, timeoutMs });
  const context: PathContext = {
    providers: [],
    agent,
    limiter: new WorkLimiter({ concurrency: 1, maxQueue: 0 }),
    codecLimits: { maxInputPixels: Number.MAX_SAFE_INTEGER },
    imageDeadlineMs: timeoutMs,
    maxResponseBytes: MAX_BODY,
    policy: new FixedQualityPolicy(75),
    metrics: createMetrics(),
    logger: pino({ level: 'silent' }),
  };
  const providers = new Map<string, Provider>();
  const providerOf = (descriptor: ProviderDescriptor): Provider => {
    let provider = providers.get(descriptor.name);
    if (!provider) {
      const settings = { ...settingsOf(descriptor, {}), [descriptor.endpointOption]: endpoints[descriptor.name] };
      provider = descriptor.create(settings as never, {
        maxBodyBytes: MAX_BODY,
        listenerIsPrivate: true,
        operations: new Map(descriptor.operations.map((o) => [o.name, o])),
        ...descriptor.client?.context?.(credentials[descriptor.name] ?? {}),
      });
      providers.set(descriptor.name, provider);
    }
    return provider;
  };
  // The client's own preliminary calls (Baidu's token request): plain sends to the provider's origin.
  const transports = new Map<string, (request: OutgoingRequest) => Promise<DecodedResponse>>();
  const transportOf = (provider: Provider) => {
    let transport = transports.get(provider.name);
    if (!transport) {
      transport = async (request) => {
        const head = { method: request.method, url: request.url, headers: request.headers };
        const response = await sendUpstream(agent, provider.upstreamOrigin(head), request);
        return { status: response.status, body: await readAll(response.body) };
      };
      transports.set(provider.name, transport);
    }
    return transport;
  };

  return {
    async call(key, image) {
      const found = findOperation(key, descriptors);
      if (!found?.descriptor.client) throw new Error(`collect: no client for ${key}`);
      const { descriptor, operation } = found;
      const client = found.descriptor.client;
      const provider = providerOf(descriptor);
      const creds = credentials[descriptor.name] ?? {};
      const request = await client.request(operation, image.bytes, creds, transportOf(provider));
      const head = { method: request.method, url: request.url, headers: request.headers };
      const extracted = provider.extract({ ...head, body: request.body }, operation);
      const exchange = createExchange(head, new AbortController().signal);
      exchange.provider = provider;
      exchange.operation = operation;
      exchange.body = request.body;
      exchange.outgoing = request;
      exchange.slots = (extracted?.slots ?? []).map(
        (slot): SlotWork => ({
          field: slot.field,
          operation,
          key,
          bytes: image.original.bytes,
          outcome: {
            kind: 'encoded',
            original: image.original,
            bytes: image.bytes,
            width: image.width,
            height: image.height,
            decision: { action: { quality: 0 }, actionIndex: -1, propensity: 1, modelId: 'collect' },
          },
        }),
      );
      await runPath([sign, forward, readAnswer], exchange, context);
      if (exchange.response && exchange.response.raw === undefined) exchange.response.body.resume();
      // The answer about the last image (CompareFaces: the target), as the log of a one-image request holds it.
      return { status: exchange.response?.status ?? 0, answer: exchange.slots.at(-1)?.answer ?? null };
    },
    close: () => agent.close(),
  };
}
