/**
 * The promotion gate: a candidate replaces the live model only when it beats it on held-out data: the validation
 * split of collected data (both models' files scored through onnxruntime, reward under the candidate's weights), or
 * without such data, off-policy evaluation on the decision logs (the candidate's lower confidence bound must exceed
 * the live model's estimate). The write is atomic (temp + rename), which the proxy's file watcher picks up.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { RewardSpec } from '../feedback/reward-spec.ts';
import { OnnxPolicy } from '../policy/onnx-policy.ts';
import { type ImageRow, rewardSpecOf } from './dataset.ts';
import { evaluateOnLogs, readLoggedSamples } from './logs.ts';
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

function meanReward(rows: readonly ImageRow[], choices: readonly number[], spec: RewardSpec): number {
  let sum = 0;
  rows.forEach((row, i) => {
    const k = choices[i]!;
    sum += spec.reward(row.accuracy[k]!, row.ratio[k]!);
  });
  return sum / Math.max(1, rows.length);
}

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
  if (heldOut.length > 0) {
    const candidateScore = meanReward(heldOut, await choicesOfModel(candidate.bytes, heldOut), spec);
    const currentScore = meanReward(heldOut, await choicesOfModel(current, heldOut), spec);
    const detail = `mean reward (accuracy - ${w} x size ratio) on ${heldOut.length} held-out images: candidate ${candidateScore.toFixed(4)}, live ${currentScore.toFixed(4)}`;
    return candidateScore > currentScore
      ? { promoted: true, reason: `candidate is better: ${detail}`, candidateScore, currentScore }
      : { promoted: false, reason: `candidate is not better: ${detail}`, candidateScore, currentScore };
  }
  if (!logsPath) return { promoted: false, reason: 'no held-out data and no decision logs to compare on' };
  const samples = await readLoggedSamples(logsPath, key);
  if (samples.length === 0) return { promoted: false, reason: 'no logged decisions with references to compare on' };
  const scorer = async (bytes: Uint8Array) => {
    const policy = await OnnxPolicy.fromBytes(bytes, { exploration: { kind: 'epsilon-greedy', epsilon: 0 } });
    const scores = await Promise.all(
      samples.map((s) => policy.scores(Float32Array.from(s.features)).then((x) => Array.from(x))),
    );
    await policy.release();
    const byFeatures = new Map(samples.map((s, i) => [s.features, scores[i]!]));
    return (f: number[]) => byFeatures.get(f)!;
  };
  const cand = evaluateOnLogs(samples, await scorer(candidate.bytes), spec);
  const live = evaluateOnLogs(samples, await scorer(current), spec);
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
