import type { ImageSize, RatioBox, RatioPoint, TextLine, TextWord } from './models.ts';

/**
 * OCR lines -> the text operations' answer bodies: Rekognition DetectText (ratios, LINE and WORD detections, its
 * documented filters and limits) and Baidu's general OCR family (pixels). Pure and deterministic, as answers.ts.
 */

const round = (value: number, digits = 3) => Number(value.toFixed(digits));

// ---------------------------------------------------------------- Rekognition DetectText

/** AWS's documented figures: at most 100 words, up to 10 regions of interest, word filter MinConfidence 80 by default. */
export const DETECT_TEXT_LIMITS = { maxWords: 100, maxRegions: 10, maxPolygonPoints: 10, defaultMinConfidence: 80 };

/** A region of interest: a box, or a polygon (AWS: "a BoundingBox or Polygon"), ratios of the image. */
export type TextRegion = { box: RatioBox } | { polygon: RatioPoint[] };

export interface DetectTextParams {
  /** 0..100; words below it are left out. */
  minConfidence: number;
  /** 0..1 of the image height / width; narrower or lower words are left out. */
  minBoxHeight: number;
  minBoxWidth: number;
  /** Empty: the whole image. */
  regions: TextRegion[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const unit = (v: unknown) => typeof v === 'number' && v >= 0 && v <= 1;

/**
 * `Filters` of a DetectText request, checked as AWS documents them. Returns the parameters, or the name of the field at
 * fault (the route answers InvalidParameterException with it).
 */
export function detectTextParams(filters: unknown): DetectTextParams | { invalid: string } {
  const params: DetectTextParams = {
    minConfidence: DETECT_TEXT_LIMITS.defaultMinConfidence,
    minBoxHeight: 0,
    minBoxWidth: 0,
    regions: [],
  };
  if (filters === undefined || filters === null) return params;
  if (!isObject(filters)) return { invalid: 'Filters' };
  const word = filters.WordFilter;
  if (word !== undefined && word !== null) {
    if (!isObject(word)) return { invalid: 'Filters.WordFilter' };
    const { MinConfidence, MinBoundingBoxHeight, MinBoundingBoxWidth } = word;
    if (MinConfidence !== undefined) {
      if (typeof MinConfidence !== 'number' || MinConfidence < 0 || MinConfidence > 100)
        return { invalid: 'Filters.WordFilter.MinConfidence' };
      params.minConfidence = MinConfidence;
    }
    if (MinBoundingBoxHeight !== undefined) {
      if (!unit(MinBoundingBoxHeight)) return { invalid: 'Filters.WordFilter.MinBoundingBoxHeight' };
      params.minBoxHeight = MinBoundingBoxHeight as number;
    }
    if (MinBoundingBoxWidth !== undefined) {
      if (!unit(MinBoundingBoxWidth)) return { invalid: 'Filters.WordFilter.MinBoundingBoxWidth' };
      params.minBoxWidth = MinBoundingBoxWidth as number;
    }
  }
  const regions = filters.RegionsOfInterest;
  if (regions !== undefined && regions !== null) {
    if (!Array.isArray(regions) || regions.length > DETECT_TEXT_LIMITS.maxRegions)
      return { invalid: 'Filters.RegionsOfInterest' };
    for (const [i, region] of regions.entries()) {
      const parsed = regionOf(region);
      if (!parsed) return { invalid: `Filters.RegionsOfInterest[${i}]` };
      params.regions.push(parsed);
    }
  }
  return params;
}

function regionOf(region: unknown): TextRegion | undefined {
  if (!isObject(region)) return undefined;
  const box = region.BoundingBox;
  if (isObject(box)) {
    const { Left, Top, Width, Height } = box;
    if (![Left, Top, Width, Height].every(unit)) return undefined;
    return { box: { left: Left as number, top: Top as number, width: Width as number, height: Height as number } };
  }
  const polygon = region.Polygon;
  if (Array.isArray(polygon) && polygon.length >= 3 && polygon.length <= DETECT_TEXT_LIMITS.maxPolygonPoints) {
    const points = polygon.map((p) =>
      isObject(p) && unit(p.X) && unit(p.Y) ? { x: p.X as number, y: p.Y as number } : undefined,
    );
    if (points.every((p) => p !== undefined)) return { polygon: points as RatioPoint[] };
  }
  return undefined;
}

/** The axis-aligned box around a polygon, ratios clamped to the image. */
export function boundsOf(polygon: readonly RatioPoint[]): RatioBox {
  const xs = polygon.map((p) => p.x);
  const ys = polygon.map((p) => p.y);
  const left = Math.max(0, Math.min(...xs));
  const top = Math.max(0, Math.min(...ys));
  return { left, top, width: Math.min(1, Math.max(...xs)) - left, height: Math.min(1, Math.max(...ys)) - top };
}

function insidePolygon(p: RatioPoint, polygon: readonly RatioPoint[]): boolean {
  let inside = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const a = polygon[i]!;
    const b = polygon[j]!;
    if (a.y > p.y !== b.y > p.y && p.x < ((b.x - a.x) * (p.y - a.y)) / (b.y - a.y) + a.x) inside = !inside;
  }
  return inside;
}

/** Samples per side of a word's box when measuring how much of it lies in a polygon region. */
const POLYGON_SAMPLES = 10;

/** The share of `box` inside `region`: exact for a box region, on a 10x10 grid of the box for a polygon region. */
function shareInside(box: RatioBox, region: TextRegion): number {
  const area = box.width * box.height;
  if ('box' in region && area > 0) {
    const r = region.box;
    const w = Math.max(0, Math.min(box.left + box.width, r.left + r.width) - Math.max(box.left, r.left));
    const h = Math.max(0, Math.min(box.top + box.height, r.top + r.height) - Math.max(box.top, r.top));
    return (w * h) / area;
  }
  const polygon = 'box' in region ? corners(region.box) : region.polygon;
  let inside = 0;
  for (let i = 0; i < POLYGON_SAMPLES; i++) {
    for (let j = 0; j < POLYGON_SAMPLES; j++) {
      const p = {
        x: box.left + ((i + 0.5) / POLYGON_SAMPLES) * box.width,
        y: box.top + ((j + 0.5) / POLYGON_SAMPLES) * box.height,
      };
      if (insidePolygon(p, polygon)) inside++;
    }
  }
  return inside / POLYGON_SAMPLES ** 2;
}

const corners = (b: RatioBox): RatioPoint[] => [
  { x: b.left, y: b.top },
  { x: b.left + b.width, y: b.top },
  { x: b.left + b.width, y: b.top + b.height },
  { x: b.left, y: b.top + b.height },
];

/** AWS: a word is in the regions when more than half of it lies in one of them. */
const inRegions = (box: RatioBox, regions: readonly TextRegion[]) =>
  regions.length === 0 || regions.some((region) => shareInside(box, region) > 0.5);

function geometry(polygon: readonly RatioPoint[]) {
  const b = boundsOf(polygon);
  return {
    BoundingBox: { Width: b.width, Height: b.height, Left: b.left, Top: b.top },
    Polygon: polygon.map((p) => ({ X: p.x, Y: p.y })),
  };
}

/**
 * The part of a line its kept words cover: word polygons are slices of the line's (reading order, words.ts), so the
 * first kept word's leading edge and the last one's trailing edge bound it. All words kept: the line as detected.
 */
function linePolygon(line: TextLine, kept: readonly TextWord[]): RatioPoint[] {
  if (kept.length === line.words.length) return line.polygon;
  const first = kept[0]!.polygon;
  const last = kept[kept.length - 1]!.polygon;
  return [first[0]!, last[1]!, last[2]!, first[3]!];
}

export interface RekognitionTextDetection {
  DetectedText: string;
  Type: 'LINE' | 'WORD';
  Id: number;
  ParentId?: number;
  Confidence: number;
  Geometry: ReturnType<typeof geometry>;
}

/**
 * DetectText. Words pass the word filter (confidence, box height and width) and the regions of interest, at most 100
 * in reading order; a LINE is kept when some of its words are, and reads as those words (so a line always equals its
 * WORD children joined by spaces), its geometry the part of the line they cover. As Rekognition lists them: every LINE
 * first (Id 0, 1, ...), then every WORD (Ids continuing), each with its line's Id as ParentId.
 */
export function rekognitionText(lines: readonly TextLine[], params: DetectTextParams) {
  let budget = DETECT_TEXT_LIMITS.maxWords;
  const kept: { line: TextLine; words: TextWord[] }[] = [];
  for (const line of lines) {
    if (budget === 0) break;
    const words = line.words.filter((w) => {
      const box = boundsOf(w.polygon);
      return (
        w.confidence * 100 >= params.minConfidence &&
        box.height >= params.minBoxHeight &&
        box.width >= params.minBoxWidth &&
        inRegions(box, params.regions)
      );
    });
    const within = words.slice(0, budget);
    budget -= within.length;
    if (within.length > 0) kept.push({ line, words: within });
  }
  const detections: RekognitionTextDetection[] = kept.map(({ line, words }, id) => ({
    DetectedText: words.map((w) => w.text).join(' '),
    Type: 'LINE',
    Id: id,
    Confidence: round(mean(words.map((w) => w.confidence)) * 100),
    Geometry: geometry(linePolygon(line, words)),
  }));
  let id = kept.length;
  kept.forEach(({ words }, parent) => {
    for (const w of words) {
      detections.push({
        DetectedText: w.text,
        Type: 'WORD',
        Id: id++,
        ParentId: parent,
        Confidence: round(w.confidence * 100),
        Geometry: geometry(w.polygon),
      });
    }
  });
  return { TextDetections: detections, TextModelVersion: '3.0' };
}

const mean = (xs: readonly number[]) => (xs.length > 0 ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

// ---------------------------------------------------------------- Baidu OCR

/** What a Baidu OCR request asked for, beside the image. */
export interface BaiduTextOptions {
  /** general, accurate: each line's `location` (pixels). */
  location: boolean;
  /** vertexes_location=true (with location): the line's four corners in pixels. */
  vertexes: boolean;
  /** probability=true: per line {average, min, variance} of its characters' probabilities. */
  probability: boolean;
  /** detect_direction=true: the image's `direction` (0 upright, 1/2/3 turned 90/180/270 degrees anticlockwise, -1 unknown). */
  detectDirection: boolean;
}

/**
 * Which way the image is turned, from where its lines read: each line's reading direction (its first edge, p0 -> p1)
 * weighted by length, summed; the sum's angle to the nearest quarter turn. Text read upwards means the image was
 * turned 90 degrees anticlockwise (Baidu's 1). No lines: -1.
 */
export function textDirection(lines: readonly TextLine[], frame: ImageSize): -1 | 0 | 1 | 2 | 3 {
  let x = 0;
  let y = 0;
  for (const line of lines) {
    const [a, b] = line.polygon;
    if (!a || !b) continue;
    x += (b.x - a.x) * frame.width;
    y += (b.y - a.y) * frame.height;
  }
  if (x === 0 && y === 0) return -1;
  const quarter = Math.round(Math.atan2(-y, x) / (Math.PI / 2));
  return ((quarter + 4) % 4) as 0 | 1 | 2 | 3;
}

function pixelLocation(polygon: readonly RatioPoint[], frame: ImageSize) {
  const b = boundsOf(polygon);
  const left = Math.round(b.left * frame.width);
  const top = Math.round(b.top * frame.height);
  return {
    left,
    top,
    width: Math.round((b.left + b.width) * frame.width) - left,
    height: Math.round((b.top + b.height) * frame.height) - top,
  };
}

function probabilityOf(line: TextLine) {
  const p = line.charConfidences.length > 0 ? line.charConfidences : [line.confidence];
  const average = mean(p);
  const variance = mean(p.map((v) => (v - average) ** 2));
  return { average: round(average, 6), min: round(Math.min(...p), 6), variance: round(variance, 6) };
}

/**
 * general_basic / accurate_basic (`words` per line) and general / accurate (plus `location` in pixels of the image as
 * the API saw it, `frame`): lines top to bottom, `words_result_num` their count.
 */
export function baiduText(lines: readonly TextLine[], frame: ImageSize, logId: number, options: BaiduTextOptions) {
  const words_result = lines.map((line) => ({
    ...(options.location ? { location: pixelLocation(line.polygon, frame) } : {}),
    words: line.text,
    ...(options.location && options.vertexes
      ? {
          vertexes_location: line.polygon.map((p) => ({
            x: Math.round(p.x * frame.width),
            y: Math.round(p.y * frame.height),
          })),
        }
      : {}),
    ...(options.probability ? { probability: probabilityOf(line) } : {}),
  }));
  return {
    log_id: logId,
    ...(options.detectDirection ? { direction: textDirection(lines, frame) } : {}),
    words_result_num: words_result.length,
    words_result,
  };
}
