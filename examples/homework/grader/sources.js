'use strict';
// Where the image to grade comes from. Every event shape maps to a "source":
//   { kind, describe, load: async () => Buffer }
// so adding a new origin means adding one resolver below and one loader.

const fs = require('node:fs/promises');
const path = require('node:path');

const SAMPLES_DIR = path.join(__dirname, 'samples');
const SAMPLE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** The request itself is wrong (missing/invalid field); maps to HTTP 400. */
class InvalidRequest extends Error {
  constructor(message) {
    super(message);
    this.name = 'InvalidRequest';
  }
}

/** A recognised source we cannot serve yet. */
class UnsupportedSource extends Error {
  constructor(message) {
    super(message);
    this.name = 'UnsupportedSource';
  }
}

/** Resolves a sample name to a file inside samples/, refusing anything else. */
function samplePath(name) {
  if (typeof name !== 'string' || !SAMPLE_NAME.test(name) || name.includes('..')) {
    throw new InvalidRequest(`invalid sample name ${JSON.stringify(name)}: use a plain file name such as "complete.png"`);
  }
  const resolved = path.resolve(SAMPLES_DIR, name);
  if (path.dirname(resolved) !== SAMPLES_DIR) {
    throw new InvalidRequest(`invalid sample name ${JSON.stringify(name)}: must name a file in samples/`);
  }
  return resolved;
}

function sampleSource(name) {
  const file = samplePath(name);
  return {
    kind: 'sample',
    describe: `sample:${name}`,
    load: async () => {
      try {
        return await fs.readFile(file);
      } catch (err) {
        if (err.code === 'ENOENT') {
          const known = (await fs.readdir(SAMPLES_DIR)).filter((f) => f.endsWith('.png')).sort();
          throw new InvalidRequest(`no such sample ${JSON.stringify(name)} (available: ${known.join(', ')})`);
        }
        throw err;
      }
    },
  };
}

function base64Source(text, describe = 'image') {
  if (typeof text !== 'string' || text.length === 0) {
    throw new InvalidRequest('"image" must be a non-empty base64 string of a PNG file');
  }
  // Accept a data: URL as a convenience ("data:image/png;base64,....").
  const payload = text.replace(/^data:[^,]*;base64,/, '').replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(payload)) {
    throw new InvalidRequest('"image" is not valid base64');
  }
  const bytes = Buffer.from(payload, 'base64');
  return { kind: 'bytes', describe: `${describe}(${bytes.length} bytes)`, load: async () => bytes };
}

function bytesSource(bytes, describe) {
  return { kind: 'bytes', describe: `${describe}(${bytes.length} bytes)`, load: async () => bytes };
}

// ---- Object store references ({"bucket","key"}, S3 notifications) --------
//
// Swell has no object store of its own. Where the bytes of bucket/key come from:
//  1. HOMEWORK_OBJECT_STORE_URL set (the function's `environment` in swell.yaml):
//     an unsigned GET of URL/BUCKET/KEY, i.e. an S3-compatible store (MinIO, Ceph
//     RGW, ...) whose bucket allows anonymous reads, or any HTTP server laid out
//     the same way. A 404 is an InvalidRequest; other failures are ObjectStoreError
//     (a Kafka trigger retries those, then dead-letters the record).
//  2. Otherwise, as a demo only: the key's file name is looked up in samples/
//     (uploads/class-4b/complete.png -> samples/complete.png). A key whose file
//     name is not a sample cannot be served: UnsupportedSource says why.

const OBJECT_STORE_ENV = 'HOMEWORK_OBJECT_STORE_URL';
const MAX_OBJECT_BYTES = 64 * 1024 * 1024;
const OBJECT_TIMEOUT_MS = 5000;

/** The object store answered with an error (or not at all); worth retrying. */
class ObjectStoreError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ObjectStoreError';
  }
}

