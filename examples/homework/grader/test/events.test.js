'use strict';
// Trigger event shapes: Kafka (Lambda self-managed Kafka event, as Swell's Kafka
// trigger sends it), S3-style object notifications (Swell's object-store trigger),
// and {"bucket","key"} object references with and without an object store.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { handler, isKafkaEvent } = require('../index');
const { objectUrl, OBJECT_STORE_ENV } = require('../sources');

const SAMPLES = path.join(__dirname, '..', 'samples');
const partialPng = fs.readFileSync(path.join(SAMPLES, 'partial.png'));
const blankPng = fs.readFileSync(path.join(SAMPLES, 'blank.png'));

let logged = [];
test.beforeEach((t) => {
  logged = [];
  t.mock.method(console, 'log', (...args) => logged.push(args.join(' ')));
});

const b64 = (v) => Buffer.from(v).toString('base64');

/** One record as Swell's KafkaEvent.encode writes it (key left out when null). */
function record({ key = null, value, partition = 0, offset = 0, topic = 'homework' }) {
  const r = { topic, partition, offset, timestamp: 1795291200000, timestampType: 'CREATE_TIME' };
  if (key !== null) r.key = b64(key);
  r.value = value === null ? null : b64(value);
  r.headers = [{ trace: [97, 98] }];
  return r;
}

function kafkaEvent(records, partition = 0) {
  return { eventSource: 'SelfManagedKafka', bootstrapServers: '127.0.0.1:19092', records: { [`homework-${partition}`]: records } };
}

/** Sets (or clears) HOMEWORK_OBJECT_STORE_URL for one test. */
function withObjectStore(t, url) {
  const saved = process.env[OBJECT_STORE_ENV];
  if (url === undefined) delete process.env[OBJECT_STORE_ENV];
  else process.env[OBJECT_STORE_ENV] = url;
  t.after(() => {
    if (saved === undefined) delete process.env[OBJECT_STORE_ENV];
    else process.env[OBJECT_STORE_ENV] = saved;
  });
}

async function rejectsWith(promise, name, pattern) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.name, name, `${err.name}: ${err.message}`);
    assert.match(err.message, pattern);
    return true;
  });
}

test('Kafka: one {"sample"} record -> one result with the key as studentId', async () => {
  const event = kafkaEvent([record({ key: 'student-7', value: '{"sample":"complete.png"}', offset: 15 })]);
  assert.ok(isKafkaEvent(event));
  const r = await handler(event, {});
  assert.ok(!Array.isArray(r));
  assert.equal(r.studentId, 'student-7');
  assert.equal(r.source, 'sample:complete.png');
  assert.equal(r.verdict, 'complete');
  assert.equal(r.answeredRegions, 3);
  assert.equal(logged.length, 1);
  assert.match(logged[0], /^graded homework-0@15\(student-7\) sample:complete\.png: verdict=complete /);
});

test('Kafka: several records -> an array, one result per record, in order', async () => {
  const event = kafkaEvent([
    record({ key: 'student-1', value: '{"sample":"blank.png"}', offset: 3 }),
    record({ key: 'student-2', value: partialPng, offset: 4 }), // raw PNG bytes as the message
    record({ value: JSON.stringify({ image: partialPng.toString('base64'), studentId: 'from-value' }), offset: 5 }),
    record({ key: 'student-4', value: JSON.stringify({ sample: 'complete-noisy.png', studentId: 'ignored' }), offset: 6 }),
  ]);
  const r = await handler(event);
  assert.ok(Array.isArray(r));
  assert.deepEqual(r.map((x) => x.verdict), ['blank', 'partial', 'partial', 'complete']);
  assert.deepEqual(r.map((x) => x.studentId), ['student-1', 'student-2', 'from-value', 'student-4']);
  assert.equal(r[1].source, `message(${partialPng.length} bytes)`);
  assert.equal(logged.length, 4);
  assert.deepEqual(JSON.parse(JSON.stringify(r)).length, 4, 'plain JSON');
});

test('Kafka: records of several partitions keep event order; a keyless record has no studentId', async () => {
  const event = {
    eventSource: 'SelfManagedKafka',
    bootstrapServers: 'b:1',
    records: {
      'homework-2': [record({ value: '{"sample":"blank.png"}', partition: 2, offset: 0 })],
      'homework-0': [record({ value: '{"sample":"complete.png"}', partition: 0, offset: 9 })],
    },
  };
  const r = await handler(event);
  assert.deepEqual(r.map((x) => x.verdict), ['blank', 'complete']);
  assert.ok(!('studentId' in r[0]));
});

test('Kafka: the MSK event source (aws:kafka) is the same shape', async () => {
  const r = await handler({ ...kafkaEvent([record({ key: 's', value: '{"sample":"partial.png"}' })]), eventSource: 'aws:kafka' });
  assert.equal(r.verdict, 'partial');
});

