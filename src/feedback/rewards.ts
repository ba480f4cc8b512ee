/**
 * Agreement measures between two normalised answers (src/answer.ts): the terms reward-spec.ts combines per task kind.
 * Pure functions. `answer` is `undefined` when the upload of the compressed image failed (the API refused it or
 * answered something unreadable): every measure is then 0, since the client got nothing. A reference must be a real
 * answer; whether an empty one makes a training sample is the spec's choice (`isUsableReference` is the paper's rule).
 */
import type { Answer, Face, Label, PixelBox } from '../answer.ts';

/** Label names compare case-insensitively after trimming: APIs differ in capitalisation, never in spelling. */
export function labelKey(name: string): string {
  return name.trim().toLowerCase();
}

/** The paper: "API errors or empty answers produce no training sample". True when the reference has a top-1 label. */
export function isUsableReference(reference: Answer | undefined | null): reference is Answer {
  return reference !== undefined && reference !== null && reference.labels.length > 0;
}

/**
 * The paper's accuracy: 1 when the reference's top-1 label (its first) appears anywhere in the answer's labels.
 * A reference without labels has nothing to miss: 1 if the answer has none either, else 0 (the API now sees
 * something it did not see in the reference).
 */
export function paperAccuracy(reference: Answer, answer: Answer | undefined): 0 | 1 {
  if (!answer) return 0;
  const top = reference.labels[0];
  if (!top) return answer.labels.length === 0 ? 1 : 0;
  const key = labelKey(top.name);
  return answer.labels.some((label) => labelKey(label.name) === key) ? 1 : 0;
}

const clampScore = (score: number) => (Number.isFinite(score) ? Math.min(1, Math.max(0, score)) : 0);

function labelWeights(labels: readonly Label[]): Map<string, number> {
  const weights = new Map<string, number>();
  for (const label of labels) {
    const key = labelKey(label.name);
    weights.set(key, Math.max(weights.get(key) ?? 0, clampScore(label.score)));
  }
  return weights;
}

/**
 * Confidence-weighted overlap of the two label sets: the weighted Jaccard (Ruzicka) similarity
 *   sum over names of min(r, a) / sum over names of max(r, a)
 * where r and a are the label's score (clamped to 0..1) in the reference and the answer, 0 when absent; names
 * compare as in `labelKey` and a name listed twice counts with its best score. 1 when both have the same labels with
 * the same scores (and when both are empty), 0 when they share none. A label the answer misses costs its reference
 * confidence; a label it invents costs its own confidence; a confidence that drops costs the drop.
 */
export function labelOverlap(reference: Answer, answer: Answer | undefined): number {
  if (!answer) return 0;
  const r = labelWeights(reference.labels);
  const a = labelWeights(answer.labels);
  let shared = 0;
  let union = 0;
  for (const [name, rScore] of r) {
    const aScore = a.get(name) ?? 0;
    shared += Math.min(rScore, aScore);
    union += Math.max(rScore, aScore);
  }
  for (const [name, aScore] of a) if (!r.has(name)) union += aScore;
  // Only zero-score labels on both sides (or none at all): nothing to disagree about.
  if (union === 0) return r.size === a.size && [...r.keys()].every((name) => a.has(name)) ? 1 : 0;
  return shared / union;
}

export function intersectionOverUnion(a: PixelBox, b: PixelBox): number {
  const width = Math.min(a.left + a.width, b.left + b.width) - Math.max(a.left, b.left);
  const height = Math.min(a.top + a.height, b.top + b.height) - Math.max(a.top, b.top);
  if (width <= 0 || height <= 0) return 0;
  const intersection = width * height;
  const union = a.width * a.height + b.width * b.height - intersection;
  return union > 0 ? intersection / union : 0;
}

/**
 * Share of reference faces found again: pairs (reference face, answer face) with IoU >= `iou` are matched greedily,
 * highest IoU first, each face used once; recall = matched / reference faces. With no reference faces: 1 when the
 * answer has none either, 0 when it invents some.
 */
