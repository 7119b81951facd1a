'use strict';
/*
 * Swell Node.js runtime bootstrap (Node 20, CommonJS, built-ins only).
 * Started by Swell as `node bootstrap.js`.
 *
 * Protocol
 * --------
 * Runtime API (AWS Lambda Runtime API 2018-06-01, at http://$AWS_LAMBDA_RUNTIME_API):
 *   GET  /2018-06-01/runtime/invocation/next          -> event (JSON) + Lambda-Runtime-* headers
 *   POST /2018-06-01/runtime/invocation/{id}/response -> handler result as JSON
 *   POST /2018-06-01/runtime/invocation/{id}/error    -> {errorType, errorMessage, stackTrace}
 *   POST /2018-06-01/runtime/init/error               -> same body, when the handler cannot be loaded
 *   (errors also carry the header Lambda-Runtime-Function-Error-Type: <errorType>)
 * SWELL_CONCURRENCY (default 1) independent loops run next -> handler -> response in
 * this one process, over a keep-alive agent.
 *
 * Log lines (fd 1 -> Swell):
 *   "\x1f" + requestId + "\x1f" + text + "\n"   a line written while that invocation ran
 *   "\x1e" + requestId + "\n"                    end of that invocation's output; written
 *                                                (and flushed) BEFORE the response/error POST
 *   anything else                                unattributed output of stdout / stderr
 * process.stdout.write / process.stderr.write are patched: inside an invocation (found
 * with AsyncLocalStorage) output is split into lines and attributed; outside (module
 * init, stray timers after the invocation ended) it goes unchanged to its own stream.
 *
 * Prewarm: with SWELL_PREWARM=1 the bootstrap does its set-up, then reads ONE JSON line
 * from stdin {"env": {...}, "cwd": "...", "uid": n?, "gid": n?}, applies it (gid, uid,
 * cwd, whole environment replaced) and continues like a normal start.
 */

const http = require('http');
const fs = require('fs');
const path = require('path');
const { pathToFileURL } = require('url');
const { AsyncLocalStorage } = require('async_hooks');
const { StringDecoder } = require('string_decoder');

const API_PREFIX = '/2018-06-01/runtime';
const NEXT_RETRY_DELAYS_MS = [50, 100, 200, 400, 800, 1000, 1000, 1000];
const FATAL_EXIT_GRACE_MS = 2000;

// ---------------------------------------------------------------------------
// Output: attribution of stdout/stderr writes to the running invocation
// ---------------------------------------------------------------------------

const invocationStore = new AsyncLocalStorage();
const stdout = process.stdout;
const stderr = process.stderr;
const rawStdoutWrite = stdout.write;
const rawStderrWrite = stderr.write;

/** Per-invocation log state, held in AsyncLocalStorage while the handler runs. */
class LogState {
  constructor(requestId) {
    this.requestId = requestId;
    this.prefix = '\x1f' + requestId + '\x1f';
    this.partial = '';
    this.decoder = null; // created on the first Buffer write (keeps split UTF-8 sequences)
    this.done = false;
  }

  /** Adds text; returns the attributed complete lines (possibly '') to write. */
  feed(text) {
    const nl = text.lastIndexOf('\n');
    if (nl === -1) {
      this.partial += text;
      return '';
    }
    let lines = text.slice(0, nl);
    if (this.partial !== '') {
      lines = this.partial + lines;
    }
    this.partial = text.slice(nl + 1);
    const prefix = this.prefix;
    if (lines.indexOf('\n') === -1) {
      return prefix + lines + '\n';
    }
    return prefix + lines.split('\n').join('\n' + prefix) + '\n';
  }

  /** Ends the invocation's output: the trailing partial line, `extra` text, the end marker. */
  finish(extra) {
    this.done = true;
    let out = '';
    if (this.decoder !== null) {
      const tail = this.decoder.end();
      if (tail) out += this.feed(tail);
    }
    if (extra) out += this.feed(extra);
    if (this.partial !== '') {
      out += this.prefix + this.partial + '\n';
      this.partial = '';
    }
    return out + '\x1e' + this.requestId + '\n';
  }
}

