import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FACEPP_LIMITS, facepp } from '../../src/providers/facepp/index.ts';
import { parseMultipart } from '../../src/providers/multipart.ts';
import { type BufferedRequest, ProxyError } from '../../src/providers/types.ts';
import { testProvider } from '../helpers/providers.ts';

const provider = testProvider(facepp, { maxBodyBytes: 2 * 1024 * 1024 });

// Stand-in image bytes holding CRLF and dashes, so framing mistakes would show; the provider never decodes images.
const JPEG = Buffer.concat([
  Buffer.from([0xff, 0xd8, 0xff, 0xe0]),
  Buffer.from('\r\n--body\r\n'),
  Buffer.from([0xff, 0xd9]),
]);
const OTHER = Buffer.from([0xff, 0xd8, 0x01, 0x02, 0xff, 0xd9]);
const SMALLER = Buffer.from([0xff, 0xd8, 0x00, 0xff, 0xd9]);
const BOUNDARY = '------------------------4ba2d1bd3a9a2f10';

type Field = [name: string, value: string] | [name: string, file: Buffer, filename: string];

/** A body laid out byte for byte the way `curl -F name=value -F name=@file` writes it (checked against curl 7.88). */
function curlForm(fields: Field[]): Buffer {
  const pieces: Buffer[] = [];
  for (const [name, value, filename] of fields) {
    const head =
      filename === undefined
        ? `Content-Disposition: form-data; name="${name}"`
        : `Content-Disposition: form-data; name="${name}"; filename="${filename}"\r\nContent-Type: image/jpeg`;
    pieces.push(Buffer.from(`--${BOUNDARY}\r\n${head}\r\n\r\n`), Buffer.from(value), Buffer.from('\r\n'));
  }
  pieces.push(Buffer.from(`--${BOUNDARY}--\r\n`));
  return Buffer.concat(pieces);
}

function multipartRequest(fields: Field[], path = '/facepp/v3/detect'): BufferedRequest {
  const body = curlForm(fields);
  return {
    method: 'POST',
    url: path,
    headers: {
      host: 'localhost:8080',
      'user-agent': 'curl/7.88.1',
      accept: '*/*',
      'content-length': String(body.length),
      'content-type': `multipart/form-data; boundary=${BOUNDARY}`,
    },
    body,
  };
}

function formRequest(body: string, path = '/facepp/v3/detect'): BufferedRequest {
  return {
    method: 'POST',
    url: path,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: Buffer.from(body, 'latin1'),
  };
}

const isBadRequest = (error: unknown) => error instanceof ProxyError && error.code === 'BAD_REQUEST';
const operationOf = (request: BufferedRequest) => {
  const operation = provider.imageOperation(request);
  assert.ok(operation, 'an image operation');
  return operation;
};

