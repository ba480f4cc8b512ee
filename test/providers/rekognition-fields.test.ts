import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, test } from 'node:test';
import { rekognition } from '../../src/providers/rekognition/index.ts';
import { testProvider } from '../helpers/providers.ts';

/**
 * Rekognition answers go to the client untouched when the proxy resizes: every coordinate in them is a ratio of the
 * image. Checked here against the service model the AWS SDK is generated from (its response shapes and their
 * documentation), so that a numeric field added to an intercepted operation's answer fails this test until someone
 * decides whether it is pixels.
 */

/** Every numeric field reachable from the answer of an intercepted operation, and what it is. */
const NUMERIC_FIELDS: Record<string, 'ratio of the image' | 'not a coordinate'> = {
  'BoundingBox.Left': 'ratio of the image',
  'BoundingBox.Top': 'ratio of the image',
  'BoundingBox.Width': 'ratio of the image',
  'BoundingBox.Height': 'ratio of the image',
  'Landmark.X': 'ratio of the image',
  'Landmark.Y': 'ratio of the image',
  // Polygon points of DetectText / DetectCustomLabels Geometry: "ratios of the overall image size" (Geometry docs).
  'Point.X': 'ratio of the image',
  'Point.Y': 'ratio of the image',
  'AgeRange.High': 'not a coordinate',
  'AgeRange.Low': 'not a coordinate',
  'Beard.Confidence': 'not a coordinate',
  'Celebrity.MatchConfidence': 'not a coordinate',
  'CompareFacesMatch.Similarity': 'not a coordinate',
  'ComparedFace.Confidence': 'not a coordinate',
  'ComparedSourceImageFace.Confidence': 'not a coordinate',
  'ContentType.Confidence': 'not a coordinate',
  'CoversBodyPart.Confidence': 'not a coordinate',
  'CustomLabel.Confidence': 'not a coordinate',
  'DetectLabelsImageQuality.Brightness': 'not a coordinate',
  'DetectLabelsImageQuality.Contrast': 'not a coordinate',
  'DetectLabelsImageQuality.Sharpness': 'not a coordinate',
  'DominantColor.Blue': 'not a coordinate',
  'DominantColor.Green': 'not a coordinate',
  'DominantColor.Red': 'not a coordinate',
  'DominantColor.PixelPercent': 'not a coordinate',
  'Emotion.Confidence': 'not a coordinate',
  'EquipmentDetection.Confidence': 'not a coordinate',
  'EyeDirection.Confidence': 'not a coordinate',
  'EyeDirection.Pitch': 'not a coordinate',
  'EyeDirection.Yaw': 'not a coordinate',
  'EyeOpen.Confidence': 'not a coordinate',
  'Eyeglasses.Confidence': 'not a coordinate',
  'Face.Confidence': 'not a coordinate',
  'FaceDetail.Confidence': 'not a coordinate',
  'FaceMatch.Similarity': 'not a coordinate',
  'FaceOccluded.Confidence': 'not a coordinate',
  'Gender.Confidence': 'not a coordinate',
  'ImageQuality.Brightness': 'not a coordinate',
  'ImageQuality.Sharpness': 'not a coordinate',
  'Instance.Confidence': 'not a coordinate',
  'Label.Confidence': 'not a coordinate',
  'ModerationLabel.Confidence': 'not a coordinate',
  'ModerationLabel.TaxonomyLevel': 'not a coordinate',
  'MouthOpen.Confidence': 'not a coordinate',
  'Mustache.Confidence': 'not a coordinate',
  'Pose.Pitch': 'not a coordinate',
  'Pose.Roll': 'not a coordinate',
  'Pose.Yaw': 'not a coordinate',
  'ProtectiveEquipmentBodyPart.Confidence': 'not a coordinate',
  'ProtectiveEquipmentPerson.Confidence': 'not a coordinate',
  'ProtectiveEquipmentPerson.Id': 'not a coordinate',
  'ProtectiveEquipmentSummary.PersonsIndeterminate': 'not a coordinate',
  'ProtectiveEquipmentSummary.PersonsWithRequiredEquipment': 'not a coordinate',
  'ProtectiveEquipmentSummary.PersonsWithoutRequiredEquipment': 'not a coordinate',
  'SearchFacesByImageResponse.SearchedFaceConfidence': 'not a coordinate',
  'Smile.Confidence': 'not a coordinate',
  'Sunglasses.Confidence': 'not a coordinate',
  'TextDetection.Confidence': 'not a coordinate',
  'TextDetection.Id': 'not a coordinate',
  'TextDetection.ParentId': 'not a coordinate',
  'UserMatch.Similarity': 'not a coordinate',
};

