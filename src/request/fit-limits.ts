import { encodeJpeg, type WorkStop } from '../codec/encode.ts';
import type { CodecLimits, EncodeAction, EncodeResult, InspectedImage } from '../codec/types.ts';
import { sentLongSide } from '../policy/actions.ts';
import type { ImageLimits } from '../providers/types.ts';

/**
 * Images the API would refuse as too large (over its maximum side or byte count) are made to fit, since the client's
 * call would fail upstream otherwise; the most common hand-written workaround in apps calling these APIs (PROVIDERS.md).
 * Sides are already fitted by the action (actions.ts `sentLongSide` caps them at the API's maximum); bytes are fitted
 * here, by stepping quality and then resolution down from the chosen action until the image is under the limit.
 */

/** Why an image had to be changed to fit, for `x-adacompress` (`fit=...`) and the log. */
export type FitReason = 'dimensions' | 'bytes';

/** The API refuses this image as sent: what must change for the call to succeed. */
export function overLimits(image: InspectedImage, limits: ImageLimits): FitReason | undefined {
  if (Math.max(image.width, image.height) > limits.maxSide) return 'dimensions';
  if (image.bytes.length > limits.maxBytes) return 'bytes';
  return undefined;
}

/** Qualities tried, in order, when an encoding is still over the byte limit; then the side shrinks by this factor. */
const FIT_QUALITIES = [75, 60, 45, 30];
const FIT_SIDE_STEP = 0.75;
const MAX_FIT_ENCODES = 8;

/**
 * The encoding of `action` if it fits `limits.maxBytes`, else the first of a short ladder (lower quality, then smaller
 * sides, never under the API's minimum side) that does; undefined when none of MAX_FIT_ENCODES attempts fits.
 */
export async function fitBytes(
  image: InspectedImage,
  action: EncodeAction,
  first: EncodeResult,
  limits: ImageLimits,
  codecLimits: CodecLimits,
  stop?: WorkStop,
): Promise<{ encoded: EncodeResult; action: EncodeAction } | undefined> {
  if (first.bytes.length <= limits.maxBytes) return { encoded: first, action };
  let side = sentLongSide(action, image, limits) ?? Math.max(image.width, image.height);
  const attempts: EncodeAction[] = FIT_QUALITIES.filter((q) => q < action.quality).map((quality) => ({
    quality,
    maxSide: side,
  }));
  while (attempts.length < MAX_FIT_ENCODES) {
    side = Math.floor(side * FIT_SIDE_STEP);
    attempts.push({ quality: Math.min(action.quality, FIT_QUALITIES.at(-1)!), maxSide: side });
  }
  for (const attempt of attempts) {
    const fitted = sentLongSide(attempt, image, limits);
    if (fitted === undefined) return undefined;
    const sent: EncodeAction = { quality: attempt.quality, maxSide: fitted };
    const encoded = await encodeJpeg(image, sent, codecLimits, stop);
    if (encoded.bytes.length <= limits.maxBytes) return { encoded, action: sent };
  }
  return undefined;
}