test('Kafka: a record that cannot be graded throws InvalidImage / InvalidRequest naming the record', async () => {
  const one = (value, offset = 42) => handler(kafkaEvent([record({ key: 'student-9', value, offset })]));
  await rejectsWith(one('hello there'), 'InvalidRequest', /^homework-0@42: the record value is neither a PNG nor JSON/);
  await rejectsWith(one('{"sample":"../index.js"}'), 'InvalidRequest', /^homework-0@42: invalid sample name/);
  await rejectsWith(one('{"sample":"missing.png"}'), 'InvalidRequest', /^homework-0@42: no such sample/);
  await rejectsWith(one('{"colour":"blue"}'), 'InvalidRequest', /^homework-0@42: nothing to grade/);
  await rejectsWith(one('[1,2]'), 'InvalidRequest', /^homework-0@42: event must be a JSON object/);
  await rejectsWith(one(''), 'InvalidRequest', /^homework-0@42: the record value is empty/);
  await rejectsWith(one(null), 'InvalidRequest', /tombstone/);
  // Binary that is not a PNG (here: a JPEG header), a truncated PNG, a corrupt one.
  await rejectsWith(one(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x80])), 'InvalidImage', /^homework-0@42: .*not a PNG/);
  await rejectsWith(one(partialPng.subarray(0, 4000)), 'InvalidImage', /^homework-0@42: truncated PNG/);
  const corrupt = Buffer.from(blankPng);
  corrupt[100] ^= 0xff;
  await rejectsWith(one(JSON.stringify({ image: corrupt.toString('base64') })), 'InvalidImage', /CRC mismatch/);
  // A bad record in a batch fails the batch (the trigger retries it, then dead-letters it).
  const batch = kafkaEvent([record({ value: '{"sample":"blank.png"}', offset: 1 }), record({ value: 'nope', offset: 2 })]);
  await rejectsWith(handler(batch), 'InvalidRequest', /^homework-0@2: /);
});

test('Kafka: malformed events are InvalidRequest', async () => {
  await rejectsWith(handler({ eventSource: 'SelfManagedKafka', records: {} }), 'InvalidRequest', /no records/);
  await rejectsWith(handler({ eventSource: 'SelfManagedKafka', records: { 'homework-0': 'x' } }), 'InvalidRequest', /lists of records/);
  const badValue = kafkaEvent([{ topic: 'homework', partition: 0, offset: 1, value: '***' }]);
  await rejectsWith(handler(badValue), 'InvalidRequest', /record value is not base64/);
  assert.equal(isKafkaEvent({ eventSource: 'SelfManagedKafka' }), false);
  assert.equal(isKafkaEvent({ sample: 'complete.png' }), false);
});

test('S3 notification (object-store trigger): the key\'s file name picks a sample when no store is configured (demo)', async (t) => {
  withObjectStore(t, undefined);
  const event = {
    Records: [{ eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'photos' }, object: { key: 'uploads/class+4b/partial.png', size: 1 } } }],
  };
  const r = await handler(event);
  assert.equal(r.object, 'photos/uploads/class 4b/partial.png');
  assert.match(r.source, /demo: samples\/partial\.png/);
  assert.equal(r.verdict, 'partial');
  const two = await handler({ Records: [event.Records[0], { s3: { bucket: { name: 'photos' }, object: { key: 'uploads/blank.png' } } }] });
  assert.deepEqual(two.map((x) => x.verdict), ['partial', 'blank']);
  await rejectsWith(handler({ Records: [{ s3: { bucket: { name: 'photos' }, object: { key: 'uploads/alice.png' } } }] }), 'UnsupportedSource', /no object store is configured.*blank\.png, complete-noisy\.png/);
  await rejectsWith(handler({ bucket: 'photos', key: 'uploads/%zz.png' }), 'UnsupportedSource', /no object store/);
  await rejectsWith(handler({ Records: [{ s3: { bucket: { name: 'p' }, object: { key: '%zz' } } }] }), 'InvalidRequest', /not a valid URL-encoded key/);
});

test('{"bucket","key"} with HOMEWORK_OBJECT_STORE_URL reads the object over HTTP (S3-compatible path style)', async (t) => {
  const objects = new Map([['/photos/uploads/class%204b/alice.png', partialPng]]);
  const requests = [];
  const server = http.createServer((req, res) => {
    requests.push(req.url);
    if (req.url === '/photos/broken.png') return res.writeHead(503).end('slow down');
    const body = objects.get(req.url);
    if (!body) return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': body.length }).end(body);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const base = `http://127.0.0.1:${server.address().port}/`;
  withObjectStore(t, base);

  assert.equal(objectUrl(base, 'photos', 'uploads/class 4b/alice.png'), `${base}photos/uploads/class%204b/alice.png`);
  const direct = await handler({ bucket: 'photos', key: 'uploads/class 4b/alice.png' });
  assert.equal(direct.verdict, 'partial');
  const viaKafka = await handler(kafkaEvent([record({ key: 'alice', value: '{"bucket":"photos","key":"uploads/class 4b/alice.png"}' })]));
  assert.equal(viaKafka.studentId, 'alice');
  assert.equal(viaKafka.source, 'object:photos/uploads/class 4b/alice.png');
  const viaS3 = await handler({ Records: [{ s3: { bucket: { name: 'photos' }, object: { key: 'uploads/class+4b/alice.png' } } }] });
  assert.equal(viaS3.verdict, 'partial');
  await rejectsWith(handler({ bucket: 'photos', key: 'nope.png' }), 'InvalidRequest', /not found \(GET .*: 404\)/);
  await rejectsWith(handler({ bucket: 'photos', key: 'broken.png' }), 'ObjectStoreError', /HTTP 503/);
  await rejectsWith(handler({ bucket: '', key: 'x' }), 'InvalidRequest', /non-empty/);
  assert.equal(requests.length, 5);
});
