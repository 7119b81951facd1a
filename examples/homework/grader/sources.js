'use strict';
// Where the image to grade comes from. Every event shape maps to a "source":
//   { kind, describe, load: async () => Buffer }
// so adding a new origin (e.g. an object store bucket/key) means adding one
// resolver below and one loader; the handler does not change.

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

// Object store (S3-style) events. Not wired up yet: when Swell grows a bucket
// service, implement loadObject(bucket, key) and nothing else has to change.
async function loadObject(bucket, key) {
  throw new UnsupportedSource(`object store events are not supported yet (bucket ${JSON.stringify(bucket)}, key ${JSON.stringify(key)})`);
}

function objectSource(bucket, key) {
  return { kind: 'object', describe: `object:${bucket}/${key}`, load: () => loadObject(bucket, key) };
}

/**
 * Maps a direct-invoke event to a source:
 *   {"sample": "complete.png"}     -> samples/complete.png
 *   {"image": "<base64 PNG>"}      -> the decoded bytes
 *   {"Records":[{"s3":{"bucket":{"name"},"object":{"key"}}}]} -> object source
 */
function sourceFromEvent(event) {
  if (event === null || typeof event !== 'object' || Array.isArray(event)) {
    throw new InvalidRequest('event must be a JSON object such as {"sample":"complete.png"} or {"image":"<base64 PNG>"}');
  }
  if (event.sample !== undefined) return sampleSource(event.sample);
  if (event.image !== undefined) return base64Source(event.image);
  if (Array.isArray(event.Records) && event.Records.length > 0) {
    const s3 = event.Records[0] && event.Records[0].s3;
    const bucket = s3 && s3.bucket && s3.bucket.name;
    const key = s3 && s3.object && s3.object.key;
    if (typeof bucket !== 'string' || typeof key !== 'string') {
      throw new InvalidRequest('Records[0].s3.bucket.name and Records[0].s3.object.key are required');
    }
    // S3 event keys are URL-encoded with '+' for spaces.
    return objectSource(bucket, decodeURIComponent(key.replace(/\+/g, ' ')));
  }
  throw new InvalidRequest('nothing to grade: send {"sample":"complete.png"} or {"image":"<base64 PNG>"}');
}

module.exports = {
  sourceFromEvent,
  sampleSource,
  base64Source,
  bytesSource,
  samplePath,
  InvalidRequest,
  UnsupportedSource,
  SAMPLES_DIR,
};
