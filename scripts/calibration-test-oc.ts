/**
 * The operating characteristic of calibration's per-point test (src/feedback/calibration.ts), simulated with the
 * calibrator's own test and defaults, on samples that agree (1) or not (0): for a point that truly agrees p, how often
 * the test passes it, how many samples a verdict takes, how often it is still undecided at `stallSamples`, and, with
 * the stall rules as a candidate meets them (`stallSamples`, `futilityZ`), how often it passes before it stalls and
 * how often it stalls. The figures the calibrator's comments and docs/ARCHITECTURE.md quote come from here.
 *
 *   node scripts/calibration-test-oc.ts [--runs 20000] [--probes-per-reference 3]
 */
import { parseArgs } from 'node:util';
import { calibrationConfigSchema, passFarOff, pointTest, sprtLlr } from '../src/feedback/calibration.ts';
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
console.log(
  '| agreement | passes | median samples to a verdict | undecided at stallSamples | as a candidate: passes | stalls | median samples to a verdict or a stall |',
);
console.log('|---|---|---|---|---|---|---|');
for (const p of [0.95, 0.96, 0.965, 0.97, 0.975, 0.98, 0.985, 0.99, 0.995, 1]) {
  let passed = 0;
  let undecidedAtStall = 0;
  let passedAsCandidate = 0;
  let stalled = 0;
  const lengths: number[] = [];
  const candidateLengths: number[] = [];
  for (let run = 0; run < runs; run++) {
    let sum = 0;
    let n = 0;
    let verdict: 'good' | 'bad' | undefined;
    let stalledAt: number | undefined;
    while (!verdict && n < MAX_SAMPLES) {
      sum += rng() < p ? 1 : 0;
      n++;
      const llr = sprtLlr(sum, n, test.hypotheses);
      if (llr >= test.good) verdict = 'good';
      else if (llr <= test.bad) verdict = 'bad';
      else if (stalledAt === undefined && (n >= config.stallSamples || passFarOff(sum, n, config))) stalledAt = n;
    }
    if (verdict === 'good') passed++;
    if (n >= config.stallSamples) undecidedAtStall++;
    lengths.push(n);
    if (stalledAt === undefined && verdict === 'good') passedAsCandidate++;
    if (stalledAt !== undefined) stalled++;
    candidateLengths.push(stalledAt ?? n);
  }
  const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const share = (count: number) => `${((100 * count) / runs).toFixed(1)}%`;
  console.log(
    `| ${p} | ${share(passed)} | ${median(lengths)} | ${share(undecidedAtStall)} | ${share(passedAsCandidate)} | ${share(stalled)} | ${median(candidateLengths)} |`,
  );
}