export function faceRecall(reference: Answer, answer: Answer | undefined, iou = 0.5): number {
  if (!answer) return 0;
  const refFaces: readonly Face[] = reference.faces;
  if (refFaces.length === 0) return answer.faces.length === 0 ? 1 : 0;
  const pairs: { r: number; a: number; iou: number }[] = [];
  refFaces.forEach((refFace, r) => {
    answer.faces.forEach((face, a) => {
      const overlap = intersectionOverUnion(refFace.box, face.box);
      if (overlap >= iou && overlap > 0) pairs.push({ r, a, iou: overlap });
    });
  });
  pairs.sort((x, y) => y.iou - x.iou);
  const usedRef = new Set<number>();
  const usedAnswer = new Set<number>();
  for (const pair of pairs) {
    if (usedRef.has(pair.r) || usedAnswer.has(pair.a)) continue;
    usedRef.add(pair.r);
    usedAnswer.add(pair.a);
  }
  return usedRef.size / refFaces.length;
}

/** Whitespace runs (including the newlines between text lines) count as one space; ends are trimmed. Case kept. */
export function normaliseText(text: string): string {
  return text.replace(/\s+/gu, ' ').trim();
}

/** Levenshtein distance over code points, two rows of memory: O(n*m) time, O(min(n, m)) space. */
export function levenshtein(a: string, b: string): number {
  let long = Array.from(a);
  let short = Array.from(b);
  if (short.length > long.length) [long, short] = [short, long];
  let previous = new Uint32Array(short.length + 1);
  let current = new Uint32Array(short.length + 1);
  for (let j = 0; j <= short.length; j++) previous[j] = j;
  for (let i = 1; i <= long.length; i++) {
    current[0] = i;
    for (let j = 1; j <= short.length; j++) {
      const substitution = previous[j - 1]! + (long[i - 1] === short[j - 1] ? 0 : 1);
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution);
    }
    [previous, current] = [current, previous];
  }
  return previous[short.length]!;
}

/**
 * 1 - Levenshtein distance / length of the longer text, on normalised text (`normaliseText`); undefined text counts
 * as empty. 1 for two empty texts, 0 when one is empty and the other not. Cost grows with the product of the
 * lengths: fine for OCR answers (a few thousand characters), not for whole documents.
 */
export function textSimilarity(referenceText: string | undefined, text: string | undefined): number {
  const a = normaliseText(referenceText ?? '');
  const b = normaliseText(text ?? '');
  const longest = Math.max(Array.from(a).length, Array.from(b).length);
  if (longest === 0) return 1;
  return 1 - levenshtein(a, b) / longest;
}

/** Scripts written without spaces between words: each of their characters is a token of its own. */
const UNSPACED = '\\p{Script=Han}\\p{Script=Hiragana}\\p{Script=Katakana}\\p{Script=Hangul}';
const TOKEN = new RegExp(`[${UNSPACED}]|[^\\s${UNSPACED}]+`, 'gu');

/**
 * The words of a text: runs of characters between whitespace (Rekognition's definition of a word), except that Chinese,
 * Japanese and Korean characters count one each (those scripts put no spaces between words). Case and punctuation
 * are kept: "0rder" is not "Order" to a client that parses the text.
 */
export function textTokens(text: string): string[] {
  return text.match(TOKEN) ?? [];
}

/**
 * Word agreement: the F1 of the two texts' word multisets (`textTokens`),
 *   2 x shared words / (reference words + answer words),
 * the harmonic mean of the share of reference words recovered and the share of answer words that are the reference's.
 * Order-free: two lines read in the other order (their boxes a pixel apart) lose nothing, a word misread, dropped or
 * invented costs one. 1 for two empty texts, 0 when exactly one is empty; undefined text counts as empty.
 */
export function wordAgreement(referenceText: string | undefined, text: string | undefined): number {
  const reference = textTokens(referenceText ?? '');
  const answer = textTokens(text ?? '');
  if (reference.length + answer.length === 0) return 1;
  const counts = new Map<string, number>();
  for (const word of reference) counts.set(word, (counts.get(word) ?? 0) + 1);
  let shared = 0;
  for (const word of answer) {
    const left = counts.get(word) ?? 0;
    if (left > 0) {
      shared++;
      counts.set(word, left - 1);
    }
  }
  return (2 * shared) / (reference.length + answer.length);
}
