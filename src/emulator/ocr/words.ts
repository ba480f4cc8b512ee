import { type Quad, quadSlice } from './geometry.ts';
import type { DecodedChar, RecognisedLine } from './recognise.ts';

/**
 * Words of a recognised line, with boxes where the recogniser actually read them. A word is a run of characters
 * without a space (Rekognition's definition of a WORD detection). CTC reads each character at the time steps where its
 * class wins; a step stands for a fixed stretch of the strip, so the steps give each character's centre along the line.
 * A word spans from half a character pitch before its first character's centre to half a pitch after its last one,
 * the pitch being the typical distance between neighbouring character centres in this line; it never reaches past the
 * midpoint to the next word or outside the line.
 */

export interface Word {
  text: string;
  /** Mean probability of the word's characters (0..1). */
  confidence: number;
  /** The word's part of the line's quad, in the line's reading order. */
  quad: Quad;
}

export function wordsOfLine(line: RecognisedLine, lineQuad: Quad): Word[] {
  const groups = splitWords(line.chars);
  if (groups.length === 0) return [];
  const centre = (c: DecodedChar) => ((c.firstStep + c.lastStep + 1) / 2) * line.stepWidth;
  const pitch = characterPitch(groups, centre, line);
  const spans = groups.map((g) => ({ start: centre(g[0]!) - pitch / 2, end: centre(g[g.length - 1]!) + pitch / 2 }));
  return groups.map((group, i) => {
    let { start, end } = spans[i]!;
    const before = groups[i - 1];
    const after = groups[i + 1];
    if (before) start = Math.max(start, (centre(before[before.length - 1]!) + centre(group[0]!)) / 2);
    if (after) end = Math.min(end, (centre(group[group.length - 1]!) + centre(after[0]!)) / 2);
    const u0 = clamp01(start / line.contentWidth);
    const u1 = Math.max(u0, clamp01(end / line.contentWidth));
    return {
      text: group.map((c) => c.char).join(''),
      confidence: group.reduce((s, c) => s + c.prob, 0) / group.length,
      quad: quadSlice(lineQuad, u0, u1),
    };
  });
}

function splitWords(chars: readonly DecodedChar[]): DecodedChar[][] {
  const words: DecodedChar[][] = [];
  let current: DecodedChar[] = [];
  for (const c of chars) {
    if (/^\s$/u.test(c.char)) {
      if (current.length > 0) words.push(current);
      current = [];
    } else current.push(c);
  }
  if (current.length > 0) words.push(current);
  return words;
}

/**
 * The median distance between neighbouring character centres inside words; for a line of single-character words, the
 * line's width shared among its characters.
 */
function characterPitch(
  groups: readonly DecodedChar[][],
  centre: (c: DecodedChar) => number,
  line: RecognisedLine,
): number {
  const gaps: number[] = [];
  for (const g of groups) for (let i = 1; i < g.length; i++) gaps.push(centre(g[i]!) - centre(g[i - 1]!));
  if (gaps.length === 0) return line.contentWidth / Math.max(1, line.chars.length);
  gaps.sort((a, b) => a - b);
  return gaps[Math.floor(gaps.length / 2)]!;
}

const clamp01 = (v: number) => Math.min(1, Math.max(0, v));