function chunkToText(state, chunk, encoding) {
  if (typeof chunk === 'string') {
    if (encoding === 'hex' || encoding === 'base64' || encoding === 'base64url') {
      return Buffer.from(chunk, encoding).toString('utf8');
    }
    return chunk;
  }
  if (chunk instanceof Uint8Array) {
    if (state.decoder === null) state.decoder = new StringDecoder('utf8');
    return state.decoder.write(chunk);
  }
  return null;
}

function patchedWriteFor(stream, rawWrite) {
  return function write(chunk, encoding, callback) {
    const state = invocationStore.getStore();
    if (state === undefined || state.done) {
      return rawWrite.apply(stream, arguments);
    }
    if (typeof encoding === 'function') {
      callback = encoding;
      encoding = undefined;
    }
    const text = chunkToText(state, chunk, encoding);
    if (text === null) {
      return rawWrite.apply(stream, arguments); // invalid chunk type: let the stream complain
    }
    const out = state.feed(text);
    if (out !== '') {
      return rawStdoutWrite.call(stdout, out, callback);
    }
    if (typeof callback === 'function') process.nextTick(callback);
    return true;
  };
}

stdout.write = patchedWriteFor(stdout, rawStdoutWrite);
stderr.write = patchedWriteFor(stderr, rawStderrWrite);

/** Writes raw text to fd 1 and resolves once the stream has handed it to the OS. */
function writeStdoutFlushed(text) {
  return new Promise((resolve) => {
    try {
      rawStdoutWrite.call(stdout, text, () => resolve());
    } catch (_) {
      resolve();
    }
  });
}

/** Writes an unattributed message to stderr. */
function logError(message) {
  try {
    rawStderrWrite.call(stderr, message.endsWith('\n') ? message : message + '\n');
  } catch (_) {
    // nothing left to report to
  }
}