function objectUrl(base, bucket, key) {
  const root = base.replace(/\/+$/, '');
  return `${root}/${encodeURIComponent(bucket)}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

async function fetchObject(base, bucket, key) {
  const url = objectUrl(base, bucket, key);
  let res;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(OBJECT_TIMEOUT_MS) });
  } catch (err) {
    throw new ObjectStoreError(`GET ${url} failed: ${err.cause ? err.cause.message || err.cause : err.message}`);
  }
  if (res.status === 404) throw new InvalidRequest(`object ${bucket}/${key} not found (GET ${url}: 404)`);
  if (!res.ok) throw new ObjectStoreError(`GET ${url}: HTTP ${res.status}`);
  const length = Number(res.headers.get('content-length') || 0);
  if (length > MAX_OBJECT_BYTES) throw new InvalidRequest(`object ${bucket}/${key} is ${length} bytes (limit ${MAX_OBJECT_BYTES})`);
  const bytes = Buffer.from(await res.arrayBuffer());
  if (bytes.length > MAX_OBJECT_BYTES) throw new InvalidRequest(`object ${bucket}/${key} is over ${MAX_OBJECT_BYTES} bytes`);
  return bytes;
}

/** Demo fallback: the sample named like the key's last path segment. */
async function loadSampleForKey(bucket, key) {
  const name = key.slice(key.lastIndexOf('/') + 1);
  const unsupported = async () => {
    const known = (await fs.readdir(SAMPLES_DIR)).filter((f) => f.endsWith('.png')).sort();
    return new UnsupportedSource(
      `cannot read object ${bucket}/${key}: no object store is configured (set ${OBJECT_STORE_ENV}); ` +
        `without one only keys whose file name is a sample (${known.join(', ')}) are graded, as a demo`,
    );
  };
  let file;
  try {
    file = samplePath(name);
  } catch {
    throw await unsupported();
  }
  try {
    return await fs.readFile(file);
  } catch (err) {
    if (err.code === 'ENOENT') throw await unsupported();
    throw err;
  }
}

function objectSource(bucket, key, env = process.env) {
  if (typeof bucket !== 'string' || bucket.length === 0 || typeof key !== 'string' || key.length === 0) {
    throw new InvalidRequest('"bucket" and "key" must be non-empty strings');
  }
  const base = env[OBJECT_STORE_ENV];
  if (base) {
    return { kind: 'object', describe: `object:${bucket}/${key}`, load: () => fetchObject(base, bucket, key) };
  }
  return { kind: 'object', describe: `object:${bucket}/${key}(demo: samples/${key.slice(key.lastIndexOf('/') + 1)})`, load: () => loadSampleForKey(bucket, key) };
}

/**
 * The bucket and (URL-decoded) key of one S3 notification record:
 * {"s3":{"bucket":{"name"},"object":{"key"}}}. Keys arrive form-encoded ('+' is a space).
 */
function s3Object(record, where = 'Records[0]') {
  const s3 = record && record.s3;
  const bucket = s3 && s3.bucket && s3.bucket.name;
  const key = s3 && s3.object && s3.object.key;
  if (typeof bucket !== 'string' || typeof key !== 'string') {
    throw new InvalidRequest(`${where}.s3.bucket.name and ${where}.s3.object.key are required`);
  }
  let decoded;
  try {
    decoded = decodeURIComponent(key.replace(/\+/g, ' '));
  } catch {
    throw new InvalidRequest(`${where}.s3.object.key is not a valid URL-encoded key: ${JSON.stringify(key)}`);
  }
  return { bucket, key: decoded };
}

/**
 * Maps a direct-invoke event (or the JSON value of a Kafka record) to a source:
 *   {"sample": "complete.png"}          -> samples/complete.png
 *   {"image": "<base64 PNG>"}           -> the decoded bytes
 *   {"bucket": "photos", "key": "..."}  -> an object source (see above)
 *   {"Records":[{"s3":{"bucket":{"name"},"object":{"key"}}}]} (one record) -> object source
 */
function sourceFromEvent(event) {
  if (event === null || typeof event !== 'object' || Array.isArray(event)) {
    throw new InvalidRequest('event must be a JSON object such as {"sample":"complete.png"} or {"image":"<base64 PNG>"}');
  }
  if (event.sample !== undefined) return sampleSource(event.sample);
  if (event.image !== undefined) return base64Source(event.image);
  if (event.bucket !== undefined || event.key !== undefined) return objectSource(event.bucket, event.key);
  if (Array.isArray(event.Records) && event.Records.length > 0) {
    if (event.Records.length > 1) throw new InvalidRequest('one S3 record per request (the handler grades several when invoked with an S3 event)');
    const { bucket, key } = s3Object(event.Records[0]);
    return objectSource(bucket, key);
  }
  throw new InvalidRequest('nothing to grade: send {"sample":"complete.png"}, {"image":"<base64 PNG>"} or {"bucket":…,"key":…}');
}

// ---- Kafka records ----------------------------------------------------------

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeBase64Field(value, what) {
  if (typeof value !== 'string' || !BASE64.test(value)) throw new InvalidRequest(`${what} is not base64`);
  return Buffer.from(value, 'base64');
}

/** Where a record comes from, for messages and logs: topic-partition@offset. */
function kafkaWhere(record) {
  return record && typeof record === 'object' ? `${record.topic}-${record.partition}@${record.offset}` : 'record';
}

/**
 * Maps one record of a (self-managed or MSK) Kafka event to
 * { source, studentId, where }; errors do not name the record (the caller adds kafkaWhere). Its value (base64 in the event) is either
 *   - PNG bytes (or any binary: the decoder says what is wrong with it), or
 *   - JSON text: {"sample"}, {"image"} or {"bucket","key"}, optionally with "studentId".
 * The record's key (a student id, UTF-8) wins over a "studentId" in the value.
 */
function sourceFromKafkaRecord(record) {
  if (record === null || typeof record !== 'object') throw new InvalidRequest('a Kafka record must be an object');
  const where = kafkaWhere(record);
  let studentId;
  if (record.key !== undefined && record.key !== null) {
    const key = decodeBase64Field(record.key, 'the record key');
    try {
      studentId = utf8.decode(key);
    } catch {
      studentId = key.toString('hex');
    }
  }
  if (record.value === undefined || record.value === null) {
    throw new InvalidRequest(`the record has no value (a tombstone): nothing to grade`);
  }
  const value = decodeBase64Field(record.value, 'the record value');
  if (value.length === 0) throw new InvalidRequest(`the record value is empty: nothing to grade`);
  if (value.subarray(0, 8).equals(PNG_SIGNATURE)) return { source: bytesSource(value, 'message'), studentId, where };
  let text;
  try {
    text = utf8.decode(value);
  } catch {
    // Binary but not a PNG (a JPEG, a truncated upload, ...): let the decoder reject it as InvalidImage.
    return { source: bytesSource(value, 'message'), studentId, where };
  }
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new InvalidRequest(
      `the record value is neither a PNG nor JSON such as {"sample":"complete.png"} ` +
        `(${value.length} bytes: ${JSON.stringify(text.slice(0, 40))})`,
    );
  }
  if (studentId === undefined && parsed && typeof parsed.studentId === 'string') studentId = parsed.studentId;
  return { source: sourceFromEvent(parsed), studentId, where };
}

/** The records of a Kafka event, in event order (partition by partition, offsets ascending). */
function kafkaRecords(event) {
  const out = [];
  for (const list of Object.values(event.records)) {
    if (!Array.isArray(list)) throw new InvalidRequest('records must map "topic-partition" to lists of records');
    out.push(...list);
  }
  return out;
}

module.exports = {
  sourceFromEvent,
  sourceFromKafkaRecord,
  kafkaRecords,
  kafkaWhere,
  s3Object,
  objectSource,
  objectUrl,
  ObjectStoreError,
  OBJECT_STORE_ENV,
  sampleSource,
  base64Source,
  bytesSource,
  samplePath,
  InvalidRequest,
  UnsupportedSource,
  SAMPLES_DIR,
};
