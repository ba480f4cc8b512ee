import type { Answer, Face, Label } from '../../answer.ts';
import { isObject, type Json } from '../json.ts';
import type { AnsweredSlot, PixelSize } from '../types.ts';

/**
 * Rekognition's answers -> the normalised answer of each image slot. Rekognition states boxes as ratios of the image
 * after its EXIF orientation is applied (its documentation: "bounding box coordinates are translated to represent
 * object locations after the orientation information in the Exif metadata is used"), so a resize changes nothing in
 * them and the log turns them into the client's pixels of that upright frame. Every coordinate of every intercepted
 * operation's answer is such a ratio (BoundingBox, Landmark, Geometry.Polygon; checked against the SDK's service model
 * in test/providers/rekognition-fields.test.ts), so the provider has no `mapAnswer`: the client gets the answer as sent.
 */

interface RatioBox {
  Left?: number;
  Top?: number;
  Width?: number;
  Height?: number;
}

/** The frame Rekognition's ratios refer to: the stored size, turned upright by the EXIF orientation (5..8 swap). */
function uprightSize(slot: AnsweredSlot): PixelSize | undefined {
  const size = slot.clientSize;
  if (!size) return undefined;
  return (slot.clientOrientation ?? 1) >= 5 ? { width: size.height, height: size.width } : size;
}

function toPixels(box: RatioBox | undefined, size: PixelSize | undefined) {
  const w = size?.width ?? 1;
  const h = size?.height ?? 1;
  return {
    left: (box?.Left ?? 0) * w,
    top: (box?.Top ?? 0) * h,
    width: (box?.Width ?? 0) * w,
    height: (box?.Height ?? 0) * h,
  };
}

const asArray = (value: unknown): Json[] => (Array.isArray(value) ? value.filter(isObject) : []);
const byScore = (a: { score: number }, b: { score: number }) => b.score - a.score;
const objectOr = (value: unknown): Json => (isObject(value) ? value : {});

function labelsFrom(items: Json[], nameKey = 'Name', scoreKey = 'Confidence'): Label[] {
  return items
    .filter((item) => typeof item[nameKey] === 'string')
    .map((item) => ({ name: item[nameKey] as string, score: Number(item[scoreKey] ?? 0) / 100 }))
    .sort(byScore);
}

function facesFrom(items: Json[], size: PixelSize | undefined): Face[] {
  return items.map((item) => ({
    box: toPixels(item.BoundingBox as RatioBox | undefined, size),
    score: Number(item.Confidence ?? 100) / 100,
  }));
}

/** The best similarity of a match list as the label `match` (0..1): what a compare answer decides. */
function matchLabel(items: Json[]): Label[] {
  const best = Math.max(...items.map((m) => Number(m.Similarity ?? 0)));
  return items.length > 0 && Number.isFinite(best) ? [{ name: 'match', score: best / 100 }] : [];
}

/** One slot's answer. CompareFaces: the source slot gets the source face, the target slot its faces and the match. */
export function rekognitionAnswer(body: Json, slot: AnsweredSlot): Answer {
  const size = uprightSize(slot);
  switch (slot.operation.name) {
    case 'DetectLabels':
    case 'DetectCustomLabels':
      return { labels: labelsFrom(asArray(body.Labels ?? body.CustomLabels)), faces: [] };
    case 'DetectModerationLabels':
      return { labels: labelsFrom(asArray(body.ModerationLabels)), faces: [] };
    case 'DetectProtectiveEquipment': {
      const equipment = asArray(body.Persons).flatMap((person) =>
        asArray(person.BodyParts).flatMap((part) => asArray(part.EquipmentDetections)),
      );
      return { labels: labelsFrom(equipment, 'Type'), faces: facesFrom(asArray(body.Persons), size) };
    }
    case 'RecognizeCelebrities': {
      const celebrities = asArray(body.CelebrityFaces);
      return {
        labels: labelsFrom(celebrities, 'Name', 'MatchConfidence'),
        faces: facesFrom(
          celebrities.map((c) => objectOr(c.Face)),
          size,
        ),
      };
    }
    case 'DetectFaces':
      return { labels: [], faces: facesFrom(asArray(body.FaceDetails), size) };
    case 'IndexFaces':
      return {
        labels: [],
        faces: facesFrom(
          asArray(body.FaceRecords).map((r) => objectOr(r.FaceDetail)),
          size,
        ),
      };
    case 'SearchFacesByImage':
    case 'SearchUsersByImage': {
      const matches = asArray(body.FaceMatches ?? body.UserMatches);
      const ids = matches.map((m) => ({
        name: String(objectOr(m.Face).FaceId ?? objectOr(m.User).UserId ?? ''),
        score: Number(m.Similarity ?? 0) / 100,
      }));
      const searched = isObject(body.SearchedFaceBoundingBox)
        ? facesFrom([{ BoundingBox: body.SearchedFaceBoundingBox }], size)
        : [];
      return { labels: ids.filter((l) => l.name !== '').sort(byScore), faces: searched };
    }
    case 'CompareFaces': {
      if (slot.field === 'SourceImage') {
        const source = isObject(body.SourceImageFace) ? [body.SourceImageFace] : [];
        return { labels: [], faces: facesFrom(source, size) };
      }
      const matches = asArray(body.FaceMatches);
      const matched = matches.map((m) => objectOr(m.Face));
      return { labels: matchLabel(matches), faces: facesFrom([...matched, ...asArray(body.UnmatchedFaces)], size) };
    }
    case 'DetectText': {
      const lines = asArray(body.TextDetections).filter((t) => t.Type === 'LINE' && typeof t.DetectedText === 'string');
      return { labels: [], faces: [], text: lines.map((t) => t.DetectedText as string).join('\n') };
    }
    default:
      return { labels: [], faces: [] };
  }
}
