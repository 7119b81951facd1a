'use strict';
// Handler tests: event shapes (sample / image / function URL / S3), error
// mapping, path traversal, logging.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { handler, isFunctionUrlEvent } = require('../index');
const { samplePath } = require('../sources');

const SAMPLES = path.join(__dirname, '..', 'samples');
const partialPng = fs.readFileSync(path.join(SAMPLES, 'partial.png'));

// Silence (and capture) the handler's log lines.
let logged = [];
test.beforeEach((t) => {
  logged = [];
  t.mock.method(console, 'log', (...args) => logged.push(args.join(' ')));
});

/** A Lambda function-URL (HTTP API v2.0) event as Swell builds it. */
function urlEvent({ method = 'POST', body = '', isBase64Encoded = false, headers = {}, query = {} } = {}) {
  const rawQueryString = new URLSearchParams(query).toString();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/',
    rawQueryString,
    headers: { host: '127.0.0.1:8080', 'user-agent': 'curl/8.5.0', ...headers },
    queryStringParameters: Object.keys(query).length ? query : undefined,
    requestContext: {
      accountId: 'default',
      requestId: 'req-1',
      domainName: '127.0.0.1',
      http: { method, path: '/', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'curl/8.5.0' },
      time: '21/Nov/2026:20:00:00 +0000',
      timeEpoch: 1795291200000,
    },
    body,
    isBase64Encoded,
  };
}

async function rejectsWith(promise, name, pattern) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.name, name, `${err.name}: ${err.message}`);
    assert.ok(err instanceof Error);
    assert.match(err.message, pattern);
    return true;
  });
}

test('{"sample": name} grades the named sample and logs one line', async () => {
  const r = await handler({ sample: 'complete.png' }, {});
  assert.equal(r.verdict, 'complete');
  assert.deepEqual(Object.keys(r).sort(), ['answeredRegions', 'decodeMs', 'gradeMs', 'height', 'inkCoverage', 'regions', 'totalRegions', 'verdict', 'width']);
  assert.deepEqual(Object.keys(r.regions[0]).sort(), ['answered', 'index', 'inkCoverage', 'textLines']);
  assert.equal(logged.length, 1);
  assert.match(logged[0], /^graded sample:complete\.png: verdict=complete answered=3\/3 /);
  assert.equal(JSON.parse(JSON.stringify(r)).verdict, 'complete', 'result is plain JSON');
});

test('{"image": base64} grades the decoded bytes (plain and data: URL)', async () => {
  const r = await handler({ image: partialPng.toString('base64') });
  assert.equal(r.verdict, 'partial');
  const r2 = await handler({ image: 'data:image/png;base64,' + partialPng.toString('base64') });
  assert.equal(r2.verdict, 'partial');
});

test('invalid images are thrown as InvalidImage errors for direct invokes', async () => {
  await rejectsWith(handler({ image: Buffer.from('GIF89a not a png').toString('base64') }), 'InvalidImage', /not a PNG/);
  const corrupt = Buffer.from(partialPng);
  corrupt[100] ^= 0xff;
  await rejectsWith(handler({ image: corrupt.toString('base64') }), 'InvalidImage', /CRC mismatch/);
  await rejectsWith(handler({ image: partialPng.subarray(0, 5000).toString('base64') }), 'InvalidImage', /truncated/);
  await rejectsWith(handler({ image: '***' }), 'InvalidRequest', /not valid base64/);
  await rejectsWith(handler({}), 'InvalidRequest', /nothing to grade/);
  await rejectsWith(handler('just a string'), 'InvalidRequest', /must be a JSON object/);
});

test('path traversal in "sample" is rejected before touching the file system', async () => {
  const attempts = ['../index.js', '../../../../etc/passwd', '/etc/passwd', 'samples/../../index.js', '..', '.', 'a/b.png', 'a\\..\\b.png', '', 'complete.png\0.txt', '.hidden'];
  for (const name of attempts) {
    assert.throws(() => samplePath(name), { name: 'InvalidRequest' }, JSON.stringify(name));
    await rejectsWith(handler({ sample: name }), 'InvalidRequest', /invalid sample name/);
  }
  await rejectsWith(handler({ sample: { toString: () => 'complete.png' } }), 'InvalidRequest', /invalid sample name/);
  assert.equal(samplePath('complete.png'), path.join(SAMPLES, 'complete.png'));
});

test('an unknown sample lists the available ones', async () => {
  await rejectsWith(handler({ sample: 'missing.png' }), 'InvalidRequest', /no such sample "missing.png" \(available: blank.png, complete-noisy.png, complete.png, partial.png\)/);
});

