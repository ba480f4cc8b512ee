/** What one sub-benchmark hands back: a table of side-by-side measurements and the targets it checks. */
export interface Target {
  name: string;
  measured: number;
  /** Printed beside the measurement, e.g. '<= 0.6x'. */
  target: string;
  holds: boolean;
  unit: string;
}

export interface BenchReport {
  title: string;
  columns: string[];
  rows: string[][];
  targets: Target[];
  notes: string[];
}

export const atMost = (name: string, measured: number, limit: number, unit: string): Target => ({
  name,
  measured,
  target: `<= ${limit}${unit}`,
  holds: measured <= limit,
  unit,
});
export const atLeast = (name: string, measured: number, limit: number, unit: string): Target => ({
  name,
  measured,
  target: `>= ${limit}${unit}`,
  holds: measured >= limit,
  unit,
});

/** A Markdown table: readable in a terminal and pasteable into docs/BENCHMARKS.md. */
export function markdownTable(columns: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(columns), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.map(line)].join('\n');
}

export function printReport(report: BenchReport): void {
  console.log(`\n## ${report.title}\n`);
  console.log(markdownTable(report.columns, report.rows));
  for (const note of report.notes) console.log(`- ${note}`);
}
