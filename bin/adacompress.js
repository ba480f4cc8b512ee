#!/usr/bin/env node
// Plain JavaScript on purpose: on a Node.js too old to run TypeScript natively (type stripping needs 22.18+; undici 8
// needs 22.19+), the user gets this sentence instead of ERR_UNKNOWN_FILE_EXTENSION.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 19)) {
  console.error(`adacompress needs Node.js 22.19 or newer (22 LTS or 24 LTS); this is ${process.version}.`);
  process.exit(1);
}
await import('../src/cli.ts');