test('function URL: base64 PNG body -> 200 JSON result', async () => {
  const event = urlEvent({ body: partialPng.toString('base64'), isBase64Encoded: true, headers: { 'content-type': 'image/png' } });
  assert.ok(isFunctionUrlEvent(event));
  const res = await handler(event, {});
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.headers, { 'content-type': 'application/json' });
  assert.equal(typeof res.body, 'string');
  const body = JSON.parse(res.body);
  assert.equal(body.verdict, 'partial');
  assert.deepEqual(body.regions.map((g) => g.answered), [true, false, true]);
  assert.match(logged[0], /^graded upload\(\d+ bytes\): verdict=partial/);
});

test('function URL: invalid image -> 400 with an error JSON, not a function error', async () => {
  const res = await handler(urlEvent({ body: Buffer.from('not an image').toString('base64'), isBase64Encoded: true }));
  assert.equal(res.statusCode, 400);
  assert.equal(res.headers['content-type'], 'application/json');
  const body = JSON.parse(res.body);
  assert.equal(body.error.code, 'InvalidImage');
  assert.match(body.error.message, /not a PNG/);

  const truncated = await handler(urlEvent({ body: partialPng.subarray(0, 3000).toString('base64'), isBase64Encoded: true }));
  assert.equal(truncated.statusCode, 400);
  assert.match(JSON.parse(truncated.body).error.message, /truncated/);
});

test('function URL: GET ?sample= and JSON bodies work; traversal -> 400', async () => {
  const get = await handler(urlEvent({ method: 'GET', query: { sample: 'blank.png' } }));
  assert.equal(get.statusCode, 200);
  assert.equal(JSON.parse(get.body).verdict, 'blank');

  const jsonBody = await handler(urlEvent({ body: JSON.stringify({ sample: 'complete.png' }), headers: { 'content-type': 'application/json' } }));
  assert.equal(JSON.parse(jsonBody.body).verdict, 'complete');

  const traversal = await handler(urlEvent({ method: 'GET', query: { sample: '../index.js' } }));
  assert.equal(traversal.statusCode, 400);
  assert.equal(JSON.parse(traversal.body).error.code, 'InvalidRequest');

  const empty = await handler(urlEvent({ method: 'GET' }));
  assert.equal(empty.statusCode, 400);
  assert.match(JSON.parse(empty.body).error.message, /POST a PNG/);

  const badJson = await handler(urlEvent({ body: '{nope', headers: { 'content-type': 'application/json' } }));
  assert.equal(badJson.statusCode, 400);
});

test('function URL: isBase64Encoded decides how the body is read', async () => {
  const b64 = partialPng.toString('base64');
  const ok = await handler(urlEvent({ body: b64, isBase64Encoded: true, headers: { 'content-type': 'image/png' } }));
  assert.equal(ok.statusCode, 200);
  // The same text without the flag is taken literally: it is not a PNG.
  const literal = await handler(urlEvent({ body: b64, isBase64Encoded: false, headers: { 'content-type': 'text/plain' } }));
  assert.equal(literal.statusCode, 400);
  assert.match(JSON.parse(literal.body).error.message, /not a PNG/);
});

test('function URL: a PNG mangled by a text content type gets a helpful 400', async () => {
  // What a UTF-8 decode does to a PNG sent as application/x-www-form-urlencoded.
  const mangled = partialPng.toString('utf8');
  assert.ok(mangled.startsWith('\ufffdPNG'));
  const res = await handler(urlEvent({ body: mangled, headers: { 'content-type': 'application/x-www-form-urlencoded' } }));
  assert.equal(res.statusCode, 400);
  assert.match(JSON.parse(res.body).error.message, /Content-Type: image\/png/);
  // Passed through byte for byte (latin1) it still works.
  const latin1 = await handler(urlEvent({ body: partialPng.toString('latin1'), headers: { 'content-type': 'application/octet-stream' } }));
  assert.equal(JSON.parse(latin1.body).verdict, 'partial');
});

test('S3-style events: without an object store, a key that names no sample is UnsupportedSource', async () => {
  const event = { Records: [{ s3: { bucket: { name: 'homework' }, object: { key: 'class+4b/alice.png' } } }] };
  await rejectsWith(handler(event), 'UnsupportedSource', /cannot read object homework\/class 4b\/alice.png: no object store is configured \(set HOMEWORK_OBJECT_STORE_URL\)/);
  await rejectsWith(handler({ Records: [{ s3: {} }] }), 'InvalidRequest', /bucket.name/);
});

test('non-URL events with "version" but no requestContext are not URL events', () => {
  assert.equal(isFunctionUrlEvent({ version: '2.0', sample: 'x' }), false);
  assert.equal(isFunctionUrlEvent(null), false);
  assert.equal(isFunctionUrlEvent(urlEvent()), true);
});
