/**
 * What the emulator's backends give the answer functions: classes and detections, resolution-independent (ratios of the
 * image as the API sees it). The models themselves are JSON specs (backends/specs/) run by backends/backend.ts.
 */

/** A box as ratios of the image size (Rekognition's convention): resolution-independent. */
export interface RatioBox {
  left: number;
  top: number;
  width: number;
  height: number;
}

export interface ClassScore {
  /** Index in the 1000 ImageNet classes (sorted-synset order, as categories.ts expects). */
  index: number;
  name: string;
  /** Probability 0..1. */
  score: number;
}

/** A point as ratios of the image size. */
export interface RatioPoint {
  x: number;
  y: number;
}

export interface Detection {
  name: string;
  score: number;
  box: RatioBox;
  /** Face landmarks where the model gives them (YuNet: eye, eye, nose tip, mouth corner, mouth corner, image-left first). */
  landmarks?: RatioPoint[];
}

export interface ImageSize {
  width: number;
  height: number;
}

/** A word read by an OCR backend: its text, confidence (0..1) and four corners as ratios of the image. */
export interface TextWord {
  text: string;
  confidence: number;
  /** Clockwise from the text's own top-left corner. */
  polygon: RatioPoint[];
}

/** A line read by an OCR backend, top to bottom and left to right, with its words in reading order. */
export interface TextLine extends TextWord {
  words: TextWord[];
  /** Probabilities (0..1) of the line's characters, spaces left out: what its words' confidences are means of. */
  charConfidences: number[];
}
