import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

/**
 * The machine's own Node may be 20 (past end of life, and too old for this project): only npm scripts and the
 * `adacompress` bin are sure to run on the Node the project brings. So every command the README shows must start
 * with one of them, or be a tool that is not Node at all.
 */
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const NOT_NODE = new Set(['curl', 'docker', 'sudo', 'aws', 'kill']);

/** The shell commands of the README: its indented blocks and ```sh blocks, continuation lines joined, comments cut. */
function readmeCommands(text: string): string[] {
  const lines: string[] = [];
  let fence: string | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) {
      fence = fence === undefined ? line.slice(3).trim() : undefined;
      continue;
    }
    const shell = fence === undefined ? line.startsWith('    ') : ['sh', 'bash', 'shell', 'console'].includes(fence);
    if (shell) lines.push(line);
  }
  return lines
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) =>
      line
        .replace(/(^|\s)#.*$/, '')
        .replace(/\s+/g, ' ')
        .trim(),
    )
    .filter((line) => line.length > 0);
}

/** The program a command line runs: the first word after any `NAME=value` environment assignments. */
function programOf(command: string): string[] {
  const words = command.split(/\s+/);
  while (words.length > 0 && /^[A-Z_][A-Z0-9_]*=/.test(words[0]!)) words.shift();
  return words;
}

test('every command the README shows runs through an npm script or the adacompress bin (or is not Node)', () => {
  const commands = readmeCommands(readme);
  assert.ok(commands.length >= 5, `found the README's commands: ${JSON.stringify(commands)}`);
  for (const command of commands) {
    const [program, next] = programOf(command);
    const ok = program === 'npm' || (program === 'npx' && next === 'adacompress') || NOT_NODE.has(program!);
    assert.ok(ok, `README runs \`${command}\`: on the machine's own Node it may not run; use an npm script or the bin`);
  }
});

test('the check reads commands as a shell would: environment first, continuation lines joined', () => {
  const sample = ['    FOO=1 \\', '    BAR=2 node src/cli.ts serve   # comment', '', '```sh', 'npm start', '```'].join(
    '\n',
  );
  assert.deepEqual(readmeCommands(sample), ['FOO=1 BAR=2 node src/cli.ts serve', 'npm start']);
  assert.deepEqual(programOf('FOO=1 BAR=2 node src/cli.ts serve').slice(0, 1), ['node']);
});
