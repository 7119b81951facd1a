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
 * this one process, each over its own kept-alive TCP connection with hand-written HTTP/1.1
 * framing (no `http` module): one `write` per request, a minimal response parser (status,
 * headers, Content-Length body; chunked and close-delimited bodies are tolerated, though
 * Swell always sends Content-Length). The next `next` is pipelined behind each result or
 * error post, in the same write (Swell answers the post before it reads the `next`).
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
 * Prewarm: with SWELL_PREWARM=1 the bootstrap does its set-up (including one pass over its
 * invocation path against a loopback stand-in, see warmUp), then reads ONE JSON line
 * from stdin {"env": {...}, "cwd": "...", "uid": n?, "gid": n?}, applies it (gid, uid,
 * cwd, whole environment replaced) and continues like a normal start.
 */

const fs = require('fs');
const net = require('net');
const path = require('path');
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

/**
 * Writes raw text to fd 1. Returns null when the stream has handed everything to the OS
 * already (stdout to a pipe is synchronous on Linux), else a promise resolved once it has.
 */
function writeStdoutFlushed(text) {
  let flushed = false;
  let resolveFlushed = null;
  try {
    rawStdoutWrite.call(stdout, text, () => {
      flushed = true;
      if (resolveFlushed !== null) resolveFlushed();
    });
  } catch (_) {
    return null;
  }
  if (flushed || stdout.writableLength === 0) return null;
  return new Promise((resolve) => { resolveFlushed = resolve; });
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
  if ((hasGid || hasUid) && typeof process.getuid === 'function' && process.getuid() === 0 && process.getgroups().length > 0) {
    process.setgroups([]); // drop root's supplementary groups before switching identity (done at boot: see main)
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
// Runtime API client: hand-written HTTP/1.1 over one kept-alive TCP connection per loop
// ---------------------------------------------------------------------------

const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
const EMPTY = Buffer.alloc(0);
const MAX_HEAD_BYTES = 64 * 1024;
// One read buffer for every connection of the process: each read is parsed (and what is
// kept copied) inside its callback, on the one JavaScript thread, before the next read.
const readBuffer = Buffer.allocUnsafe(64 * 1024);

// Parser states.
const S_HEAD = 0;     // reading the status line and headers
const S_LENGTH = 1;   // reading a body of Content-Length bytes
const S_CHUNKED = 2;  // reading a chunked body (Swell never sends one; tolerated)
const S_EOF = 3;      // reading a body delimited by the end of the connection

function protocolError(message) {
  return Object.assign(new Error(`Runtime API response: ${message}`), { code: 'EPROTO' });
}

/**
 * Parses "HTTP/1.1 200 OK\r\nName: value\r\n…" (without the blank line) into
 * {status, headers} with lower-cased header names; repeated headers are joined with ", ".
 */
function parseHead(text) {
  if (text.length < 12 || !text.startsWith('HTTP/1.')) throw protocolError(`bad status line "${text.slice(0, 40)}"`);
  const status = (text.charCodeAt(9) - 48) * 100 + (text.charCodeAt(10) - 48) * 10 + (text.charCodeAt(11) - 48);
  if (!(status >= 100 && status <= 999)) throw protocolError(`bad status line "${text.slice(0, 40)}"`);
  const headers = {};
  let pos = text.indexOf('\r\n');
  while (pos !== -1) {
    const start = pos + 2;
    pos = text.indexOf('\r\n', start);
    const end = pos === -1 ? text.length : pos;
    const colon = text.indexOf(':', start);
    if (colon === -1 || colon > end) continue;
    const name = text.slice(start, colon).trim().toLowerCase();
    const value = text.slice(colon + 1, end).trim();
    const seen = headers[name];
    headers[name] = seen === undefined ? value : seen + ', ' + value;
  }
  return { status, headers };
}

/**
 * An incremental HTTP/1.1 response parser. `feed` takes bytes that may be a transient
 * view (the socket's read buffer): whatever it keeps it copies. A response is
 * {status, headers, body (UTF-8 string)}.
 */
class ResponseParser {
  constructor() {
    this.reset();
  }

  reset() {
    this.state = S_HEAD;
    this.rest = null;      // unparsed bytes kept between reads (owned)
    this.head = null;
    this.length = 0;       // S_LENGTH: body bytes expected
    this.got = 0;          // S_LENGTH: body bytes copied into `body`
    this.body = null;      // S_LENGTH: the body, once it spans reads
    this.parts = null;     // S_CHUNKED / S_EOF: body pieces (owned)
    this.chunkLeft = -1;   // S_CHUNKED: bytes left in the current chunk, -1 = at a size line
    this.started = false;  // any byte of this response seen
  }

  /** Adds bytes; returns the response once complete, else null. Throws on malformed input. */
  feed(view) {
    this.started = true;
    let data = view;
    let owned = false;
    if (this.rest !== null) {
      data = Buffer.concat([this.rest, view]);
      owned = true;
      this.rest = null;
    }
    let pos = 0;
    for (;;) {
      switch (this.state) {
        case S_HEAD: {
          const end = data.indexOf(HEAD_END, pos);
          if (end === -1) {
            if (data.length - pos > MAX_HEAD_BYTES) throw protocolError('header block too large');
            this.keep(data, pos, owned);
            return null;
          }
          const head = parseHead(data.latin1Slice(pos, end));
          pos = end + 4;
          if (head.status < 200) continue; // an interim response (100 Continue): skip it
          this.head = head;
          const h = head.headers;
          const te = h['transfer-encoding'];
          if (te !== undefined && te.toLowerCase().includes('chunked')) {
            this.state = S_CHUNKED;
            this.parts = [];
          } else if (h['content-length'] !== undefined) {
            const length = Number(h['content-length']);
            if (!Number.isSafeInteger(length) || length < 0) throw protocolError(`bad Content-Length "${h['content-length']}"`);
            this.length = length;
            this.state = S_LENGTH;
          } else if (head.status === 204 || head.status === 304) {
            return this.complete('', data, pos);
          } else {
            this.state = S_EOF;
            this.parts = [];
          }
          break;
        }
        case S_LENGTH: {
          const avail = data.length - pos;
          if (this.body === null) {
            if (avail >= this.length) { // the common case: the whole body in this read
              return this.complete(data.utf8Slice(pos, pos + this.length), data, pos + this.length);
            }
            this.body = Buffer.allocUnsafe(this.length);
          }
          const n = Math.min(this.length - this.got, avail);
          data.copy(this.body, this.got, pos, pos + n);
          this.got += n;
          pos += n;
          if (this.got < this.length) return null;
          return this.complete(this.body.utf8Slice(0, this.length), data, pos);
        }
        case S_CHUNKED: {
          if (this.chunkLeft === -1) {
            const nl = data.indexOf(10, pos);
            if (nl === -1) {
              this.keep(data, pos, owned);
              return null;
            }
            const size = parseInt(data.latin1Slice(pos, nl), 16); // "1a;ext=…\r" parses as 0x1a
            if (!Number.isSafeInteger(size) || size < 0) throw protocolError('bad chunk size');
            if (size === 0) { // last chunk: skip trailers up to the blank line
              const blank = data[nl + 1] === 13 && data[nl + 2] === 10 ? nl + 3 : (() => {
                const e = data.indexOf(HEAD_END, nl - 1);
                return e === -1 ? -1 : e + 4;
              })();
              if (blank === -1) {
                this.keep(data, pos, owned);
                return null;
              }
              return this.complete(Buffer.concat(this.parts).utf8Slice(), data, blank);
            }
            this.chunkLeft = size;
            pos = nl + 1;
          }
          if (this.chunkLeft > 0) {
            const n = Math.min(this.chunkLeft, data.length - pos);
            if (n > 0) this.parts.push(Buffer.from(data.subarray(pos, pos + n)));
            this.chunkLeft -= n;
            pos += n;
            if (this.chunkLeft > 0) return null;
          }
          // the CRLF after the chunk's data
          if (data.length - pos < 2) {
            this.keep(data, pos, owned);
            return null;
          }
          pos += 2;
          this.chunkLeft = -1;
          break;
        }
        case S_EOF: {
          if (pos < data.length) this.parts.push(Buffer.from(data.subarray(pos)));
          return null;
        }
      }
    }
  }

  /** The connection ended: returns the response when its body runs to the end, else null. */
  end() {
    if (this.state !== S_EOF) return null;
    const res = { status: this.head.status, headers: this.head.headers, body: Buffer.concat(this.parts).utf8Slice() };
    this.reset();
    return res;
  }

  keep(data, pos, owned) {
    if (pos >= data.length) return;
    this.rest = owned ? data.subarray(pos) : Buffer.from(data.subarray(pos));
  }

  /** The response; bytes after it (the start of a pipelined one) are kept in `rest`. */
  complete(body, data, pos) {
    const res = { status: this.head.status, headers: this.head.headers, body };
    this.reset();
    if (pos < data.length) {
      this.rest = Buffer.from(data.subarray(pos)); // owned: `data` may be the shared read buffer
      this.started = true;
    }
    return res;
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

function connectionError(message, code) {
  return Object.assign(new Error(message), { code });
}

/**
 * One kept-alive TCP connection to the Runtime API, used by one invocation loop: each
 * request written with a single `write` (request line, headers and body in one string) on a
 * TCP_NODELAY socket; responses read into the process's one read buffer. A post can carry
 * the loop's next `next` in the same write (HTTP/1.1 pipelining: Swell answers the post
 * before it reads the `next`), so a warm invocation costs one write and one read on the
 * socket. A request that fails on a connection that had served earlier requests, before any
 * byte of its response arrived, is sent once more on a new connection (the server may have
 * closed the idle one); so is a pipelined `next` the connection lost.
 */
class RuntimeConnection {
  constructor(endpoint) {
    const { host, port } = parseHostPort(endpoint);
    this.host = host;
    this.port = port;
    const hostLine = 'Host: ' + endpoint + '\r\n';
    this.nextRequest = 'GET ' + API_PREFIX + '/invocation/next HTTP/1.1\r\n' + hostLine + '\r\n';
    this.postTail = ' HTTP/1.1\r\n' + hostLine + 'Content-Type: application/json\r\nContent-Length: ';
    this.socket = null;
    this.exchanges = 0;    // completed exchanges on the current socket
    this.parser = new ResponseParser();
    this.waiting = [];     // {resolve, reject} of the requests in flight, in order
    this.pendingNext = null; // the response promise of a `next` sent behind the last post
  }

  /** Opens the connection now (it is otherwise opened by the first request). */
  connect() {
    const socket = net.connect({
      host: this.host,
      port: this.port,
      noDelay: true,
      onread: { buffer: readBuffer, callback: (n, buf) => this.onRead(socket, n, buf) },
    });
    socket.setNoDelay(true);
    socket.on('error', (err) => this.onClose(socket, err));
    socket.on('end', () => this.onClose(socket, null));
    socket.on('close', () => this.onClose(socket, null));
    this.socket = socket;
    this.exchanges = 0;
    this.parser.reset();
    return socket;
  }

  onRead(socket, n, buf) {
    if (socket !== this.socket) return false;
    if (this.waiting.length === 0) {
      this.drop(socket, null); // bytes nobody asked for
      return false;
    }
    let res;
    try {
      res = this.parser.feed(buf.subarray(0, n));
      while (res !== null) {
        this.exchanges++;
        const close = res.headers.connection;
        const waiter = this.waiting.shift();
        if (close !== undefined && close.toLowerCase() === 'close') {
          this.drop(socket, null); // a request pipelined behind this one is lost with the connection
          waiter.resolve(res);
          return false;
        }
        waiter.resolve(res);
        if (this.parser.rest === null) break;
        if (this.waiting.length === 0) throw protocolError(`${this.parser.rest.length} bytes after the response`);
        res = this.parser.feed(EMPTY);
      }
    } catch (err) {
      this.drop(socket, err);
      return false;
    }
    return true;
  }

  onClose(socket, err) {
    if (socket !== this.socket) return;
    this.socket = null;
    socket.destroy();
    if (this.waiting.length === 0) return;
    const res = this.parser.end();
    if (res !== null) this.waiting.shift().resolve(res);
    this.failWaiting(err);
  }

  /** Closes `socket`; requests still in flight fail with `err` (the first) or as lost. */
  drop(socket, err) {
    if (socket === this.socket) {
      this.socket = null;
      this.failWaiting(err);
    }
    socket.destroy();
  }

  failWaiting(err) {
    const waiting = this.waiting;
    if (waiting.length === 0) return;
    this.waiting = [];
    for (let i = 0; i < waiting.length; i++) {
      const e = i === 0 && err !== null ? err : connectionError('the Runtime API closed the connection', 'ECONNRESET');
      // Sent again on a new connection: the request in front when nothing of its response came on a
      // connection that had answered before (not after a malformed response); one pipelined behind it.
      e.retryable = i > 0 || (e.code !== 'EPROTO' && !this.parser.started && this.exchanges > 0);
      waiting[i].reject(e);
    }
  }

  expect() {
    return new Promise((resolve, reject) => { this.waiting.push({ resolve, reject }); });
  }

  /**
   * Writes `text` (a whole request; with `thenNext`, followed by a `next` request) and
   * resolves the first request's response; the `next`'s is kept in `pendingNext`.
   */
  send(text, thenNext) {
    const socket = this.socket === null ? this.connect() : this.socket;
    if (this.waiting.length === 0 && this.parser.rest === null) this.parser.reset();
    const reply = this.expect();
    if (thenNext) {
      const next = this.expect();
      next.catch(() => {}); // it may fail before the loop asks for it: not an unhandled rejection
      this.pendingNext = next;
      socket.write(text + this.nextRequest);
    } else {
      socket.write(text);
    }
    return reply;
  }

  /** `send`, once more on a new connection when a reused one turned out to be closed. */
  async request(text, thenNext) {
    try {
      return await this.send(text, thenNext);
    } catch (err) {
      if (thenNext) this.pendingNext = null;
      if (err.retryable) return this.send(text, thenNext);
      throw err;
    }
  }

  post(urlPath, body, extraHeaders, thenNext) {
    return this.request('POST ' + urlPath + this.postTail + Buffer.byteLength(body) + '\r\n' + extraHeaders + '\r\n' + body,
      thenNext);
  }

  async next() {
    const pending = this.pendingNext;
    if (pending !== null) {
      this.pendingNext = null;
      try {
        return await pending;
      } catch (err) {
        if (!err.retryable) throw err;
        return this.send(this.nextRequest, false); // the connection closed behind the post: ask again
      }
    }
    return this.request(this.nextRequest, false);
  }

  /** Posts a result; with `thenNext`, the loop's next `next` goes out in the same write. */
  postResponse(requestId, payload, thenNext) {
    return this.post(API_PREFIX + '/invocation/' + encodeURIComponent(requestId) + '/response', payload, '', thenNext === true);
  }

  postError(requestId, error, thenNext) {
    return this.post(API_PREFIX + '/invocation/' + encodeURIComponent(requestId) + '/error', JSON.stringify(error),
      'Lambda-Runtime-Function-Error-Type: ' + headerSafe(error.errorType) + '\r\n', thenNext === true);
  }

  postInitError(error) {
    return this.post(API_PREFIX + '/init/error', JSON.stringify(error),
      'Lambda-Runtime-Function-Error-Type: ' + headerSafe(error.errorType) + '\r\n', false);
  }

  close() {
    this.pendingNext = null;
    if (this.socket !== null) this.drop(this.socket, null);
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
  return import(require('url').pathToFileURL(file).href);
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
  const flushing = writeStdoutFlushed(state.finish(errorLine));
  if (flushing !== null) await flushing;

  const reply = error === undefined
    ? await client.postResponse(requestId, payload, true)
    : await client.postError(requestId, error, true);
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
let runtimeApi = null; // the endpoint, once known to be well-formed
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
  if (runtimeApi !== null) {
    const conn = new RuntimeConnection(runtimeApi); // its own: never shares a loop's connection
    try {
      await conn.postInitError(payload);
    } catch (err) {
      logError(`swell-runtime: could not post the init error: ${err.message}`);
    }
    conn.close();
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
 * Runs the invocation path once against a loopback stand-in for the Runtime API (a next
 * split over two reads, a response post with a pipelined next, an error post, a chunked
 * reply), so that a
 * pre-booted process has loaded and compiled all of it before its function arrives: the
 * cold start then pays the hand-over and the handler's import only.
 */
function warmUp() {
  const event = '{"warm":"up","ü":[1,2,3]}';
  const nextReply = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ' + Buffer.byteLength(event) +
    '\r\nLambda-Runtime-Aws-Request-Id: warm-up\r\nLambda-Runtime-Deadline-Ms: 0\r\n' +
    'Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:swell:warm:function:up\r\nLambda-Runtime-Trace-Id: Root=warm-up\r\n\r\n' + event;
  const accepted = 'HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{"status":"OK"}';
  const chunked = 'HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"a":\r\n2\r\n1}\r\n0\r\n\r\n';
  return new Promise((resolve) => {
    let conn = null;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      if (conn !== null) conn.close();
      server.close();
      resolve();
    };
    const timer = setTimeout(finish, 2000); // never let a stuck warm-up hold the cold start
    const server = net.createServer({ noDelay: true }, (peer) => {
      peer.on('data', (data) => {
        const text = data.latin1Slice(0, data.length);
        const requests = /(GET|POST) (\S+) HTTP\/1\.1\r\n/g;
        let out = '';
        for (let m = requests.exec(text); m !== null; m = requests.exec(text)) {
          if (m[1] === 'POST') {
            out += m[2].endsWith('/invocation/warm-up/error') ? chunked : accepted;
          } else if (out === '') { // a `next` alone: its reply split over two reads
            peer.write(nextReply.slice(0, 40));
            setImmediate(() => peer.write(nextReply.slice(40)));
          } else {
            out += nextReply; // pipelined behind a post: both replies in one read
          }
        }
        if (out !== '') peer.write(out);
      });
      peer.on('error', () => {});
    });
    server.on('error', finish);
    server.listen(0, '127.0.0.1', async () => {
      conn = new RuntimeConnection('127.0.0.1:' + server.address().port);
      try {
        let res = await conn.next();
        for (let i = 0; i < 3; i++) {
          const state = new LogState(res.headers['lambda-runtime-aws-request-id']);
          const result = await invocationStore.run(state, runHandler, (e) => e, JSON.parse(res.body), readConfig(),
            'warm-up', 0, res.headers);
          state.feed('line\n');
          state.finish('');
          await conn.postResponse('warm-up', JSON.stringify(result), true);
          res = await conn.next(); // the one pipelined behind the post
          await conn.postError('warm-up', errorPayload(new Error('warm-up')));
          await conn.postInitError(errorPayload(new TypeError('warm-up')));
        }
      } catch (_) {
        // a warm-up that fails costs nothing but the warmth
      }
      finish();
    });
  });
}

async function main() {
  if (process.env.SWELL_PREWARM === '1') {
    // Root's supplementary groups go now, not at specialization: with several threads every
    // set*id call is a signal to each thread and a wait for all (glibc's setxid broadcast),
    // 0.5-1.5 ms each on a loaded machine. setgid and setuid need the function's ids.
    if (typeof process.getuid === 'function' && process.getuid() === 0) process.setgroups([]);
    await warmUp();
    try {
      applyPrewarm();
    } catch (err) {
      logError(`swell-runtime: prewarm failed: ${err && err.stack || err}`);
      exitAfterFlush(1);
      return;
    }
  }
  const config = readConfig();
  const connections = [];
  try {
    for (let i = 0; i < config.concurrency; i++) connections.push(new RuntimeConnection(config.runtimeApi));
  } catch (err) {
    logError(`swell-runtime: ${err.message}`);
    exitAfterFlush(1);
    return;
  }
  runtimeApi = config.runtimeApi;
  for (const conn of connections) conn.connect(); // the handshakes overlap the handler's import
  // `net.connect` to an address issues its connect(2) on the next tick: let it go out before the
  // (synchronous) import, so that Swell accepts and checks the connection meanwhile.
  await new Promise((resolve) => process.nextTick(resolve));

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

  for (const conn of connections) {
    invocationLoop(conn, handler, config).catch((err) => fatal('Runtime Loop Error', err));
  }
}

main().catch((err) => fatal('Runtime Start Error', err));
