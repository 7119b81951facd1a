'use strict';
// Homework grader: decodes a photographed homework sheet (PNG) and reports,
// per answer box, whether it has been answered. See README.md.

const { performance } = require('node:perf_hooks');
const { decodePng, InvalidImage } = require('./png');
const { grade } = require('./grade');
const {
  sourceFromEvent,
  sourceFromKafkaRecord,
  kafkaRecords,
  kafkaWhere,
  s3Object,
  objectSource,
  sampleSource,
  bytesSource,
  InvalidRequest,
} = require('./sources');

/** Decodes and grades PNG bytes; returns the result object. */
function gradePng(bytes) {
  const t0 = performance.now();
  const image = decodePng(bytes);
  const t1 = performance.now();
  const result = grade(image);
  const t2 = performance.now();
  result.decodeMs = Math.round((t1 - t0) * 100) / 100;
  result.gradeMs = Math.round((t2 - t1) * 100) / 100;
  return result;
}

function logResult(describe, r) {
  const regions = r.regions
    .map((g) => `${g.index}:${g.answered ? 'answered' : 'blank'}(ink=${g.inkCoverage},lines=${g.textLines})`)
    .join(' ');
  console.log(
    `graded ${describe}: verdict=${r.verdict} answered=${r.answeredRegions}/${r.totalRegions} ` +
      `ink=${r.inkCoverage} ${regions} size=${r.width}x${r.height} decodeMs=${r.decodeMs} gradeMs=${r.gradeMs}`,
  );
}

async function gradeSource(source) {
  const bytes = await source.load();
  const result = gradePng(bytes);
  logResult(source.describe, result);
  return result;
}

// ---- Function URL (API Gateway HTTP API v2.0) events ----------------------

function isFunctionUrlEvent(event) {
  return (
    event !== null &&
    typeof event === 'object' &&
    event.version === '2.0' &&
    event.requestContext !== null &&
    typeof event.requestContext === 'object' &&
    typeof event.requestContext.http === 'object'
  );
}

function header(event, name) {
  const headers = event.headers || {};
  for (const k of Object.keys(headers)) if (k.toLowerCase() === name) return String(headers[k]);
  return '';
}

/**
 * Maps a function-URL request to a source:
 *   GET  ...?sample=complete.png                 -> that sample
 *   POST body = PNG bytes (content-type image/png; arrives base64-encoded)
 *   POST body = {"sample":…} or {"image":…}       (content-type application/json)
 */
function sourceFromUrlEvent(event) {
  const query = event.queryStringParameters || {};
  const body = typeof event.body === 'string' ? event.body : '';
  if (body.length === 0) {
    if (query.sample) return sampleSource(query.sample);
    throw new InvalidRequest('nothing to grade: POST a PNG (Content-Type: image/png) or use ?sample=complete.png');
  }
  if (event.isBase64Encoded) return bytesSource(Buffer.from(body, 'base64'), 'upload');

  const contentType = header(event, 'content-type').toLowerCase();
  if (/^application\/([a-z0-9.+-]*\+)?json\b/.test(contentType)) {
    let parsed;
    try {
      parsed = JSON.parse(body);
    } catch (err) {
      throw new InvalidRequest(`request body is not valid JSON: ${err.message}`);
    }
    return sourceFromEvent(parsed);
  }
  // A text-typed body: binary survives only if it was passed through byte for
  // byte (latin1). If it was decoded as UTF-8, the PNG signature byte 0x89
  // became U+FFFD and the image is lost: tell the caller how to send it.
  if (body.charCodeAt(0) === 0x89) return bytesSource(Buffer.from(body, 'latin1'), 'upload');
  if (body.startsWith('\ufffdPNG')) {
    throw new InvalidRequest(
      `the PNG was sent with a text content type (${contentType || 'none'}) and arrived mangled; ` +
        'send it with Content-Type: image/png (curl -H "content-type: image/png" --data-binary @file.png …)',
    );
  }
  return bytesSource(Buffer.from(body, 'utf8'), 'upload'); // the decoder will say what is wrong
}

function json(statusCode, value) {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(value) };
}

async function handleUrlEvent(event) {
  let source;
  try {
    source = sourceFromUrlEvent(event);
    return json(200, await gradeSource(source));
  } catch (err) {
    if (err instanceof InvalidImage || err instanceof InvalidRequest) {
      console.log(`rejected ${source ? source.describe : 'request'}: ${err.name}: ${err.message}`);
      return json(400, { error: { code: err.name, message: err.message } });
    }
    throw err; // anything else is a bug: let the platform report a function error
  }
}

// ---- Kafka trigger events (Lambda self-managed Kafka / MSK shape) ----------

function isKafkaEvent(event) {
  return (
    event !== null &&
    typeof event === 'object' &&
    (event.eventSource === 'SelfManagedKafka' || event.eventSource === 'aws:kafka') &&
    event.records !== null &&
    typeof event.records === 'object'
  );
}

/**
 * Grades every record of the batch, in order. One record -> one result object;
 * several -> an array with one result per record (Swell's Kafka trigger produces
 * element i to the result topic keyed like record i). A record that cannot be
 * graded throws (InvalidImage / InvalidRequest, the message names
 * topic-partition@offset): the trigger retries the batch, then sends it to the
 * dead-letter topic. With batchSize 1 that is exactly the bad record.
 */
async function handleKafkaEvent(event) {
  const records = kafkaRecords(event);
  if (records.length === 0) throw new InvalidRequest('the Kafka event holds no records');
  const results = [];
  for (const record of records) {
    const where = kafkaWhere(record);
    try {
      const { source, studentId } = sourceFromKafkaRecord(record);
      const origin = source.describe;
      source.describe = `${where}${studentId !== undefined ? `(${studentId})` : ''} ${origin}`;
      const result = await gradeSource(source);
      results.push({ ...(studentId !== undefined ? { studentId } : {}), source: origin, ...result });
    } catch (err) {
      if (err instanceof Error) err.message = `${where}: ${err.message}`;
      throw err;
    }
  }
  return records.length === 1 ? results[0] : results;
}

// ---- S3-style object notifications (Swell's object-store trigger) ----------

function isS3Event(event) {
  return event !== null && typeof event === 'object' && Array.isArray(event.Records) && event.Records.length > 0;
}

/** Grades each record's object: one record -> one result, several -> an array. */
async function handleS3Event(event) {
  const results = [];
  for (const [i, record] of event.Records.entries()) {
    const { bucket, key } = s3Object(record, `Records[${i}]`);
    const source = objectSource(bucket, key);
    results.push({ object: `${bucket}/${key}`, source: source.describe, ...(await gradeSource(source)) });
  }
  return results.length === 1 ? results[0] : results;
}

// ---- Entry point ----------------------------------------------------------

exports.handler = async (event) => {
  if (isFunctionUrlEvent(event)) return handleUrlEvent(event);
  if (isKafkaEvent(event)) return handleKafkaEvent(event);
  if (isS3Event(event)) return handleS3Event(event);
  return gradeSource(sourceFromEvent(event));
};

exports.gradePng = gradePng;
exports.isFunctionUrlEvent = isFunctionUrlEvent;
exports.isKafkaEvent = isKafkaEvent;
exports.sourceFromUrlEvent = sourceFromUrlEvent;
