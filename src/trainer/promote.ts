/**
 * The promotion gate: a candidate replaces the live model only when it beats it on held-out data: the validation
 * split of collected data, both files decided by the proxy's code (OnnxPolicy at their own operating points, the
 * operation's limits) and judged on evaluate's table (accuracy and size ratio of the same images; reward = accuracy -
 * w x size ratio under the candidate's size weight), or without such data, off-policy evaluation on the decision logs
 * (the candidate's lower confidence bound must exceed the live model's estimate). The write is atomic (temp +
 * rename), which the proxy's file watcher picks up.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { OnnxPolicy } from '../policy/onnx-policy.ts';
import { findOperation } from '../providers/registry.ts';
import { type ImageRow, metricsOf, type PolicyMetrics, rewardSpecOf } from './dataset.ts';
import { evaluateOnLogs, policyOnLogs, readLoggedSamples } from './logs.ts';
import { choicesOfModel, writeAtomically } from './policy-model.ts';

export interface Verdict {
  promoted: boolean;
  reason: string;
  candidateScore?: number;
  currentScore?: number;
}

export interface Candidate {
  bytes: Uint8Array;
  sizeWeight: number;
  dataset?: { rows: ImageRow[] };
}

const describe = (m: PolicyMetrics) =>
  `accuracy ${m.accuracy.toFixed(3)} at size ratio ${m.sizeRatio.toFixed(3)} (${Math.round(m.meanBytes)} bytes)`;

/** Decide, and write the candidate to `livePath` only when it wins. */
export async function promote(candidate: Candidate, livePath: string, key: string, logsPath = ''): Promise<Verdict> {
  const verdict = await judge(candidate, livePath, key, logsPath);
  if (verdict.promoted) await writeAtomically(livePath, candidate.bytes);
  return verdict;
}

export async function judge(candidate: Candidate, livePath: string, key: string, logsPath = ''): Promise<Verdict> {
  if (!existsSync(livePath)) return { promoted: true, reason: `no live model at ${livePath}` };
  const current = new Uint8Array(await readFile(livePath));
  try {
    const probe = await OnnxPolicy.fromBytes(current, { exploration: { kind: 'epsilon-greedy', epsilon: 0 } });
    await probe.release();
  } catch (error) {
    return { promoted: true, reason: `the live model cannot be used by this code (${(error as Error).message})` };
  }
  const w = candidate.sizeWeight;
  const spec = rewardSpecOf(key, { size: w });
  const heldOut = candidate.dataset?.rows.filter((r) => r.split === 'validation') ?? [];
  const limits = findOperation(key)?.operation.limits;
  if (heldOut.length > 0) {
    const candidateChoices = await choicesOfModel(candidate.bytes, heldOut, limits);
    const mine = metricsOf(heldOut, (_, i) => candidateChoices[i]!);
    let liveChoices: number[];
    try {
      liveChoices = await choicesOfModel(current, heldOut, limits);
    } catch (error) {
      return { promoted: false, reason: `the live model cannot be scored on this data: ${(error as Error).message}` };
    }
    const theirs = metricsOf(heldOut, (_, i) => liveChoices[i]!);
    const candidateScore = spec.reward(mine.accuracy, mine.sizeRatio);
    const currentScore = spec.reward(theirs.accuracy, theirs.sizeRatio);
    const detail =
      `on ${heldOut.length} held-out images, reward = accuracy - ${w} x size ratio: candidate ${candidateScore.toFixed(4)} ` +
      `(${describe(mine)}), live ${currentScore.toFixed(4)} (${describe(theirs)})`;
    return candidateScore > currentScore
      ? { promoted: true, reason: `candidate is better: ${detail}`, candidateScore, currentScore }
      : { promoted: false, reason: `candidate is not better: ${detail}`, candidateScore, currentScore };
  }
  if (!logsPath) return { promoted: false, reason: 'no held-out data and no decision logs to compare on' };
  const samples = await readLoggedSamples(logsPath, key);
  if (samples.length === 0) return { promoted: false, reason: 'no logged decisions with references to compare on' };
  const target = async (bytes: Uint8Array) => {
    const policy = await OnnxPolicy.fromBytes(bytes, { exploration: { kind: 'epsilon-greedy', epsilon: 0 } });
    try {
      return await policyOnLogs(policy, samples, limits);
    } finally {
      await policy.release();
    }
  };
  const cand = evaluateOnLogs(samples, await target(candidate.bytes), spec);
  const live = evaluateOnLogs(samples, await target(current), spec);
  const detail =
    `self-normalised IPS on ${samples.length} logged decisions: candidate ${cand.snips.value.toFixed(4)} ` +
    `[${cand.snips.low.toFixed(4)}, ${cand.snips.high.toFixed(4)}], live ${live.snips.value.toFixed(4)}`;
  return cand.snips.low > live.snips.value
    ? {
        promoted: true,
        reason: `candidate's lower bound beats the live estimate: ${detail}`,
        candidateScore: cand.snips.value,
        currentScore: live.snips.value,
      }
    : {
        promoted: false,
        reason: `not proven better: ${detail}`,
        candidateScore: cand.snips.value,
        currentScore: live.snips.value,
      };
}
