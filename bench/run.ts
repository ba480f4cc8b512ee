/**
 * `npm run bench [-- name...] [-- --json FILE]`: the proxy's benchmarks, each a side-by-side comparison in one run
 * (these machines are noisy: the ratios are the result, absolute figures only context). Needs ../shared/data.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { createProgress } from '../src/progress.ts';
import { hasSharedData, imagenetDir } from './lib/photos.ts';
import { type BenchReport, markdownTable, printReport } from './lib/report.ts';
import { fmt } from './lib/stats.ts';

/** `optIn` suites run only when named (they take many minutes). */
const suites: Record<string, { summary: string; optIn?: true; load: () => Promise<{ run(): Promise<BenchReport> }> }> =
  {
    throughput: { summary: 'proxy vs bare sharp loop, images/s', load: () => import('./suites/throughput.ts') },
    latency: { summary: 'added latency p50/p99 at c=1', load: () => import('./suites/latency.ts') },
    passthrough: {
      summary: 'non-image requests vs @fastify/http-proxy',
      load: () => import('./suites/passthrough.ts'),
    },
    rss: { summary: 'proxy RSS at 64 concurrent uploads', load: () => import('./suites/rss.ts') },
    uplink: { summary: 'end-to-end on a 10 Mbit/s uplink via the emulator', load: () => import('./suites/uplink.ts') },
    agent: { summary: 'policy features + inference vs the encode, per image', load: () => import('./suites/agent.ts') },
    'scan-bomb': {
      summary: 'CPU and RSS of crafted progressive scan bombs, scan limits off vs defaults (opt-in)',
      optIn: true,
      load: () => import('./suites/scan-bomb.ts'),
    },
    'slow-clients': {
      summary: 'stalled and trickling clients vs the upstream pool, client timeouts off vs on (opt-in)',
      optIn: true,
      load: () => import('./suites/slow-clients.ts'),
    },
    'bodies-in-flight': {
      summary: 'proxy RSS with 64 concurrent 9.9 MB uploads, with and without --max-buffered-bytes (opt-in)',
      optIn: true,
      load: () => import('./suites/bodies-in-flight.ts'),
    },
    calibration: {
      summary: 'online calibration on a backend the shipped policy never saw (opt-in, ~30 min)',
      optIn: true,
      load: () => import('./suites/calibration.ts'),
    },
    photos: {
      summary:
        'bytes on 1-12 MP photos once calibrated, vs the originals and the best fixed full-size quality (opt-in, ~1 h)',
      optIn: true,
      load: () => import('./suites/photos.ts'),
    },
  };

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { json: { type: 'string' }, help: { type: 'boolean' } },
});
if (values.help) {
  console.log(
    `usage: npm run bench [-- name...] [--json FILE]\n\n${Object.entries(suites)
      .map(([n, s]) => `  ${n.padEnd(12)} ${s.summary}`)
      .join('\n')}`,
  );
  process.exit(0);
}
const unknown = positionals.filter((name) => !(name in suites));
if (unknown.length > 0) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${Object.keys(suites).join(', ')}`);
  process.exit(2);
}
if (!hasSharedData) {
  console.error(`the benchmarks need the imagenet-sample photos at ${imagenetDir} (../shared/data); absent here`);
  process.exit(2);
}

const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
console.log(
  `# adacompress-proxy benchmarks\n\n${os.availableParallelism()} x ${cpu}, Node ${process.version}, sharp ${sharp.versions.sharp} / libvips ${sharp.versions.vips}, ${new Date().toISOString()}`,
);
const started = performance.now();
const reports: BenchReport[] = [];
const chosen = positionals.length > 0 ? positionals : Object.keys(suites).filter((name) => !suites[name]!.optIn);
// Suites take minutes: their progress (on stderr) keeps the report on stdout clean.
const progress = createProgress('bench', chosen.length, { unit: 'suites', quietMs: 0 });
for (const name of chosen) {
  const t0 = performance.now();
  const report = await (await suites[name]!.load()).run();
  reports.push(report);
  printReport(report);
  console.log(`(${fmt((performance.now() - t0) / 1000, 0)} s)`);
  progress.tick(1, `${name} done`);
}
progress.done();

const targets = reports.flatMap((r) => r.targets);
console.log('\n## Targets\n');
console.log(
  markdownTable(
    ['measure', 'measured', 'target', 'holds'],
    targets.map((t) => [t.name, `${fmt(t.measured)}${t.unit}`, t.target, t.holds ? 'yes' : 'NO']),
  ),
);
console.log(`\ntotal ${fmt((performance.now() - started) / 1000, 0)} s`);
if (values.json) writeFileSync(values.json, `${JSON.stringify({ cpu, node: process.version, reports }, null, 2)}\n`);