describe('Face++ routing', () => {
  test('claims the three Face++ path prefixes and nothing else', () => {
    const head = (url: string) => ({ method: 'POST', url, headers: {} });
    assert.ok(provider.matches(head('/facepp/v3/detect')));
    assert.ok(provider.matches(head('/imagepp/beta/detectsceneandobject')));
    assert.ok(provider.matches(head('/humanbodypp/v1/detect?x=1')));
    assert.ok(!provider.matches(head('/rest/2.0/face/v3/detect')));
    assert.ok(!provider.matches(head('/')));
    assert.ok(!provider.matches(head('/faceppx/v3/detect')));
  });

  test('names image operations by their path, for form posts only', () => {
    const multipart = { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` };
    const op = (method: string, url: string, headers: Record<string, string> = multipart) =>
      provider.imageOperation({ method, url, headers })?.name;
    assert.equal(op('POST', '/facepp/v3/detect'), 'facepp/v3/detect');
    assert.equal(op('POST', '/facepp/v3/compare/'), 'facepp/v3/compare');
    assert.equal(op('POST', '/imagepp/beta/detectsceneandobject?trace=1'), 'imagepp/beta/detectsceneandobject');
    assert.equal(
      op('POST', '/facepp/v3/detect', { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' }),
      'facepp/v3/detect',
    );
    assert.equal(op('GET', '/facepp/v3/detect'), undefined);
    assert.equal(op('POST', '/facepp/v3/detect', { 'content-type': 'application/json' }), undefined);
    assert.equal(op('POST', '/facepp/v3/detect', {}), undefined);
    assert.equal(op('POST', '/facepp/v3/faceset/create'), undefined, 'no image: streams through');
    assert.equal(op('POST', '/facepp/v3/face/analyze'), undefined, 'works on face tokens');
  });

  test('forwards to the configured origin whatever the Host says', () => {
    assert.equal(
      provider.upstreamOrigin({ method: 'POST', url: '/facepp/v3/detect', headers: { host: 'evil.example' } }),
      'https://api-us.faceplusplus.com',
    );
    assert.equal(provider.bufferAll, false);
    assert.equal(provider.maxBodyBytes, 2 * 1024 * 1024);
  });
});

describe('Face++ multipart', () => {
  const curlDetect: Field[] = [
    ['api_key', 'K'],
    ['api_secret', 'S'],
    ['image_file', JPEG, 'x.jpg'],
    ['return_attributes', 'gender'],
  ];

  test('finds the uploaded file of a curl request and swaps only its bytes', () => {
    const request = multipartRequest(curlDetect);
    const extracted = provider.extract(request, operationOf(request));
    assert.ok(extracted);
    assert.ok(extracted?.slots.every((slot) => slot.operation.name === 'facepp/v3/detect'));
    assert.deepEqual(
      extracted.slots.map((s) => s.field),
      ['image_file'],
    );
    assert.ok(extracted.slots[0]!.bytes.equals(JPEG));

    const outgoing = extracted.rebuild(new Map([['image_file', SMALLER]]));
    const expected = curlForm([
      ['api_key', 'K'],
      ['api_secret', 'S'],
      ['image_file', SMALLER, 'x.jpg'],
      ['return_attributes', 'gender'],
    ]);
    assert.ok(outgoing.body.equals(expected), 'same boundary, same part headers, same order; only the image changed');
    assert.equal(outgoing.method, 'POST');
    assert.equal(outgoing.url, '/facepp/v3/detect');
    assert.equal(outgoing.headers['content-type'], `multipart/form-data; boundary=${BOUNDARY}`);
    assert.equal(outgoing.headers.host, undefined, 'host is the upstream one, set by the caller');
    assert.equal(outgoing.headers['content-length'], undefined, 'set by the caller');
    assert.equal(outgoing.headers['user-agent'], 'curl/7.88.1');
  });

  test('a rebuild without replacements is the original body', () => {
    const request = multipartRequest(curlDetect);
    const extracted = provider.extract(request, operationOf(request))!;
    assert.ok(extracted.rebuild(new Map()).body.equals(request.body));
  });

  test('compare: both numbered images, each from the field the API would read', () => {
    const request = multipartRequest(
      [
        ['api_key', 'K'],
        ['image_base64_1', OTHER.toString('base64')],
        ['api_secret', 'S'],
        ['image_file1', JPEG, 'a.jpg'],
        ['image_base64_2', OTHER.toString('base64')],
        ['image_url2', 'https://example.com/b.jpg'],
      ],
      '/facepp/v3/compare',
    );
    const extracted = provider.extract(request, operationOf(request));
    assert.ok(extracted);
    assert.deepEqual(
      extracted.slots.map((s) => [s.field, s.bytes.toString('hex')]),
      [
        ['image_file1', JPEG.toString('hex')],
        ['image_base64_2', OTHER.toString('hex')],
      ],
    );
    const outgoing = extracted.rebuild(
      new Map([
        ['image_file1', SMALLER],
        ['image_base64_2', SMALLER],
      ]),
    );
    const expected = curlForm([
      ['api_key', 'K'],
      ['image_base64_1', OTHER.toString('base64')],
      ['api_secret', 'S'],
      ['image_file1', SMALLER, 'a.jpg'],
      ['image_base64_2', SMALLER.toString('base64')],
      ['image_url2', 'https://example.com/b.jpg'],
    ]);
    assert.ok(outgoing.body.equals(expected), 'the losing image_base64_1 stays as sent');
  });

  test('a binary image_file wins over image_base64; only the winner is recompressed', () => {
    const request = multipartRequest([
      ['image_base64', OTHER.toString('base64')],
      ['image_file', JPEG, 'x.jpg'],
    ]);
    const extracted = provider.extract(request, operationOf(request))!;
    assert.deepEqual(
      extracted.slots.map((s) => s.field),
      ['image_file'],
    );
  });

  test('image_base64 wins over image_url', () => {
    const request = multipartRequest([
      ['image_url', 'https://example.com/x.jpg'],
      ['image_base64', `${OTHER.toString('base64').slice(0, 4)}\r\n${OTHER.toString('base64').slice(4)}`],
    ]);
    const extracted = provider.extract(request, operationOf(request))!;
    assert.deepEqual(
      extracted.slots.map((s) => [s.field, s.bytes.toString('hex')]),
      [['image_base64', OTHER.toString('hex')]],
      'line-wrapped base64 is read',
    );
    const [part] = parseMultipart(extracted.rebuild(new Map([['image_base64', SMALLER]])).body, BOUNDARY).parts.slice(
      1,
    );
    assert.equal(part!.content.toString(), SMALLER.toString('base64'), 'standard base64, unwrapped');
  });

  test('a request with only an image_url passes through (the proxy never fetches URLs)', () => {
    const request = multipartRequest([
      ['api_key', 'K'],
      ['image_url', 'https://example.com/x.jpg'],
    ]);
    assert.equal(provider.extract(request, operationOf(request)), undefined);
  });

  test('images the proxy cannot read unambiguously pass through', () => {
    const twice = multipartRequest([
      ['image_file', JPEG, 'a.jpg'],
      ['image_file', OTHER, 'b.jpg'],
    ]);
    assert.equal(provider.extract(twice, operationOf(twice)), undefined, 'repeated image field');
    const dataUrl = multipartRequest([['image_base64', `data:image/jpeg;base64,${OTHER.toString('base64')}`]]);
    assert.equal(provider.extract(dataUrl, operationOf(dataUrl)), undefined, 'data: URL (undocumented by Face++)');
    const empty = multipartRequest([
      ['image_file', Buffer.alloc(0), 'empty.jpg'],
      ['image_base64', OTHER.toString('base64')],
    ]);
    assert.equal(provider.extract(empty, operationOf(empty)), undefined, 'empty file part');
  });

  test('detect ignores compare-style numbered fields', () => {
    const request = multipartRequest([['image_file1', JPEG, 'a.jpg']]);
    assert.equal(provider.extract(request, operationOf(request)), undefined);
  });

  test('malformed bodies are BAD_REQUEST', () => {
    const good = multipartRequest(curlDetect);
    const truncated = { ...good, body: good.body.subarray(0, good.body.length - 60) };
    assert.throws(() => provider.extract(truncated, provider.op('facepp/v3/detect')), isBadRequest, 'truncated');
    const noBoundary = { ...good, headers: { 'content-type': 'multipart/form-data' } };
    assert.throws(() => provider.extract(noBoundary, provider.op('facepp/v3/detect')), isBadRequest, 'no boundary');
    const badBase64 = multipartRequest([['image_base64', 'not*base64!']]);
    assert.throws(() => provider.extract(badBase64, provider.op('facepp/v3/detect')), isBadRequest, 'bad base64');
  });
});

describe('Face++ urlencoded', () => {
  const b64 = Buffer.from([0xfb, 0xef, 0xff, 0x01, 0x02]).toString('base64'); // holds + and / and =
  // Python requests / urllib.parse.urlencode style: quote_plus escapes + / =.
  const pythonBody = `api_key=K&api_secret=S&image_base64=${encodeURIComponent(b64)}&return_landmark=1&return_attributes=gender%2Cage`;

  test('reads image_base64 and replaces only its value, escaped', () => {
    assert.ok(b64.includes('+') && b64.includes('/') && b64.includes('='));
    const request = formRequest(pythonBody);
    const extracted = provider.extract(request, operationOf(request));
    assert.ok(extracted);
    assert.deepEqual(
      extracted.slots.map((s) => [s.field, s.bytes.toString('hex')]),
      [['image_base64', 'fbefff0102']],
    );
    const replacement = Buffer.from([0xff, 0xff, 0xfe]);
    const outgoing = extracted.rebuild(new Map([['image_base64', replacement]]));
    assert.equal(
      outgoing.body.toString(),
      `api_key=K&api_secret=S&image_base64=${encodeURIComponent('///+')}&return_landmark=1&return_attributes=gender%2Cage`,
    );
    assert.equal(outgoing.headers['content-type'], 'application/x-www-form-urlencoded');
  });

  test('a client that left + unescaped still means +', () => {
    const request = formRequest(`image_base64=${b64}&api_key=K`);
    const extracted = provider.extract(request, operationOf(request))!;
    assert.equal(extracted.slots[0]!.bytes.toString('hex'), 'fbefff0102');
  });

  test('compare with base64 in both slots; url-only slots and other fields untouched', () => {
    const request = formRequest(
      `image_url1=https%3A%2F%2Fexample.com%2Fa.jpg&image_base64_2=${encodeURIComponent(b64)}&api_key=K`,
      '/facepp/v3/compare',
    );
    const extracted = provider.extract(request, operationOf(request))!;
    assert.deepEqual(
      extracted.slots.map((s) => s.field),
      ['image_base64_2'],
    );
    const outgoing = extracted.rebuild(new Map([['image_base64_2', Buffer.from('hi')]]));
    assert.equal(
      outgoing.body.toString(),
      'image_url1=https%3A%2F%2Fexample.com%2Fa.jpg&image_base64_2=aGk%3D&api_key=K',
    );
  });

  test('url only passes through; broken escapes and bad base64 are BAD_REQUEST', () => {
    const urlOnly = formRequest('image_url=https%3A%2F%2Fexample.com%2Fa.jpg&api_key=K');
    assert.equal(provider.extract(urlOnly, operationOf(urlOnly)), undefined);
    assert.throws(
      () => provider.extract(formRequest('image_base64=%E0%A4%A'), provider.op('facepp/v3/detect')),
      isBadRequest,
    );
    assert.throws(
      () => provider.extract(formRequest('image_base64=abc'), provider.op('facepp/v3/detect')),
      isBadRequest,
    );
  });
});

describe('Face++ answers', () => {
  const json = (value: unknown) => Buffer.from(JSON.stringify(value));

  test('detect: face rectangles in pixels', () => {
    const body = json({
      request_id: '1,a',
      time_used: 100,
      image_id: 'i',
      face_num: 2,
      faces: [
        { face_token: 't1', face_rectangle: { top: 10, left: 20, width: 30, height: 40 } },
        { face_token: 't2', face_rectangle: { top: 1, left: 2, width: 3, height: 4 }, attributes: { gender: 'Male' } },
      ],
    });
    assert.deepEqual(provider.answer('facepp/v3/detect', 200, body), {
      labels: [],
      faces: [
        { box: { left: 20, top: 10, width: 30, height: 40 }, score: 1 },
        { box: { left: 2, top: 1, width: 3, height: 4 }, score: 1 },
      ],
    });
  });

  test('detectsceneandobject: scenes and objects as labels, 0..1, best first', () => {
    const body = json({
      scenes: [{ value: 'beach', confidence: 60.5 }],
      objects: [
        { value: 'dog', confidence: 91 },
        { value: 'ball', confidence: 12 },
      ],
      image_id: 'i',
      request_id: 'r',
    });
    assert.deepEqual(provider.answer('imagepp/beta/detectsceneandobject', 200, body)?.labels, [
      { name: 'dog', score: 0.91 },
      { name: 'beach', score: 0.605 },
      { name: 'ball', score: 0.12 },
    ]);
  });

  test('compare: each image its own faces, both the match confidence', () => {
    const rect = { top: 1, left: 2, width: 3, height: 4 };
    const body = json({ confidence: 97.5, thresholds: { '1e-3': 62 }, faces1: [{ face_rectangle: rect }], faces2: [] });
    const first = provider.answer('facepp/v3/compare', 200, body, 'image_file1');
    const second = provider.answer('facepp/v3/compare', 200, body, 'image_base64_2');
    assert.deepEqual(first?.labels, [{ name: 'match', score: 0.975 }]);
    assert.deepEqual(second?.labels, [{ name: 'match', score: 0.975 }]);
    assert.deepEqual(first?.faces, [{ box: { left: 2, top: 1, width: 3, height: 4 }, score: 1 }]);
    assert.deepEqual(second?.faces, []);
  });

  test('recognizetext: text lines joined', () => {
    const body = json({
      result: [
        { type: 'textline', value: 'HELLO' },
        { type: 'textline', value: 'WORLD' },
      ],
    });
    assert.equal(provider.answer('imagepp/v1/recognizetext', 200, body)?.text, 'HELLO\nWORLD');
  });

  test('errors and unreadable bodies give no answer', () => {
    const error = json({ time_used: 3, error_message: 'MISSING_ARGUMENTS: image_url, image_file, image_base64' });
    assert.equal(provider.answer('facepp/v3/detect', 400, error), undefined);
    assert.equal(provider.answer('facepp/v3/detect', 200, error), undefined);
    assert.equal(provider.answer('facepp/v3/detect', 500, json({ faces: [] })), undefined);
    assert.equal(provider.answer('facepp/v3/detect', 200, Buffer.from('<html>')), undefined);
  });
});

describe('Face++ errors and limits', () => {
  test('the proxy errors in Face++ shape', () => {
    const bad = provider.errorReply(new ProxyError('BAD_REQUEST', 400, 'image_base64 is not valid base64'));
    assert.equal(bad.status, 400);
    assert.equal(bad.headers['content-type'], 'application/json');
    const body = JSON.parse(bad.body);
    assert.equal(body.time_used, 0);
    assert.equal(body.error_message, 'BAD_ARGUMENTS: image_base64 is not valid base64');
    assert.match(body.request_id, /^\d+,[0-9a-f-]{36}$/);

    const big = provider.errorReply(new ProxyError('BODY_TOO_LARGE', 413, 'too large'));
    assert.deepEqual([big.status, big.body], [413, 'Request Entity Too Large']);
    assert.match(big.headers['content-type']!, /^text\/plain/);

    const down = provider.errorReply(new ProxyError('UPSTREAM_UNREACHABLE', 502, 'connect ECONNREFUSED 10.0.0.1:443'));
    assert.equal(down.status, 502);
    assert.equal(JSON.parse(down.body).error_message, 'INTERNAL_ERROR', 'no upstream internals echoed');
    assert.equal(provider.errorReply(new ProxyError('UPSTREAM_TIMEOUT', 504, 'x')).status, 504);
    assert.equal(provider.errorReply(new ProxyError('AUTH_FAILED', 401, 'x')).status, 401);
  });

  test('documented limits, overridable', () => {
    assert.deepEqual(provider.limits('facepp/v3/detect'), FACEPP_LIMITS);
    assert.deepEqual(FACEPP_LIMITS, { minSide: 48, maxSide: 4096, maxBytes: 1_560_576 });
    const custom = testProvider(facepp, { imageLimits: 'facepp:maxBytes=2000000' });
    assert.deepEqual(custom.limits('facepp/v3/detect'), { minSide: 48, maxSide: 4096, maxBytes: 2_000_000 });
  });
});
