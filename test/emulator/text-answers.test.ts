import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RatioPoint, TextLine, TextWord } from '../../src/emulator/models.ts';
import {
  baiduText,
  DETECT_TEXT_LIMITS,
  type DetectTextParams,
  detectTextParams,
  rekognitionText,
  textDirection,
} from '../../src/emulator/text-answers.ts';

/** An axis-aligned quad, clockwise from top-left, ratios. */
const quad = (left: number, top: number, width: number, height: number): RatioPoint[] => [
  { x: left, y: top },
  { x: left + width, y: top },
  { x: left + width, y: top + height },
  { x: left, y: top + height },
];

/** A line of words laid out left to right from `left`, each `w` wide with a gap of `gap`, at `top`, `h` high. */
function line(words: [string, number][], left: number, top: number, w = 0.1, h = 0.05, gap = 0.02): TextLine {
  const placed: TextWord[] = words.map(([text, confidence], i) => ({
    text,
    confidence,
    polygon: quad(left + i * (w + gap), top, w, h),
  }));
  const width = words.length * w + (words.length - 1) * gap;
  return {
    text: words.map(([t]) => t).join(' '),
    confidence: words.reduce((s, [, c]) => s + c, 0) / words.length,
    polygon: quad(left, top, width, h),
    words: placed,
    charConfidences: words.map(([, c]) => c),
  };
}

/** Every number of `actual` within 1e-9 of `expected`'s, same keys. */
function near(actual: Record<string, number>, expected: Record<string, number>) {
  assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort());
  for (const [k, v] of Object.entries(expected))
    assert.ok(Math.abs(actual[k]! - v) < 1e-9, `${k}: ${actual[k]} vs ${v}`);
}

const params = (overrides: Partial<DetectTextParams> = {}): DetectTextParams => ({
  ...(detectTextParams(undefined) as DetectTextParams),
  ...overrides,
});

describe('Rekognition DetectText answers', () => {
  const lines = [
    line(
      [
        ['SPEED', 0.99],
        ['LIMIT', 0.95],
      ],
      0.1,
      0.1,
    ),
    line(
      [
        ['30', 0.97],
        ['mph', 0.6],
      ],
      0.1,
      0.3,
    ),
  ];

  it('lists every LINE first, then every WORD with its line as ParentId; ratios, confidences 0-100', () => {
    const { TextDetections, TextModelVersion } = rekognitionText(lines, params({ minConfidence: 0 }));
    assert.equal(TextModelVersion, '3.0');
    assert.deepEqual(
      TextDetections.map((d) => [d.Type, d.Id, d.ParentId, d.DetectedText]),
      [
        ['LINE', 0, undefined, 'SPEED LIMIT'],
        ['LINE', 1, undefined, '30 mph'],
        ['WORD', 2, 0, 'SPEED'],
        ['WORD', 3, 0, 'LIMIT'],
        ['WORD', 4, 1, '30'],
        ['WORD', 5, 1, 'mph'],
      ],
    );
    const speed = TextDetections[2]!;
    assert.equal(speed.Confidence, 99);
    near(speed.Geometry.BoundingBox, { Width: 0.1, Height: 0.05, Left: 0.1, Top: 0.1 });
    near(speed.Geometry.Polygon[2]!, { X: 0.2, Y: 0.15 });
    assert.equal(TextDetections[0]!.Confidence, 97);
  });

  it('drops words under the default MinConfidence of 80; a line reads as the words it keeps', () => {
    const { TextDetections } = rekognitionText(lines, params());
    assert.equal(DETECT_TEXT_LIMITS.defaultMinConfidence, 80);
    const texts = TextDetections.map((d) => d.DetectedText);
    assert.deepEqual(texts, ['SPEED LIMIT', '30', 'SPEED', 'LIMIT', '30']);
    // The kept part of the line: from the first kept word's leading edge to the last one's trailing edge.
    near(TextDetections[1]!.Geometry.BoundingBox, { Width: 0.1, Height: 0.05, Left: 0.1, Top: 0.3 });
  });

  it('drops a line whose words are all filtered out, and filters by word box height and width', () => {
    const tall = rekognitionText(lines, params({ minConfidence: 0, minBoxHeight: 0.06 }));
    assert.deepEqual(tall.TextDetections, []);
    const wide = rekognitionText(
      [line([['a', 0.9]], 0, 0, 0.01), line([['word', 0.9]], 0, 0.5, 0.2)],
      params({ minBoxWidth: 0.05 }),
    );
    assert.deepEqual(
      wide.TextDetections.map((d) => [d.Type, d.DetectedText, d.ParentId]),
      [
        ['LINE', 'word', undefined],
        ['WORD', 'word', 0],
      ],
    );
  });

  it('keeps words more than half inside a region of interest (box or polygon)', () => {
    // SPEED spans x 0.10-0.20, LIMIT 0.22-0.32. A box over x 0.16-0.5 holds 40% of SPEED and all of LIMIT.
    const box = rekognitionText(lines, params({ regions: [{ box: { left: 0.16, top: 0, width: 0.34, height: 1 } }] }));
    assert.deepEqual(
      box.TextDetections.filter((d) => d.Type === 'WORD').map((d) => d.DetectedText),
      ['LIMIT'],
    );
    // A triangle over the first line (its edge x = 0.8 - 2.5y passes x 0.425 at the line's foot), not the second.
    const triangle = [
      { x: 0, y: 0 },
      { x: 0.8, y: 0 },
      { x: 0, y: 0.32 },
    ];
    const polygon = rekognitionText(lines, params({ regions: [{ polygon: triangle }] }));
    assert.deepEqual(
      polygon.TextDetections.map((d) => d.DetectedText),
      ['SPEED LIMIT', 'SPEED', 'LIMIT'],
    );
    const none = rekognitionText(
      lines,
      params({ regions: [{ box: { left: 0.9, top: 0.9, width: 0.1, height: 0.1 } }] }),
    );
    assert.deepEqual(none.TextDetections, []);
  });

  it('returns at most 100 words, in reading order', () => {
    const many = Array.from({ length: 30 }, (_, i) =>
      line(
        [
          [`a${i}`, 0.9],
          [`b${i}`, 0.9],
          [`c${i}`, 0.9],
          [`d${i}`, 0.9],
        ],
        0,
        i / 31,
        0.05,
        0.01,
      ),
    );
    const { TextDetections } = rekognitionText(many, params());
    const words = TextDetections.filter((d) => d.Type === 'WORD');
    assert.equal(words.length, DETECT_TEXT_LIMITS.maxWords);
    assert.equal(words.at(-1)!.DetectedText, 'd24');
    assert.equal(TextDetections.filter((d) => d.Type === 'LINE').length, 25);
  });

  it('checks Filters as AWS documents them', () => {
    assert.deepEqual(detectTextParams({ WordFilter: { MinConfidence: 50, MinBoundingBoxHeight: 0.1 } }), {
      minConfidence: 50,
      minBoxHeight: 0.1,
      minBoxWidth: 0,
      regions: [],
    });
    const region = { BoundingBox: { Left: 0, Top: 0, Width: 0.5, Height: 0.5 } };
    for (const [filters, field] of [
      ['x', 'Filters'],
      [{ WordFilter: { MinConfidence: 101 } }, 'Filters.WordFilter.MinConfidence'],
      [{ WordFilter: { MinBoundingBoxWidth: -0.1 } }, 'Filters.WordFilter.MinBoundingBoxWidth'],
      [{ WordFilter: { MinBoundingBoxHeight: '0.1' } }, 'Filters.WordFilter.MinBoundingBoxHeight'],
      [{ RegionsOfInterest: Array.from({ length: 11 }, () => region) }, 'Filters.RegionsOfInterest'],
      [
        { RegionsOfInterest: [region, { BoundingBox: { Left: 2, Top: 0, Width: 1, Height: 1 } }] },
        'Filters.RegionsOfInterest[1]',
      ],
      [{ RegionsOfInterest: [{ Polygon: [{ X: 0, Y: 0 }] }] }, 'Filters.RegionsOfInterest[0]'],
    ] as const) {
      assert.deepEqual(detectTextParams(filters), { invalid: field }, JSON.stringify(filters));
    }
  });
});

