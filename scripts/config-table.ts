/**
 * The configuration table of `adacompress serve`, from the one option table the CLI uses.
 *   npm run config:table                   prints it
 *   npm run config:table -- --write        replaces it in README.md between the config-table markers
 */
import { readFile, writeFile } from 'node:fs/promises';
import { markdownTable } from '../src/config/options.ts';
import { proxyOptions } from '../src/config/proxy.ts';

const table = markdownTable(proxyOptions);
if (process.argv.includes('--write')) {
  const readme = new URL('../README.md', import.meta.url);
  const text = await readFile(readme, 'utf8');
  const updated = text.replace(
    /<!-- config-table:start -->[\s\S]*<!-- config-table:end -->/,
    `<!-- config-table:start -->\n${table}\n<!-- config-table:end -->`,
  );
  await writeFile(readme, updated);
} else {
  console.log(table);
}
