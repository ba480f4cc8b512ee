import type { InspectedImage } from '../codec/types.ts';
import { effectiveAction } from './actions.ts';
import type { Decision, DecisionContext, Policy } from './types.ts';

/**
 * The text operations' ladder until a model is trained for them (--text-qualities), from the emulator's measurement
 * (docs/EMULATOR.md, "Text operations": `npm run emulator:curve -- --sections text`): on the phone photos that carry
 * text, no re-encode of the grid kept the words of the original's answer (word agreement 0.76-0.89 at full size and
 * quality 75-85, under 0.82 at 1536 px and quality 95, against the 0.97 target), while clean rendered cards held 0.99
 * down to 768 px at quality 35. So the first rung is quality 100 at the stored size, which sends a JPEG photo as it is
 * (a re-encode at 100 is never smaller) and a lossless-looking JPEG of a PNG only when smaller; the rungs below are
 * the grid's qualities, for calibration to walk down where the references show the images allow it (documents, cards).
 */
export const TEXT_SAFE_LADDER: readonly number[] = Object.freeze([100, 95, 85, 75, 65, 55, 45, 35]);

/** "85,75,65" -> [85, 75, 65]; undefined unless every entry is an integer 1..100 and they fall. */
export function parseQualityLadder(text: string): number[] | undefined {
  const qualities = text.split(',').map((q) => Number(q.trim()));
  const ok = qualities.every((q, i) => Number.isInteger(q) && q >= 1 && q <= 100 && (i === 0 || q < qualities[i - 1]!));
  return ok && qualities.length > 0 ? qualities : undefined;
}

/**
 * A cautious rule for operations nothing has been learned about yet: a ladder of JPEG qualities, safest first, that
 * calibration walks down only as the reference uploads show each rung holds the target (the operating point's
 * `level`), at the point's resolution floor. Without calibration it stays on the first rung at the stored size. What
 * text operations get until a model of their own is trained for them (router.ts, kind fallbacks).
 */
export class QualityLadderPolicy implements Policy {
  readonly id: string;
  readonly ladder: readonly number[];
  readonly ladderKind = 'quality';
  /** Where calibration starts: the first, safest rung. */
  readonly trainedLevel = 0;

  constructor(qualities: readonly number[], id = `ladder-q${qualities.join('-')}`) {
    if (qualities.length === 0) throw new RangeError('QualityLadderPolicy: at least one quality');
    for (const [i, q] of qualities.entries()) {
      if (!Number.isInteger(q) || q < 1 || q > 100)
        throw new RangeError(`QualityLadderPolicy: qualities must be integers 1..100, got ${q}`);
      if (i > 0 && q >= qualities[i - 1]!)
        throw new RangeError(`QualityLadderPolicy: qualities must fall, safest first (${qualities.join(', ')})`);
    }
    this.ladder = Object.freeze([...qualities]);
    this.id = id;
  }

  async decide(image: InspectedImage, context: DecisionContext): Promise<Decision> {
    const level = Math.min(this.ladder.length - 1, Math.max(0, context.point?.level ?? 0));
    const quality = this.ladder[level]!;
    const floor = context.point?.floor;
    const action = effectiveAction(floor ? { quality, maxSide: floor } : { quality }, image, context.limits) ?? {
      quality,
    };
    // -1: not from a model's action list; a deterministic rule, so the propensity is 1.
    return { action, actionIndex: -1, propensity: 1, modelId: this.id };
  }
}
