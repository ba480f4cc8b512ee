import type { PixelBox } from '../answer.ts';
import type { AnsweredSlot } from './types.ts';

/**
 * From the pixels of the image an API received to the pixels of the image the client sent. The one scaling rule of
 * the product: the normalised answers in the decision log (answers.ts of each provider) and the answers rewritten for
 * the client (answer-mapping.ts) both go through it, so the two can never disagree.
 *
 * Both sizes are of the stored pixel grid: the proxy keeps the EXIF tag and resizes the stored grid as a whole, and
 * Face++ and Baidu report pixels of the stored frame (docs/EMULATOR.md, "EXIF orientation, per API"), so each axis of
 * that frame has its own factor. They differ slightly because each sent side is rounded to whole pixels (a 1001x667
 * photo sent at 320 px goes as 320x213: x3.128 and x3.131), which one factor per image would get wrong by a pixel or two.
 */

/** Client pixels per sent pixel, per axis of the stored frame. */
export interface AxisScale {
  x: number;
  y: number;
}

export const IDENTITY: AxisScale = Object.freeze({ x: 1, y: 1 });

/** The factors for one image (identity when the proxy did not resize it, or its sizes are unknown). */
export function scaleOf(slot: AnsweredSlot): AxisScale {
  const client = slot.clientSize;
  const sent = slot.sentSize;
  if (!client || !sent || !(sent.width > 0) || !(sent.height > 0)) return IDENTITY;
  return { x: client.width / sent.width, y: client.height / sent.height };
}

export const isIdentity = (scale: AxisScale): boolean => scale.x === 1 && scale.y === 1;

/** A coordinate or length along one axis, in client pixels. */
export const scaleAlong = (value: number, axis: keyof AxisScale, scale: AxisScale): number => value * scale[axis];

/** A box given by its left/top corner and size, in client pixels. */
export function scaleBox(box: PixelBox, scale: AxisScale): PixelBox {
  return {
    left: scaleAlong(box.left, 'x', scale),
    top: scaleAlong(box.top, 'y', scale),
    width: scaleAlong(box.width, 'x', scale),
    height: scaleAlong(box.height, 'y', scale),
  };
}
