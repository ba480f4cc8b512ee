import type { Answer } from '../../src/answer.ts';
import { createProviders, effectiveOperations, parseImageLimits } from '../../src/providers/registry.ts';
import type { OperationSpec, PixelSize, Provider, ProviderDescriptor } from '../../src/providers/types.ts';
import { PROXY_CREDENTIALS } from './proxy.ts';

/**
 * One provider made from its descriptor the way the proxy makes it (registry, limit overrides), plus the lookups the
 * provider unit tests use: an operation's effective spec by name, and the answer of a one-image request.
 */
export function testProvider(
  descriptor: ProviderDescriptor,
  options: { settings?: Record<string, unknown>; imageLimits?: string; maxBodyBytes?: number } = {},
) {
  const imageLimits = options.imageLimits ?? '';
  const [provider] = createProviders(
    options.settings ?? {},
    {
      maxBodyBytes: options.maxBodyBytes ?? 8 * 1024 * 1024,
      imageLimits,
      listenerIsPrivate: false,
      awsCredentials: async () => PROXY_CREDENTIALS,
    },
    [descriptor],
  ) as [Provider];
  const specs = effectiveOperations(descriptor, parseImageLimits(imageLimits));
  const op = (name: string): OperationSpec => {
    const spec = specs.get(name);
    if (!spec) throw new Error(`no operation ${name}`);
    return spec;
  };
  return Object.assign(provider, {
    op,
    limits: (name: string) => op(name).limits,
    /** The normalised answer for the image in `field` (default: the operation's single image). */
    answer(name: string, status: number, body: Buffer, field = 'image', size?: PixelSize): Answer | undefined {
      const slot = { field, operation: op(name), ...(size ? { clientSize: size, sentSize: size } : {}) };
      return provider.answers({ status, body }, [slot])[0];
    },
  });
}
