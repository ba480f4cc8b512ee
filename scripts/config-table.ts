/** Prints the configuration table of `adacompress serve` for the README, from the one option table the CLI uses. */
import { markdownTable } from '../src/config/options.ts';
import { proxyOptions } from '../src/config/proxy.ts';

console.log(markdownTable(proxyOptions));
