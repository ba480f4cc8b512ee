import { isUtf8 } from 'node:buffer';
import { type PathSegment, spliceTokens, visitJsonValues } from './json-tokens.ts';
import { type AxisScale, isIdentity, scaleAlong, scaleOf } from './pixels.ts';
import type { AnsweredSlot } from './types.ts';

/**
 * Rewriting an API's answer so that every pixel coordinate in it means the client's own pixels when the proxy sent a
 * resized image. The providers say where their pixel geometry sits (facepp/mapping.ts, baidu/mapping.ts); this module
 * finds those numbers in the JSON text and replaces them in place, rounded the way the API wrote them, leaving every
 * other byte as it came.
 */

/** Boxes have left/top/width/height; points have x/y. Other keys of the same objects (rotation, score) are kept. */
export type PixelShape = 'box' | 'point';

const AXES: Record<PixelShape, Readonly<Record<string, keyof AxisScale>>> = {
  box: { left: 'x', width: 'x', top: 'y', height: 'y' },
  point: { x: 'x', y: 'y' },
};

/** Where box or point objects sit in an answer, and which image's pixels they are in. */
export interface PixelField {
  /**
   * Path from the root to the objects: keys separated by dots; `key[]` is each element of the array under `key`;
   * `*` is any key of an object; `**` is any number of levels (for recursive shapes).
   */
  readonly at: string;
  readonly shape: PixelShape;
  /** The image the coordinates refer to; default: the request's first image (single-image operations). */
  readonly image?: (path: readonly PathSegment[], slots: readonly AnsweredSlot[]) => AnsweredSlot | undefined;
}

/** Why an answer could not be rewritten. Fixed wording: the log never carries the upstream's own text. */
export class AnswerMappingError extends Error {
  override readonly name = 'AnswerMappingError';
}

/**
 * The answer with the pixel coordinates of `fields` in client pixels, or undefined when there is nothing to change
 * (no image was resized, or the answer holds none of the fields). Throws AnswerMappingError for an answer it cannot
 * rewrite safely (not UTF-8, not JSON).
 */
export function mapPixelFields(
  body: Buffer,
  slots: readonly AnsweredSlot[],
  fields: readonly PixelField[],
): Buffer | undefined {
  if (fields.length === 0 || slots.every((slot) => isIdentity(scaleOf(slot)))) return undefined;
  // Replacement characters from a bad byte would change bytes the rewrite promises to keep.
  if (!isUtf8(body)) throw new AnswerMappingError('answer is not valid UTF-8');
  const text = body.toString('utf8');
  // A byte order mark is not JSON but some servers send one: it is kept, and the JSON after it read.
  const bom = text.startsWith('\uFEFF') ? 1 : 0;
  const json = text.slice(bom);
  const compiled = fields.map((field) => ({ field, pattern: compile(field.at) }));
  const replacements: { start: number; end: number; raw: string }[] = [];
  const visit = (path: readonly PathSegment[], start: number, end: number) => {
    const key = path[path.length - 1];
    if (typeof key !== 'string') return;
    for (const { field, pattern } of compiled) {
      const axis = AXES[field.shape][key];
      // The object holding the number is at the path without its last key.
      if (axis === undefined || !matches(pattern, 0, path, 0, path.length - 1)) continue;
      const slot = field.image ? field.image(path, slots) : slots[0];
      const scale = slot ? scaleOf(slot) : undefined;
      const raw = json.slice(start, end);
      const scaled = scale && !isIdentity(scale) ? scaledToken(raw, axis, scale) : undefined;
      if (scaled !== undefined && scaled !== raw) {
        replacements.push({ start: start + bom, end: end + bom, raw: scaled });
      }
      return;
    }
  };
  try {
    visitJsonValues(json, visit);
  } catch (error) {
    if (error instanceof SyntaxError) throw new AnswerMappingError('answer is not JSON');
    throw error;
  }
  if (replacements.length === 0) return undefined;
  return Buffer.from(spliceTokens(text, replacements), 'utf8');
}

/** A number token (or a numeric string, which some Baidu endpoints send) scaled along one axis; else undefined. */
function scaledToken(raw: string, axis: keyof AxisScale, scale: AxisScale): string | undefined {
  if (raw.startsWith('"')) {
    const inner = JSON.parse(raw) as string;
    return NUMERIC.test(inner) ? JSON.stringify(formatLike(inner, scaleAlong(Number(inner), axis, scale))) : undefined;
  }
  if (raw === 'true' || raw === 'false' || raw === 'null') return undefined;
  return formatLike(raw, scaleAlong(Number(raw), axis, scale));
}

const NUMERIC = /^-?\d+(?:\.\d+)?$/;

/**
 * `value` written the way `raw` was: an integer stays an integer (nearest pixel); a decimal keeps as many decimals as
 * it had (trailing zeros trimmed, at least one kept, so it still reads as a decimal); exponent notation gives the
 * shortest exact form.
 */
export function formatLike(raw: string, value: number): string {
  if (/^-?\d+$/.test(raw)) return String(Math.round(value) || 0);
  const decimals = /^-?\d+\.(\d+)$/.exec(raw)?.[1]?.length;
  if (decimals === undefined) return String(value);
  const fixed = value
    .toFixed(decimals)
    .replace(/(\.\d*?)0+$/, '$1')
    .replace(/\.$/, '.0');
  return Number(fixed) === 0 ? fixed.replace(/^-/, '') : fixed;
}

type Segment = { kind: 'key'; key: string } | { kind: 'index' } | { kind: 'anyKey' } | { kind: 'anyDepth' };

function compile(at: string): Segment[] {
  return at.split('.').flatMap((part): Segment[] => {
    if (part === '**') return [{ kind: 'anyDepth' }];
    if (part === '*') return [{ kind: 'anyKey' }];
    const array = part.endsWith('[]');
    const key = array ? part.slice(0, -2) : part;
    return [...(key ? [{ kind: 'key' as const, key }] : []), ...(array ? [{ kind: 'index' as const }] : [])];
  });
}

/** Does `pattern[p..]` match `path[i..end)`? */
function matches(
  pattern: readonly Segment[],
  p: number,
  path: readonly PathSegment[],
  i: number,
  end: number,
): boolean {
  if (p === pattern.length) return i === end;
  const segment = pattern[p]!;
  if (segment.kind === 'anyDepth') {
    for (let j = i; j <= end; j++) if (matches(pattern, p + 1, path, j, end)) return true;
    return false;
  }
  if (i === end) return false;
  const at = path[i]!;
  const ok =
    segment.kind === 'index'
      ? typeof at === 'number'
      : segment.kind === 'anyKey'
        ? typeof at === 'string'
        : at === segment.key;
  return ok && matches(pattern, p + 1, path, i + 1, end);
}
