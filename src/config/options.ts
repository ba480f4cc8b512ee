import { parseArgs } from 'node:util';
import { z } from 'zod';

/**
 * One table of options feeds the flags, the env vars, validation and the docs (imgproxy's per-package Config, in TypeScript):
 * option `fooBar` is the flag `--foo-bar` and the variable `ADACOMPRESS_FOO_BAR`. Flags win over env, env over defaults.
 */
export interface OptionSpec<T> {
  schema: z.ZodType<T>;
  default: T;
  description: string;
  /** Placeholder shown in docs; defaults to the default's string form. */
  shown?: string;
}

export type OptionTable = Record<string, OptionSpec<unknown>>;
export type ConfigOf<Table extends OptionTable> = { [K in keyof Table]: Table[K]['default'] };

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export const flagName = (key: string): string => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
export const envName = (key: string, prefix = 'ADACOMPRESS_'): string =>
  prefix + key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();

export function option<T>(schema: z.ZodType<T>, defaultValue: T, description: string, shown?: string): OptionSpec<T> {
  return { schema, default: defaultValue, description, ...(shown === undefined ? {} : { shown }) };
}

// Coercing schemas for values that arrive as strings from flags and env.
export const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
export const num = (min: number, max = Number.MAX_VALUE) => z.coerce.number().min(min).max(max);
export const bool = () =>
  z
    .union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no'])])
    .transform((v) => v === true || v === 'true' || v === '1' || v === 'yes');
export const url = () =>
  z.string().refine((v) => {
    try {
      const u = new URL(v);
      return u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'must be an http(s) URL');

/** Parse flags and env against the table. Unknown flags and bad values throw a ConfigError naming the flag or variable. */
export function loadOptions<Table extends OptionTable>(
  table: Table,
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  prefix = 'ADACOMPRESS_',
): ConfigOf<Table> & { help: boolean } {
  const parseOptions: Record<string, { type: 'string' | 'boolean' }> = { help: { type: 'boolean' } };
  for (const key of Object.keys(table)) parseOptions[flagName(key)] = { type: 'string' };
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: [...argv], options: parseOptions, allowPositionals: false, strict: true })
      .values as Record<string, string | boolean | undefined>;
  } catch (error) {
    throw new ConfigError(error instanceof Error ? error.message : String(error));
  }
  const result: Record<string, unknown> = { help: values.help === true };
  for (const [key, spec] of Object.entries(table)) {
    const flag = values[flagName(key)];
    const fromEnv = env[envName(key, prefix)];
    const raw = flag ?? fromEnv;
    // An empty value is a value for text options (`--decision-log ""` turns the log off) and means "unset" for the
    // others (`ADACOMPRESS_PORT=` must not become port 0).
    if (raw === undefined || (raw === '' && typeof spec.default !== 'string')) {
      result[key] = spec.default;
      continue;
    }
    const parsed = spec.schema.safeParse(raw);
    if (!parsed.success) {
      const source = flag !== undefined ? `--${flagName(key)}` : envName(key, prefix);
      const reason = parsed.error.issues.map((i) => i.message).join('; ');
      throw new ConfigError(`invalid ${source}=${JSON.stringify(raw)}: ${reason}`);
    }
    result[key] = parsed.data;
  }
  return result as ConfigOf<Table> & { help: boolean };
}

/**
 * A command's options from its flags and env, or undefined after printing `--help` (then the command just returns).
 * Every command module's `run(argv)` starts with this.
 */
export function commandOptions<Table extends OptionTable>(
  command: string,
  summary: string,
  table: Table,
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  prefix = 'ADACOMPRESS_',
): Omit<ConfigOf<Table> & { help: boolean }, 'help'> | undefined {
  const { help, ...config } = loadOptions(table, argv, env, prefix);
  if (help) {
    console.log(helpText(command, summary, table, prefix));
    return undefined;
  }
  return config;
}

/** `--help` text for a command, generated from the same table. */
export function helpText(command: string, summary: string, table: OptionTable, prefix = 'ADACOMPRESS_'): string {
  const rows = Object.entries(table).map(([key, spec]) => {
    const shown = spec.shown ?? JSON.stringify(spec.default);
    return `  --${flagName(key)} (${envName(key, prefix)}, default ${shown})\n      ${spec.description}`;
  });
  return `usage: adacompress ${command} [flags]\n\n${summary}\n\n${rows.join('\n')}`;
}

/** A Markdown table of the options, for the README (scripts/config-table.ts prints it). */
export function markdownTable(table: OptionTable, prefix = 'ADACOMPRESS_'): string {
  const rows = Object.entries(table).map(([key, spec]) => {
    const shown = spec.shown ?? JSON.stringify(spec.default);
    return `| \`--${flagName(key)}\` | \`${envName(key, prefix)}\` | \`${shown}\` | ${spec.description} |`;
  });
  return ['| flag | env | default | meaning |', '|---|---|---|---|', ...rows].join('\n');
}