interface Member {
  name: string;
  type: string;
  doc: string;
}

const plain = (doc: string | undefined) => (doc ?? '').replace(/<[^>]+>|[\s*/]+/g, ' ').trim();

/** The SDK's model declarations: interface name -> members with their type text and documentation; and its own doc. */
function sdkModel(): { interfaces: Map<string, Member[]>; docs: Map<string, string> } {
  const require = createRequire(import.meta.url);
  const root = path.dirname(require.resolve('@aws-sdk/client-rekognition/package.json'));
  const interfaces = new Map<string, Member[]>();
  const docs = new Map<string, string>();
  for (const file of ['models_0.d.ts', 'models_1.d.ts']) {
    const text = readFileSync(path.join(root, 'dist-types/models', file), 'utf8');
    for (const [, doc, name] of text.matchAll(/\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\s*export interface (\w+)/g)) {
      docs.set(name!, plain(doc));
    }
    for (const [, name, body] of text.matchAll(/export interface (\w+)(?: extends [^{]+)? \{([\s\S]*?)\n\}/g)) {
      const members = [...body!.matchAll(/(\/\*\*[\s\S]*?\*\/)?\s*(\w+)\??: ([^;]+);/g)].map(
        ([, doc, member, type]) => ({
          name: member!,
          type: type!,
          doc: plain(doc),
        }),
      );
      interfaces.set(name!, members);
    }
  }
  return { interfaces, docs };
}

describe('Rekognition answers carry ratios only: nothing to map back', () => {
  const { interfaces: model, docs } = sdkModel();
  const reachable = new Map<string, Member>();
  const walk = (name: string, seen: Set<string>) => {
    if (seen.has(name)) return;
    seen.add(name);
    for (const member of model.get(name) ?? []) {
      if (/\bnumber\b/.test(member.type)) reachable.set(`${name}.${member.name}`, member);
      for (const [type] of member.type.matchAll(/\b[A-Z]\w+\b/g)) if (model.has(type)) walk(type, seen);
    }
  };
  for (const operation of rekognition.operations) {
    assert.ok(model.has(`${operation.name}Response`), `${operation.name}Response in the SDK model`);
    walk(`${operation.name}Response`, new Set());
  }

  test('every numeric answer field of every intercepted operation is known, and none is in pixels', () => {
    assert.deepEqual([...reachable.keys()].sort(), Object.keys(NUMERIC_FIELDS).sort());
  });

  test('the coordinates are documented as ratios of the image', () => {
    for (const [field, kind] of Object.entries(NUMERIC_FIELDS)) {
      if (kind !== 'ratio of the image' || field.startsWith('Point.')) continue;
      assert.match(
        reachable.get(field)!.doc,
        /as a ratio of (the )?(overall )?image (width|height)|ratio of the (width|height) of the image/,
        field,
      );
    }
    assert.match(docs.get('Point') ?? '', /X and Y values are ratios of the overall image size/, 'Polygon points');
    assert.match(docs.get('BoundingBox') ?? '', /ratios of the overall image size/, 'bounding boxes');
  });

  test('so the provider rewrites nothing', () => {
    assert.equal(testProvider(rekognition).mapAnswer, undefined);
  });
});
