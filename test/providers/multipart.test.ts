import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { boundaryOf, parseMultipart, spliceParts } from '../../src/providers/multipart.ts';
import { ProxyError } from '../../src/providers/types.ts';

// Image bytes that look like framing: CRLF, dashes, and a fake boundary start inside the content.
const FILE = Buffer.concat([
  Buffer.from([0xff, 0xd8, 0xff, 0xe0]),
  Buffer.from('fakejpeg+/=\r\n--x'),
  Buffer.from([0xff, 0xd9]),
]);
const BOUNDARY = '------------------------f68561c4634b5818';

/** Captured from `curl -F api_key=K -F api_secret=S -F image_file=@x.jpg -F return_attributes=gender` (curl 7.88.1). */
const CURL_BODY = Buffer.concat([
  Buffer.from(
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="api_key"\r\n\r\nK\r\n` +
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="api_secret"\r\n\r\nS\r\n` +
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="image_file"; filename="x.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`,
  ),
  FILE,
  Buffer.from(
    `\r\n--${BOUNDARY}\r\nContent-Disposition: form-data; name="return_attributes"\r\n\r\ngender\r\n--${BOUNDARY}--\r\n`,
  ),
]);

const isBadRequest = (error: unknown) => error instanceof ProxyError && error.code === 'BAD_REQUEST';

describe('multipart', () => {
  test('reads the parts curl sends, with names, file name, content type and exact content', () => {
    assert.equal(CURL_BODY.length, 520, 'same length as the captured request');
    const { parts } = parseMultipart(CURL_BODY, BOUNDARY);
    assert.deepEqual(
      parts.map((p) => [p.name, p.filename, p.contentType, p.content.toString('latin1')]),
      [
        ['api_key', undefined, undefined, 'K'],
        ['api_secret', undefined, undefined, 'S'],
        ['image_file', 'x.jpg', 'image/jpeg', FILE.toString('latin1')],
        ['return_attributes', undefined, undefined, 'gender'],
      ],
    );
  });

  test('splicing new content into one part changes only that content', () => {
    const { parts } = parseMultipart(CURL_BODY, BOUNDARY);
    const image = parts.find((p) => p.name === 'image_file')!;
    const smaller = Buffer.from('NEW');
    const rebuilt = spliceParts(CURL_BODY, new Map([[image, smaller]]));
    const expected = Buffer.concat([CURL_BODY.subarray(0, image.start), smaller, CURL_BODY.subarray(image.end)]);
    assert.ok(rebuilt.equals(expected));
    const reparsed = parseMultipart(rebuilt, BOUNDARY).parts;
    assert.deepEqual(
      reparsed.map((p) => p.name),
      ['api_key', 'api_secret', 'image_file', 'return_attributes'],
    );
    assert.equal(reparsed[2]!.content.toString(), 'NEW');
  });

  test('splicing nothing gives the original bytes back', () => {
    assert.ok(spliceParts(CURL_BODY, new Map()).equals(CURL_BODY));
  });

  test('reads what fetch/undici FormData serialises', async () => {
    const form = new FormData();
    form.append('api_key', 'K');
    form.append('image_file', new Blob([FILE], { type: 'image/png' }), 'photo "1".png');
    const request = new Request('http://x/', { method: 'POST', body: form });
    const body = Buffer.from(await request.arrayBuffer());
    const boundary = boundaryOf(request.headers.get('content-type')!)!;
    const { parts } = parseMultipart(body, boundary);
    assert.equal(parts.length, 2);
    assert.equal(parts[1]!.name, 'image_file');
    assert.equal(parts[1]!.filename, 'photo %221%22.png', 'undici percent-escapes quotes in file names');
    assert.equal(parts[1]!.contentType, 'image/png');
    assert.ok(parts[1]!.content.equals(FILE));
  });

  test('keeps preamble and epilogue, and reads a part without headers', () => {
    const body = Buffer.from(
      'preamble text\r\n--b\r\n\r\nheaderless\r\n--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--b--\r\nepilogue',
    );
    const { parts } = parseMultipart(body, 'b');
    assert.deepEqual(
      parts.map((p) => [p.name, p.content.toString()]),
      [
        ['', 'headerless'],
        ['a', '1'],
      ],
    );
    const rebuilt = spliceParts(body, new Map([[parts[1]!, Buffer.from('22')]]));
    assert.equal(rebuilt.toString(), body.toString().replace('\r\n1\r\n', '\r\n22\r\n'));
  });

  test('reads quoted names with escapes and folded headers', () => {
    const body = Buffer.from(
      '--b\r\nContent-Disposition: form-data;\r\n name="a\\"b"; filename="c;d.jpg"\r\ncontent-type:image/jpeg\r\n\r\nx\r\n--b--',
    );
    const [part] = parseMultipart(body, 'b').parts;
    assert.deepEqual([part!.name, part!.filename, part!.contentType], ['a"b', 'c;d.jpg', 'image/jpeg']);
  });

  test('finds the boundary in a Content-Type, quoted or not', () => {
    assert.equal(boundaryOf(`multipart/form-data; boundary=${BOUNDARY}`), BOUNDARY);
    assert.equal(boundaryOf('multipart/form-data; charset=utf-8; boundary="a b;c"'), 'a b;c');
    assert.equal(boundaryOf('multipart/form-data'), undefined);
    assert.equal(boundaryOf(`multipart/form-data; boundary=${'x'.repeat(71)}`), undefined);
  });

  test('refuses broken framing as BAD_REQUEST', () => {
    const cases = {
      'no boundary at all': 'just text',
      'no close delimiter': '--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n1',
      'headers never end': '--b\r\nContent-Disposition: form-data; name="a"\r\n--b--',
      'boundary line not ended by CRLF': '--bXYZ\r\n\r\n1\r\n--b--',
      'header line without a colon': '--b\r\nnot a header\r\n\r\n1\r\n--b--',
    };
    for (const [why, text] of Object.entries(cases)) {
      assert.throws(() => parseMultipart(Buffer.from(text), 'b'), isBadRequest, why);
    }
    assert.throws(() => parseMultipart(CURL_BODY.subarray(0, 300), BOUNDARY), isBadRequest, 'truncated upload');
  });
});