/** Exits once pending stdout/stderr data is written (bounded by a grace timer). */
function exitAfterFlush(code) {
  let pending = 2;
  const done = () => {
    if (--pending === 0) process.exit(code);
  };
  setTimeout(() => process.exit(code), FATAL_EXIT_GRACE_MS);
  try { rawStdoutWrite.call(stdout, '', done); } catch (_) { done(); }
  try { rawStderrWrite.call(stderr, '', done); } catch (_) { done(); }
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

function isError(value) {
  return value instanceof Error ||
    (value !== null && typeof value === 'object' && Object.prototype.toString.call(value) === '[object Error]');
}

function safeString(value) {
  try {
    return String(value);
  } catch (_) {
    return Object.prototype.toString.call(value);
  }
}

/** {errorType, errorMessage, stackTrace} for any thrown/rejected/callback value. */
function errorPayload(err, forcedType) {
  let errorType = 'Error';
  let errorMessage;
  let stackTrace = [];
  try {
    if (isError(err)) {
      if (typeof err.name === 'string' && err.name !== '') errorType = err.name;
      errorMessage = typeof err.message === 'string' ? err.message : safeString(err.message);
      if (typeof err.stack === 'string') stackTrace = err.stack.split('\n');
    } else {
      errorMessage = safeString(err);
    }
  } catch (_) {
    errorMessage = 'unprintable error';
  }
  if (forcedType) errorType = forcedType;
  return { errorType, errorMessage, stackTrace };
}

/** Header values must be visible ASCII. */
function headerSafe(value) {
  return value.replace(/[^\x20-\x7e]/g, '?') || 'Error';
}

// ---------------------------------------------------------------------------
// Prewarm: one JSON line from stdin replaces identity, cwd and environment
// ---------------------------------------------------------------------------

function readStdinLineSync() {
  const chunks = [];
  const buf = Buffer.allocUnsafe(65536);
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    let n;
    try {
      n = fs.readSync(0, buf, 0, buf.length, null);
    } catch (err) {
      if (err.code === 'EAGAIN') {
        Atomics.wait(sleeper, 0, 0, 5);
        continue;
      }
      if (err.code === 'EOF') n = 0;
      else throw err;
    }
    if (n === 0) break;
    const nl = buf.indexOf(10);
    if (nl !== -1 && nl < n) {
      chunks.push(Buffer.from(buf.subarray(0, nl)));
      return Buffer.concat(chunks).toString('utf8');
    }
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  if (chunks.length === 0) throw new Error('stdin closed before the prewarm line arrived');
  return Buffer.concat(chunks).toString('utf8');
}

function applyPrewarm() {
  const spec = JSON.parse(readStdinLineSync());
  if (spec === null || typeof spec !== 'object') throw new Error('prewarm line is not a JSON object');
  const hasGid = spec.gid !== undefined && spec.gid !== null;
  const hasUid = spec.uid !== undefined && spec.uid !== null;
  if ((hasGid || hasUid) && typeof process.getuid === 'function' && process.getuid() === 0) {
    process.setgroups([]); // drop root's supplementary groups before switching identity
  }
  if (hasGid) process.setgid(spec.gid);
  if (hasUid) process.setuid(spec.uid);
  if (typeof spec.cwd === 'string' && spec.cwd !== '') process.chdir(spec.cwd);
  for (const key of Object.keys(process.env)) delete process.env[key];
  const env = spec.env || {};
  for (const key of Object.keys(env)) {
    const value = env[key];
    if (value !== undefined && value !== null) process.env[key] = String(value);
  }
  // NODE_PATH is read once at start-up; re-read it for the function's environment.
  const Module = require('module');
  if (typeof Module._initPaths === 'function') Module._initPaths();
}

// ---------------------------------------------------------------------------
// Runtime API client
// ---------------------------------------------------------------------------

class RuntimeAgent extends http.Agent {
  createConnection(options, callback) {
    const socket = super.createConnection(options, callback);
    socket.setNoDelay(true);
    return socket;
  }
}

function parseHostPort(value) {
  const colon = value.lastIndexOf(':');
  if (colon <= 0) throw new Error(`AWS_LAMBDA_RUNTIME_API must be host:port (got "${value}")`);
  let host = value.slice(0, colon);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  const port = Number(value.slice(colon + 1));
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new Error(`AWS_LAMBDA_RUNTIME_API has a bad port (got "${value}")`);
  }
  return { host, port };
}

class RuntimeClient {
  constructor(endpoint, sockets) {
    const { host, port } = parseHostPort(endpoint);
    this.host = host;
    this.port = port;
    this.agent = new RuntimeAgent({
      keepAlive: true, keepAliveMsecs: 30000, maxSockets: sockets, maxFreeSockets: sockets,
    });
  }

  /** One HTTP exchange; resolves {status, headers, body(string)}. The body goes out in one write. */
  request(method, urlPath, body, headers) {
    return new Promise((resolve, reject) => {
      const req = http.request({
        agent: this.agent,
        host: this.host,
        port: this.port,
        method,
        path: urlPath,
        headers,
      }, (res) => {
        res.setEncoding('utf8');
        let data = '';
        res.on('data', (chunk) => { data += chunk; });
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: data }));
        res.on('error', reject);
        res.on('close', () => {
          if (!res.complete) reject(Object.assign(new Error('connection closed mid-response'), { code: 'ECONNRESET' }));
        });
      });
      req.on('error', (err) => {
        err.reusedSocket = req.reusedSocket;
        reject(err);
      });
      if (body === undefined) req.end();
      else req.end(body);
    });
  }

  /** POST with one retry when a kept-alive socket turned out to be closed by the server. */
  async post(urlPath, body, headers) {
    try {
      return await this.request('POST', urlPath, body, headers);
    } catch (err) {
      if (err.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
        return this.request('POST', urlPath, body, headers);
      }
      throw err;
    }
  }

  next() {
    return this.request('GET', API_PREFIX + '/invocation/next');
  }

  postResponse(requestId, payload) {
    return this.post(`${API_PREFIX}/invocation/${encodeURIComponent(requestId)}/response`, payload,
      { 'Content-Type': 'application/json' });
  }

  postError(requestId, error) {
    return this.post(`${API_PREFIX}/invocation/${encodeURIComponent(requestId)}/error`, JSON.stringify(error),
      { 'Content-Type': 'application/json', 'Lambda-Runtime-Function-Error-Type': headerSafe(error.errorType) });
  }

  postInitError(error) {
    return this.post(`${API_PREFIX}/init/error`, JSON.stringify(error),
      { 'Content-Type': 'application/json', 'Lambda-Runtime-Function-Error-Type': headerSafe(error.errorType) });
  }
}

