/**
 * The operating characteristic of calibration's per-point test (src/feedback/calibration.ts), simulated with the
 * calibrator's own test and defaults: for a point that truly agrees p, how often it passes, how many samples a verdict
 * takes, and how often it is still undecided when `stallSamples` would stall it. The figures the calibrator's comments
 * and docs/ARCHITECTURE.md quote come from here.
 *
 *   node scripts/calibration-test-oc.ts [--runs 20000] [--probes-per-reference 3]
 */
import { parseArgs } from 'node:util';
import { calibrationConfigSchema, pointTest, sprtLlr } from '../src/feedback/calibration.ts';
import { seededRng } from '../src/policy/rng.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '20000' },
    'probes-per-reference': { type: 'string', default: '3' },
  },
});
const runs = Number(values.runs);
const config = calibrationConfigSchema.parse({ probesPerReference: Number(values['probes-per-reference']) });
const test = pointTest(config);
/** Long enough for almost every test to decide (the undecided rest counts as undecided). */
const MAX_SAMPLES = 5000;

const rng = seededRng(1);
console.log(
  `target ${config.target}, hypotheses ${config.target + config.marginAbove} vs ${config.target - config.marginBelow}, ` +
    `falseGood ${config.falseGood} / ${config.probesPerReference} per candidate, falseBad ${config.falseBad}; ${runs} runs each`,
);
console.log('| agreement | passes | median samples to a verdict | undecided at stallSamples |');
console.log('|---|---|---|---|');
for (const p of [0.95, 0.96, 0.965, 0.97, 0.975, 0.98, 0.985, 0.99, 0.995, 1]) {
  let passed = 0;
  let undecidedAtStall = 0;
  const lengths: number[] = [];
  for (let run = 0; run < runs; run++) {
    let sum = 0;
    let n = 0;
    let verdict: 'good' | 'bad' | undefined;
    while (!verdict && n < MAX_SAMPLES) {
      sum += rng() < p ? 1 : 0;
      n++;
      const llr = sprtLlr(sum, n, test.hypotheses);
      if (llr >= test.good) verdict = 'good';
      else if (llr <= test.bad) verdict = 'bad';
    }
    if (verdict === 'good') passed++;
    if (n >= config.stallSamples) undecidedAtStall++;
    lengths.push(n);
  }
  lengths.sort((a, b) => a - b);
  const median = lengths[Math.floor(runs / 2)]!;
  console.log(
    `| ${p} | ${((100 * passed) / runs).toFixed(1)}% | ${median} | ${((100 * undecidedAtStall) / runs).toFixed(1)}% |`,
  );
}
