/**
 * The normalised answer of a vision API: what the decision log stores and what rewards compare.
 * Every provider maps its own response shape onto this one, so the learning loop never sees wire formats.
 */

/** A box in the pixels of the image the client sent (never the re-encoded one). */
export interface PixelBox {
  left: number;
  top: number;
  width: number;
  height: number;
}

export interface Label {
  name: string;
  /** 0..1, whatever scale the API used on the wire. */
  score: number;
}

export interface Face {
  box: PixelBox;
  /** 0..1 */
  score: number;
}

export interface Answer {
  /** Labels, best first. Empty when the operation returns none. */
  labels: Label[];
  /** Faces found; empty for label operations. */
  faces: Face[];
  /** Detected text joined by newlines, when the operation reads text. */
  text?: string;
}

export const emptyAnswer = (): Answer => ({ labels: [], faces: [] });