// ---------------------------------------------------------------------------
// Handler loading
// ---------------------------------------------------------------------------

class InitError extends Error {
  constructor(errorType, message, cause) {
    super(message);
    this.errorType = errorType;
    this.cause = cause;
  }
}

function isFile(p) {
  try {
    return fs.statSync(p).isFile();
  } catch (_) {
    return false;
  }
}

/** True when the nearest package.json above `file` declares "type": "module". */
function inModuleScope(file) {
  let dir = path.dirname(file);
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (isFile(pkg)) {
      try {
        return JSON.parse(fs.readFileSync(pkg, 'utf8')).type === 'module';
      } catch (_) {
        return false;
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) return false;
    dir = parent;
  }
}

function importModule(file) {
  return import(pathToFileURL(file).href);
}

async function loadModule(file) {
  if (file.endsWith('.mjs')) return importModule(file);
  if (file.endsWith('.js') && inModuleScope(file)) return importModule(file);
  try {
    return require(file);
  } catch (err) {
    if (err && (err.code === 'ERR_REQUIRE_ESM' || err.code === 'ERR_REQUIRE_ASYNC_MODULE')) {
      return importModule(file);
    }
    throw err;
  }
}

function resolveModuleFile(taskRoot, modulePart) {
  const base = path.resolve(taskRoot, modulePart);
  for (const ext of ['.js', '.cjs', '.mjs']) {
    if (isFile(base + ext)) return base + ext;
  }
  if (isFile(base)) return base;
  try {
    // a directory with index.js / package.json "main", or a package in node_modules
    return require.resolve(modulePart.includes('/') ? base : modulePart, { paths: [taskRoot] });
  } catch (_) {
    return null;
  }
}

async function loadHandler(taskRoot, handlerName) {
  const dot = handlerName.lastIndexOf('.');
  const modulePart = dot > 0 ? handlerName.slice(0, dot) : '';
  const exportName = dot > 0 ? handlerName.slice(dot + 1) : '';
  if (modulePart === '' || exportName === '' || exportName.includes('/') || modulePart.endsWith('/')) {
    throw new InitError('Runtime.MalformedHandlerName', `Bad handler "${handlerName}": expected "path/file.export"`);
  }
  const file = resolveModuleFile(taskRoot, modulePart);
  if (file === null) {
    throw new InitError('Runtime.ImportModuleError',
      `Cannot find module '${modulePart}' (looked for ${modulePart}.js, .cjs, .mjs in ${taskRoot})`);
  }
  let mod;
  try {
    mod = await loadModule(file);
  } catch (err) {
    if (err && (err.code === 'MODULE_NOT_FOUND' || err.code === 'ERR_MODULE_NOT_FOUND')) {
      throw new InitError('Runtime.ImportModuleError', `${err.name}: ${err.message}`, err);
    }
    throw err; // the user's own error while loading: reported with its own type
  }
  let fn = mod == null ? undefined : mod[exportName];
  if (typeof fn !== 'function' && mod != null && mod.default != null && typeof mod.default === 'object') {
    fn = mod.default[exportName]; // CommonJS module loaded through import()
  }
  if (typeof fn !== 'function') {
    throw new InitError('Runtime.HandlerNotFound', `${handlerName} is undefined or not exported`);
  }
  return fn;
}

// ---------------------------------------------------------------------------
// Invocation
// ---------------------------------------------------------------------------

