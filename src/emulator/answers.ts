import { baiduRoot, categoryOf, isSceneClass, titleCase } from './categories.ts';
import type { ClassScore, Detection, ImageSize } from './models.ts';

/**
 * Model outputs -> each API's answer body. Pure and deterministic: the HTTP routes and scripts/emulator-curve.ts
 * call these same functions, so an in-process measurement equals what the wire would say.
 */

const round = (value: number, digits = 3) => Number(value.toFixed(digits));

// ---------------------------------------------------------------- Rekognition

export interface RekognitionLabel {
  Name: string;
  Confidence: number;
  Instances: { BoundingBox: { Width: number; Height: number; Left: number; Top: number }; Confidence: number }[];
  Parents: { Name: string }[];
  Aliases: { Name: string }[];
  Categories: { Name: string }[];
}

export interface DetectLabelsParams {
  MaxLabels?: number;
  MinConfidence?: number;
}

/** AWS's default MinConfidence for DetectLabels. */
export const REKOGNITION_DEFAULT_MIN_CONFIDENCE = 55;

/**
 * DetectLabels. Classifier: each class is a label (title case), and its coarse group and top-level parent are labels too,
 * with the summed probability of their classes (Rekognition returns "Dog", "Animal" beside "Yorkshire Terrier").
 * Detector (backend 'detector+classifier'): each COCO object is a label with its Instances (ratio boxes); a name found by
 * both keeps the higher confidence and the instances. Sorted by confidence, then name.
 */
export function rekognitionLabels(
  classes: ClassScore[],
  objects: Detection[] | undefined,
  params: DetectLabelsParams = {},
): { Labels: RekognitionLabel[]; LabelModelVersion: string } {
  const minConfidence = params.MinConfidence ?? REKOGNITION_DEFAULT_MIN_CONFIDENCE;
  const maxLabels = params.MaxLabels ?? 1000;
  const labels = new Map<string, RekognitionLabel>();
  const add = (name: string, confidence: number, parents: string[]) => {
    const existing = labels.get(name);
    if (existing) {
      existing.Confidence = Math.max(existing.Confidence, confidence);
      return existing;
    }
    const label: RekognitionLabel = {
      Name: name,
      Confidence: confidence,
      Instances: [],
      Parents: parents.map((p) => ({ Name: p })),
      Aliases: [],
      Categories: [],
    };
    labels.set(name, label);
    return label;
  };
  const groupSums = new Map<string, { sum: number; parent: string }>();
  const parentSums = new Map<string, number>();
  for (const c of classes) {
    const { group, parent } = categoryOf(c.index);
    const g = groupSums.get(group) ?? { sum: 0, parent };
    g.sum += c.score;
    groupSums.set(group, g);
    parentSums.set(parent, (parentSums.get(parent) ?? 0) + c.score);
    const parents = [group, parent].filter((p, i, all) => p !== titleCase(c.name) && all.indexOf(p) === i);
    add(titleCase(c.name), c.score * 100, parents);
  }
  for (const [group, { sum, parent }] of groupSums) add(group, sum * 100, group === parent ? [] : [parent]);
  for (const [parent, sum] of parentSums) add(parent, sum * 100, []);
  for (const o of objects ?? []) {
    const name = titleCase(o.name);
    const label = add(name, o.score * 100, []);
    label.Instances.push({
      BoundingBox: { Width: o.box.width, Height: o.box.height, Left: o.box.left, Top: o.box.top },
      Confidence: o.score * 100,
    });
  }
  const result = [...labels.values()]
    .filter((l) => l.Confidence >= minConfidence)
    .sort((a, b) => b.Confidence - a.Confidence || a.Name.localeCompare(b.Name))
    .slice(0, maxLabels)
    .map((l) => ({
      ...l,
      Confidence: round(Math.min(100, l.Confidence)),
      Instances: l.Instances.map((i) => ({ ...i, Confidence: round(i.Confidence) })),
    }));
  return { Labels: result, LabelModelVersion: '3.0' };
}

/** Rekognition's five default landmarks, in YuNet's order (image-left eye first, as AWS's eyeLeft is). */
const REKOGNITION_LANDMARKS = ['eyeLeft', 'eyeRight', 'nose', 'mouthLeft', 'mouthRight'] as const;

export function rekognitionFaces(faces: Detection[]) {
  return {
    FaceDetails: faces.map((f) => ({
      BoundingBox: { Width: f.box.width, Height: f.box.height, Left: f.box.left, Top: f.box.top },
      // Ratios of the image, like the box: present when the backend gives landmarks (YuNet does, UltraFace does not).
      ...(f.landmarks?.length === REKOGNITION_LANDMARKS.length
        ? { Landmarks: f.landmarks.map((p, i) => ({ Type: REKOGNITION_LANDMARKS[i]!, X: p.x, Y: p.y })) }
        : {}),
      Confidence: round(f.score * 100),
    })),
  };
}

