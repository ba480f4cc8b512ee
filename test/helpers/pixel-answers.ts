import type { AxisScale } from '../../src/providers/pixels.ts';
import type { AnsweredSlot, OperationSpec, PixelSize } from '../../src/providers/types.ts';

/**
 * Answer templates for the mapping tests: a sample answer is written once as a function of how its pixel numbers are
 * spelled, so the same text gives the answer the API sends (numbers as sent) and the answer the client must get
 * (numbers in client pixels). Everything not written through `x`/`y` must come back byte for byte.
 */
export interface Px {
  x(value: number): string;
  y(value: number): string;
}

/** The numbers as the API writes them, in the pixels of the image it received. */
export const asSent: Px = { x: String, y: String };

/**
 * The numbers the client must get: scaled per axis, an integer rounded to the nearest pixel, a decimal to as many
 * decimals as it had (trailing zeros trimmed, one kept).
 */
export function inClientPixels(scale: AxisScale): Px {
  const spell = (value: number, factor: number): string => {
    if (Number.isInteger(value)) return String(Math.round(value * factor));
    const decimals = String(value).split('.')[1]!.length;
    return (value * factor)
      .toFixed(decimals)
      .replace(/(\.\d*?)0+$/, '$1')
      .replace(/\.$/, '.0');
  };
  return { x: (v) => spell(v, scale.x), y: (v) => spell(v, scale.y) };
}

/** One image of a request as the answer mapping sees it. */
export function answeredSlot(
  field: string,
  operation: OperationSpec,
  client: PixelSize,
  sent: PixelSize,
  orientation = 1,
): AnsweredSlot {
  return { field, operation, clientSize: client, sentSize: sent, clientOrientation: orientation };
}

export const scaleBetween = (client: PixelSize, sent: PixelSize): AxisScale => ({
  x: client.width / sent.width,
  y: client.height / sent.height,
});

/**
 * Sizes used throughout: a 1001x667 photo sent at a longest side of 320 goes as 320x213 (each side rounded), so the
 * two axes have different factors (x3.128 and x3.131); a second image for compare operations, 1500x2000 sent as
 * 480x640 (x3.125 on both).
 */
export const CLIENT_A: PixelSize = { width: 1001, height: 667 };
export const SENT_A: PixelSize = { width: 320, height: 213 };
export const CLIENT_B: PixelSize = { width: 1500, height: 2000 };
export const SENT_B: PixelSize = { width: 480, height: 640 };
