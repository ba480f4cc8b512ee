import { isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The policy model map of `--policy-models`: `key=path,key=path` (or a JSON object), keys `provider/operation`,
 * `provider` or `*`. Errors name the option so the operator knows what to fix.
 */
const KEY = /^(\*|[a-z]+(\/[A-Za-z0-9_./-]+)?)$/;

export function parseModelMap(value: string, name: string): Record<string, string> {
  let map: Record<string, string> = {};
  if (value.trim().startsWith('{')) {
    try {
      map = JSON.parse(value) as Record<string, string>;
    } catch {
      throw new Error(`invalid ${name}: not JSON`);
    }
  } else {
    for (const pair of value.split(',').filter(Boolean)) {
      const at = pair.indexOf('=');
      if (at <= 0) throw new Error(`invalid ${name}: expected key=path, got "${pair}"`);
      map[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
    }
  }
  for (const [key, path] of Object.entries(map)) {
    if (!KEY.test(key)) throw new Error(`invalid ${name}: bad key "${key}" (provider/operation, provider or *)`);
    if (typeof path !== 'string' || path === '') throw new Error(`invalid ${name}: empty path for "${key}"`);
  }
  return map;
}

/** Where relative model paths start (serve's rule: "relative paths are from the package root"). */
const packageRoot = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The model that serves `key` (provider/operation) in a `--policy-models` value, found as the proxy's router finds it:
 * the exact key, then the provider, then `*`. Undefined when nothing serves it (the fixed quality would).
 */
export function servingModel(spec: string, key: string, name: string): { mapKey: string; path: string } | undefined {
  const map = spec ? parseModelMap(spec, name) : {};
  const provider = key.slice(0, key.indexOf('/'));
  const mapKey = [key, provider, '*'].find((k) => map[k] !== undefined);
  if (mapKey === undefined) return undefined;
  const file = map[mapKey]!;
  return { mapKey, path: isAbsolute(file) ? file : join(packageRoot, file) };
}