// ---------------------------------------------------------------- Baidu

export interface BaiduGeneralResult {
  log_id: number;
  result_num: number;
  result: { keyword: string; score: number; root: string }[];
}

/** advanced_general: the classifier's top-N (default 5, as Baidu), keyword = class name, root = coarse category. */
export function baiduGeneral(classes: ClassScore[], logId: number, topNum = 5): BaiduGeneralResult {
  const result = classes
    .slice(0, topNum)
    .map((c) => ({ keyword: c.name, score: round(c.score, 6), root: baiduRoot(c.index) }));
  return { log_id: logId, result_num: result.length, result };
}

/** Pixels of the uploaded image, rounded as the real APIs do. */
function pixelBox(d: Detection, size: ImageSize) {
  return {
    left: Math.round(d.box.left * size.width),
    top: Math.round(d.box.top * size.height),
    width: Math.round(d.box.width * size.width),
    height: Math.round(d.box.height * size.height),
  };
}

/** A stable token per face: the same image and box give the same token. */
const token = (seed: string, d: Detection) =>
  Buffer.from(`${seed}:${d.box.left.toFixed(4)}:${d.box.top.toFixed(4)}`)
    .toString('base64url')
    .slice(0, 32);

export function baiduFaces(faces: Detection[], size: ImageSize, seed: string, logId: number, maxFaceNum = 1) {
  // Baidu returns the largest faces first, up to max_face_num.
  const chosen = [...faces]
    .sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height || b.score - a.score)
    .slice(0, maxFaceNum);
  return {
    error_code: 0,
    error_msg: 'SUCCESS',
    log_id: logId,
    timestamp: 0,
    cached: 0,
    result: {
      face_num: chosen.length,
      face_list: chosen.map((f) => ({
        face_token: token(seed, f),
        location: { ...pixelBox(f, size), rotation: 0 },
        face_probability: round(f.score, 4),
        angle: { yaw: 0, pitch: 0, roll: 0 },
      })),
    },
  };
}

// ---------------------------------------------------------------- Face++

/** Face++ ignores faces smaller than 48 px or 1/48 of the short side (PROVIDERS.md). */
export function faceppDetect(faces: Detection[], size: ImageSize, seed: string, requestId: string, imageId: string) {
  const minSide = Math.max(48, Math.min(size.width, size.height) / 48);
  const kept = faces
    .map((f) => ({ f, box: pixelBox(f, size) }))
    .filter(({ box }) => Math.min(box.width, box.height) >= minSide)
    .sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height);
  return {
    request_id: requestId,
    time_used: 0,
    image_id: imageId,
    face_num: kept.length,
    faces: kept.map(({ f, box }) => ({ face_token: token(seed, f), face_rectangle: box })),
  };
}

/** Scenes need some support before Face++-like output names one. */
export const FACEPP_SCENE_MIN = 0.1;
/** Face++ reports objects from this confidence (0-1). */
export const FACEPP_OBJECT_MIN = 0.4;

/**
 * detectsceneandobject: objects = detector's COCO names (best instance per name, confidence 0-100); scenes = the
 * classifier's place classes (alp, seashore, ...) whose probability passes FACEPP_SCENE_MIN.
 */
export function faceppSceneAndObject(objects: Detection[], classes: ClassScore[], requestId: string, imageId: string) {
  const best = new Map<string, number>();
  for (const o of objects) if (o.score >= FACEPP_OBJECT_MIN) best.set(o.name, Math.max(best.get(o.name) ?? 0, o.score));
  const byConfidence = <T extends { value: string; confidence: number }>(a: T, b: T) =>
    b.confidence - a.confidence || a.value.localeCompare(b.value);
  return {
    request_id: requestId,
    time_used: 0,
    image_id: imageId,
    objects: [...best].map(([value, s]) => ({ value, confidence: round(s * 100) })).sort(byConfidence),
    scenes: classes
      .filter((c) => isSceneClass(c.index) && c.score >= FACEPP_SCENE_MIN)
      .map((c) => ({ value: c.name, confidence: round(c.score * 100) }))
      .sort(byConfidence),
  };
}

// ---------------------------------------------------------------- labels as a flat list (for metrics)

/** The label names an API answer carries, best first: what the paper's accuracy metric compares. */
export function answerLabels(api: 'rekognition' | 'baidu' | 'facepp', body: unknown): string[] {
  const b = body as Record<string, unknown>;
  if (api === 'rekognition') return ((b.Labels as RekognitionLabel[]) ?? []).map((l) => l.Name);
  if (api === 'baidu') return ((b.result as { keyword: string }[]) ?? []).map((r) => r.keyword);
  const items = [
    ...((b.objects as { value: string; confidence: number }[]) ?? []),
    ...((b.scenes as { value: string; confidence: number }[]) ?? []),
  ];
  return items.sort((x, y) => y.confidence - x.confidence).map((i) => i.value);
}
