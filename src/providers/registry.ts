import type { ProxyConfig } from '../config/proxy.ts';
import { createBaiduProvider } from './baidu.ts';
import { createFaceppProvider } from './facepp.ts';
import { type CredentialSource, createRekognitionProvider } from './rekognition.ts';
import type { Provider } from './types.ts';

/** The one list of upstream APIs. A fourth API is one new module and one line here. */
export function createProviders(
  config: ProxyConfig,
  credentials: CredentialSource,
  listenerIsPrivate: boolean,
): Provider[] {
  const unverified =
    config.unverifiedSignatures === 'auto' ? (listenerIsPrivate ? 'allow' : 'reject') : config.unverifiedSignatures;
  return [
    createRekognitionProvider({
      endpoint: config.rekognitionEndpoint,
      ...(config.rekognitionRegion ? { region: config.rekognitionRegion } : {}),
      credentials,
      clientSecrets: parseClientKeys(config.clientKeys),
      unverified,
      maxBodyBytes: config.maxBodyBytes,
    }),
    createFaceppProvider({ origin: config.faceppEndpoint, maxBodyBytes: config.maxBodyBytes }),
    createBaiduProvider({ origin: config.baiduEndpoint, maxBodyBytes: config.maxBodyBytes }),
  ];
}

export function parseClientKeys(spec: string): Map<string, string> {
  const keys = new Map<string, string>();
  for (const pair of spec.split(',').filter(Boolean)) {
    const colon = pair.indexOf(':');
    keys.set(pair.slice(0, colon), pair.slice(colon + 1));
  }
  return keys;
}

export const isLoopback = (host: string): boolean => host === 'localhost' || host === '::1' || host.startsWith('127.');