describe('Baidu OCR answers', () => {
  const frame = { width: 1000, height: 500 };
  const lines = [
    line(
      [
        ['Total', 0.9],
        ['42.50', 0.7],
      ],
      0.1,
      0.1,
    ),
    line([['VAT', 0.8]], 0.1, 0.5),
  ];

  it('general_basic: words per line, top to bottom, and their count', () => {
    assert.deepEqual(
      baiduText(lines, frame, 7, { location: false, vertexes: false, probability: false, detectDirection: false }),
      {
        log_id: 7,
        words_result_num: 2,
        words_result: [{ words: 'Total 42.50' }, { words: 'VAT' }],
      },
    );
  });

  it('general: location in pixels of the image; vertexes_location and probability on request', () => {
    const out = baiduText(lines, frame, 1, {
      location: true,
      vertexes: true,
      probability: true,
      detectDirection: true,
    });
    const first = out.words_result[0]!;
    assert.deepEqual(first.location, { left: 100, top: 50, width: 220, height: 25 });
    assert.deepEqual(first.vertexes_location, [
      { x: 100, y: 50 },
      { x: 320, y: 50 },
      { x: 320, y: 75 },
      { x: 100, y: 75 },
    ]);
    // Characters 0.9 and 0.7 (this fixture has one per word): mean 0.8, variance 0.01.
    assert.deepEqual(first.probability, { average: 0.8, min: 0.7, variance: 0.01 });
    assert.equal(out.direction, 0);
  });

  it("detect_direction: the image's quarter turn from which way its lines read", () => {
    const turned = (polygon: RatioPoint[]): TextLine => ({ ...lines[0]!, polygon });
    // Reading upwards: the image was turned 90 degrees anticlockwise (Baidu's 1); downwards 3; right to left 2.
    const up = [
      { x: 0.1, y: 0.9 },
      { x: 0.1, y: 0.2 },
      { x: 0.2, y: 0.2 },
      { x: 0.2, y: 0.9 },
    ];
    assert.equal(textDirection([turned(up)], frame), 1);
    const down = [
      { x: 0.2, y: 0.2 },
      { x: 0.2, y: 0.9 },
      { x: 0.1, y: 0.9 },
      { x: 0.1, y: 0.2 },
    ];
    assert.equal(textDirection([turned(down)], frame), 3);
    const left = [
      { x: 0.9, y: 0.6 },
      { x: 0.1, y: 0.6 },
      { x: 0.1, y: 0.5 },
      { x: 0.9, y: 0.5 },
    ];
    assert.equal(textDirection([turned(left)], frame), 2);
    assert.equal(textDirection([], frame), -1);
  });
});