function parseJSONHeader(value) {
  if (value === undefined || value === '') return undefined;
  try {
    return JSON.parse(value);
  } catch (_) {
    return undefined;
  }
}

function makeContext(config, requestId, deadlineMs, headers, callback) {
  return {
    callbackWaitsForEmptyEventLoop: true, // accepted for compatibility; has no effect here
    functionName: config.functionName,
    functionVersion: config.functionVersion,
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    memoryLimitInMB: config.memoryLimitInMB,
    awsRequestId: requestId,
    logGroupName: config.logGroupName,
    logStreamName: config.logStreamName,
    identity: parseJSONHeader(headers['lambda-runtime-cognito-identity']),
    clientContext: parseJSONHeader(headers['lambda-runtime-client-context']),
    getRemainingTimeInMillis: () => Math.max(0, deadlineMs - Date.now()),
    done: (err, result) => callback(err, result),
    succeed: (result) => callback(null, result),
    fail: (err) => callback(err === undefined || err === null ? 'handled' : err),
  };
}

/**
 * Runs the handler in its three styles: a returned thenable is awaited; otherwise a
 * handler declaring 3+ parameters is awaited through its callback; otherwise the return
 * value is the result. The first outcome wins.
 */
function runHandler(handler, event, config, requestId, deadlineMs, headers) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const ok = (value) => {
      if (!settled) { settled = true; resolve(value); }
    };
    const fail = (err) => {
      if (!settled) { settled = true; reject(err); }
    };
    const callback = (err, result) => {
      if (err !== undefined && err !== null) fail(err);
      else ok(result);
    };
    const context = makeContext(config, requestId, deadlineMs, headers, callback);
    let ret;
    try {
      ret = handler(event, context, callback);
    } catch (err) {
      fail(err);
      return;
    }
    if (ret !== null && (typeof ret === 'object' || typeof ret === 'function') && typeof ret.then === 'function') {
      ret.then(ok, fail);
    } else if (handler.length < 3) {
      ok(ret);
    }
  });
}

