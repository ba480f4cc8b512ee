#!/usr/bin/env node
/**
 * The one entry point: `adacompress <command> [flags]`. The only place that reads process.argv; each command module reads
 * its own flags and env through its config schema.
 */
const commands: Record<string, { summary: string; load: () => Promise<{ run(argv: string[]): Promise<void> }> }> = {
  serve: { summary: 'run the proxy', load: () => import('./serve.ts') },
  emulate: {
    summary: 'run local emulators of Rekognition, Face++ and Baidu',
    load: () => import('./emulator/main.ts'),
  },
  collect: {
    summary: 'send images at every action to an API, store answers',
    load: () => import('./trainer/collect.ts'),
  },
  train: {
    summary: 'fit a policy from collected data or decision logs, export ONNX',
    load: () => import('./trainer/train.ts'),
  },
  evaluate: { summary: 'compare a policy with baselines on a data set', load: () => import('./trainer/evaluate.ts') },
};

function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return `usage: adacompress <command> [flags]\n\ncommands:\n${lines.join('\n')}\n\nadacompress <command> --help for its flags`;
}

const [name, ...rest] = process.argv.slice(2);
const command = name ? commands[name] : undefined;
if (name === '--help' || name === '-h' || name === 'help') {
  // Asked for: the answer goes to stdout and it is a success (`adacompress --help | less` works).
  console.log(usage());
  process.exit(0);
}
if (!command) {
  // Not asked for: a usage error on stderr.
  console.error(name ? `unknown command: ${name}\n\n${usage()}` : usage());
  process.exit(2);
}
try {
  await (await command.load()).run(rest);
} catch (error) {
  // Config errors are meant for the operator: print the message, not a stack.
  console.error(`adacompress ${name}: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(2);
}
