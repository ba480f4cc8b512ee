import assert from 'node:assert/strict';
import { test } from 'node:test';
import { markdownTable } from '../../src/config/options.ts';
import { loadProxyConfig, proxyOptions } from '../../src/config/proxy.ts';

test('defaults apply with no flags and no env', () => {
  const config = loadProxyConfig([], {});
  assert.equal(config.port, 8080);
  assert.equal(config.adminPort, 9090);
  assert.equal(config.host, '127.0.0.1');
  assert.equal(config.unverifiedSignatures, 'auto');
});

test('flags win over env, env over defaults, values are coerced to their types', () => {
  const config = loadProxyConfig(['--port', '7000', '--policy-watch', 'false'], {
    ADACOMPRESS_PORT: '6000',
    ADACOMPRESS_IMAGE_CONCURRENCY: '4',
    ADACOMPRESS_REFERENCE_PROBABILITY: '0.5',
  });
  assert.equal(config.port, 7000);
  assert.equal(config.imageConcurrency, 4);
  assert.equal(config.referenceProbability, 0.5);
  assert.equal(config.policyWatch, false);
});

test('an empty text option is a value (off), an empty number is unset', () => {
  const config = loadProxyConfig(['--decision-log', '', '--policy-models', ''], { ADACOMPRESS_PORT: '' });
  assert.equal(config.decisionLog, '');
  assert.equal(config.policyModels, '');
  assert.equal(config.port, 8080);
});

test('a bad value is refused with the name of the flag or variable that carried it', () => {
  assert.throws(() => loadProxyConfig([], { ADACOMPRESS_PORT: 'eighty' }), /ADACOMPRESS_PORT/);
  assert.throws(() => loadProxyConfig(['--quality', '101'], {}), /--quality/);
  assert.throws(() => loadProxyConfig([], { ADACOMPRESS_FACEPP_ENDPOINT: 'ftp://x' }), /ADACOMPRESS_FACEPP_ENDPOINT/);
  assert.throws(() => loadProxyConfig([], { ADACOMPRESS_CLIENT_KEYS: 'nocolon' }), /ADACOMPRESS_CLIENT_KEYS/);
  assert.throws(() => loadProxyConfig(['--no-such-flag', '1'], {}), /no-such-flag/);
  assert.throws(() => loadProxyConfig(['--port', '9090', '--admin-port', '9090'], {}), /--admin-port/);
});

test('the README carries the configuration table exactly as the option table generates it', async () => {
  const { readFile } = await import('node:fs/promises');
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
  assert.ok(readme.includes(markdownTable(proxyOptions)), 'README is stale: run node scripts/config-table.ts --write');
});