async function handleInvocation(client, handler, config, res) {
  const headers = res.headers;
  const requestId = headers['lambda-runtime-aws-request-id'];
  const deadlineMs = Number(headers['lambda-runtime-deadline-ms']) || 0;
  const traceId = headers['lambda-runtime-trace-id'];
  if (traceId) process.env._X_AMZN_TRACE_ID = traceId;
  else delete process.env._X_AMZN_TRACE_ID;

  let event;
  try {
    event = JSON.parse(res.body);
  } catch (_) {
    event = res.body;
  }

  const state = new LogState(requestId);
  let payload;
  let error;
  try {
    const result = await invocationStore.run(state, runHandler, handler, event, config, requestId, deadlineMs, headers);
    try {
      payload = JSON.stringify(result);
      if (payload === undefined) payload = 'null';
    } catch (err) {
      error = errorPayload(err);
    }
  } catch (err) {
    error = errorPayload(err);
  }

  const errorLine = error === undefined ? '' : 'ERROR\tInvoke Error\t' + JSON.stringify(error) + '\n';
  await writeStdoutFlushed(state.finish(errorLine));

  const reply = error === undefined
    ? await client.postResponse(requestId, payload)
    : await client.postError(requestId, error);
  if (reply.status === 413) {
    logError(`swell-runtime: response of invocation ${requestId} is too large (413): ${reply.body}`);
  } else if (reply.status < 200 || reply.status > 299) {
    logError(`swell-runtime: posting the outcome of ${requestId} failed with HTTP ${reply.status}: ${reply.body}`);
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function invocationLoop(client, handler, config) {
  let failures = 0;
  for (;;) {
    let res;
    try {
      res = await client.next();
      if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${res.body}`);
      if (!res.headers['lambda-runtime-aws-request-id']) throw new Error('next invocation without a request id');
      failures = 0;
    } catch (err) {
      if (failures >= NEXT_RETRY_DELAYS_MS.length) {
        logError(`swell-runtime: cannot get the next invocation (${err.message}); exiting`);
        exitAfterFlush(1);
        return;
      }
      await sleep(NEXT_RETRY_DELAYS_MS[failures++]);
      continue;
    }
    try {
      await handleInvocation(client, handler, config, res);
    } catch (err) {
      logError(`swell-runtime: invocation ${res.headers['lambda-runtime-aws-request-id']} failed: ${err && err.stack || err}`);
    }
  }
}

// ---------------------------------------------------------------------------
// Start-up
// ---------------------------------------------------------------------------

let initialized = false;
let client = null;
let fatalStarted = false;

function formatError(payload) {
  const lines = [`${payload.errorType}: ${payload.errorMessage}`];
  for (const line of payload.stackTrace) {
    if (line !== lines[0]) lines.push(line);
  }
  return lines.join('\n');
}

async function reportInitError(payload) {
  logError(`ERROR\tInit Error\t${formatError(payload)}`);
  if (client !== null) {
    try {
      await client.postInitError(payload);
    } catch (err) {
      logError(`swell-runtime: could not post the init error: ${err.message}`);
    }
  }
}

function fatal(label, err) {
  if (fatalStarted) return;
  fatalStarted = true;
  const payload = errorPayload(err);
  if (!initialized) {
    reportInitError(payload).finally(() => exitAfterFlush(1));
    return;
  }
  logError(`ERROR\t${label}\t${formatError(payload)}`);
  exitAfterFlush(1);
}

process.on('uncaughtException', (err) => fatal('Uncaught Exception', err));
process.on('unhandledRejection', (reason) => fatal('Unhandled Promise Rejection', reason));

function readConfig() {
  const env = process.env;
  const concurrency = parseInt(env.SWELL_CONCURRENCY || '1', 10);
  return {
    runtimeApi: env.AWS_LAMBDA_RUNTIME_API || '',
    handler: env._HANDLER || '',
    taskRoot: env.LAMBDA_TASK_ROOT || process.cwd(),
    functionName: env.AWS_LAMBDA_FUNCTION_NAME || '',
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION || '$LATEST',
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE || '128',
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME || '',
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME || '',
    concurrency: Number.isInteger(concurrency) && concurrency > 0 ? concurrency : 1,
  };
}

/**
 * Runs the HTTP client's connect path once (against a closed loopback port), so that a
 * pre-booted process has compiled it before its first real `next`.
 */
function warmUpHttpClient() {
  return new Promise((resolve) => {
    const req = http.request({
      host: '127.0.0.1', port: 9, path: '/2018-06-01/runtime/invocation/next',
      agent: new http.Agent({ keepAlive: true }),
    }, (res) => { res.resume(); res.on('end', resolve); });
    req.on('error', () => resolve());
    req.end();
  });
}

async function main() {
  if (process.env.SWELL_PREWARM === '1') {
    await warmUpHttpClient();
    try {
      applyPrewarm();
    } catch (err) {
      logError(`swell-runtime: prewarm failed: ${err && err.stack || err}`);
      exitAfterFlush(1);
      return;
    }
  }
  const config = readConfig();
  try {
    client = new RuntimeClient(config.runtimeApi, config.concurrency);
  } catch (err) {
    logError(`swell-runtime: ${err.message}`);
    exitAfterFlush(1);
    return;
  }

  let handler;
  try {
    handler = await loadHandler(config.taskRoot, config.handler);
  } catch (err) {
    fatalStarted = true;
    const payload = err instanceof InitError
      ? { errorType: err.errorType, errorMessage: err.message,
          stackTrace: err.cause && typeof err.cause.stack === 'string' ? err.cause.stack.split('\n') : [] }
      : errorPayload(err);
    await reportInitError(payload);
    exitAfterFlush(1);
    return;
  }
  initialized = true;

  for (let i = 0; i < config.concurrency; i++) {
    invocationLoop(client, handler, config).catch((err) => fatal('Runtime Loop Error', err));
  }
}

main().catch((err) => fatal('Runtime Start Error', err));
