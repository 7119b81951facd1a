"""Swell Python runtime bootstrap (Python 3.11, standard library only).

Started by Swell as `/usr/bin/python3 -u bootstrap.py`.

Protocol
--------
Runtime API (AWS Lambda Runtime API 2018-06-01, at http://$AWS_LAMBDA_RUNTIME_API):
  GET  /2018-06-01/runtime/invocation/next          -> event (JSON) + Lambda-Runtime-* headers
  POST /2018-06-01/runtime/invocation/{id}/response -> handler result as JSON
  POST /2018-06-01/runtime/invocation/{id}/error    -> {errorType, errorMessage, stackTrace}
  POST /2018-06-01/runtime/init/error               -> same body, when the handler cannot be loaded
  (errors also carry the header Lambda-Runtime-Function-Error-Type: <errorType>)
SWELL_CONCURRENCY (default 1) threads each run next -> handler -> response over their
own kept-alive TCP connection, with hand-written HTTP/1.1 framing (no http.client or
urllib): one sendall per request, a minimal response parser (status, headers, a
Content-Length body; chunked and close-delimited bodies are tolerated, though Swell
always sends Content-Length). The next `next` is pipelined behind each result or error
post, in the same sendall (Swell answers the post before it reads the `next`).

Log lines (fd 1 -> Swell):
  "\\x1f" + requestId + "\\x1f" + text + "\\n"   a line written while that invocation ran
  "\\x1e" + requestId + "\\n"                    end of that invocation's output, written
                                               BEFORE the response/error POST
  anything else                                unattributed output of stdout / stderr
sys.stdout / sys.stderr are replaced by a thread-aware stream: a loop thread records the
running request id (threading.local) around the handler call; its writes become
attributed complete lines on fd 1, other writes go unchanged to their own fd. The root
`logging` logger writes "[LEVEL]\\t<time>\\t<request id>\\t<message>" through sys.stdout.

Prewarm: with SWELL_PREWARM=1 the bootstrap does its set-up, then reads ONE JSON line
from stdin {"env": {...}, "cwd": "...", "uid": n?, "gid": n?}, applies it (gid, uid,
cwd, whole environment replaced) and continues like a normal start.
"""

import importlib
import io
import json
import logging
import os
import select
import socket
import sys
import threading
import time
import traceback

API_PREFIX = "/2018-06-01/runtime"
NEXT_RETRY_DELAYS = (0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0)
_BOOTSTRAP_FILE = os.path.abspath(__file__)
_HIDDEN_FRAME_FILES = (_BOOTSTRAP_FILE, importlib.__file__)

# ---------------------------------------------------------------------------
# Output: attribution of stdout/stderr writes to the running invocation
# ---------------------------------------------------------------------------


class _ThreadState(threading.local):
    inv = None  # the _InvocationLog of the invocation this thread is running, if any


_state = _ThreadState()
_write_lock = threading.Lock()


def _write_fd(fd, data):
    """Writes all of `data` to `fd` in as few write calls as possible, under the lock."""
    with _write_lock:
        view = memoryview(data)
        while view:
            try:
                written = os.write(fd, view)
            except BlockingIOError:
                select.select([], [fd], [])
                continue
            view = view[written:]


def _encode(text):
    return text.encode("utf-8", "backslashreplace")


class _InvocationLog:
    """Per-invocation line buffer; only the invocation's own thread touches it."""

    __slots__ = ("request_id", "prefix", "partial")

    def __init__(self, request_id):
        self.request_id = request_id
        self.prefix = "\x1f" + request_id + "\x1f"
        self.partial = []

    def feed(self, text):
        """Adds text; returns the attributed complete lines (possibly '') to write."""
        nl = text.rfind("\n")
        if nl < 0:
            if text:
                self.partial.append(text)
            return ""
        lines = text[:nl]
        if self.partial:
            self.partial.append(lines)
            lines = "".join(self.partial)
        tail = text[nl + 1:]
        self.partial = [tail] if tail else []
        prefix = self.prefix
        if "\n" in lines:
            return prefix + lines.replace("\n", "\n" + prefix) + "\n"
        return prefix + lines + "\n"

    def finish(self, extra=""):
        """Ends the output: trailing partial line, `extra` text, then the end marker."""
        out = self.feed(extra) if extra else ""
        if self.partial:
            out += self.prefix + "".join(self.partial) + "\n"
            self.partial = []
        return out + "\x1e" + self.request_id + "\n"


class _BinaryView:
    """Stands in for sys.stdout.buffer / sys.stderr.buffer."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, data):
        data = bytes(data)
        if _state.inv is None:
            if data:
                _write_fd(self._stream.fileno(), data)
        else:
            self._stream.write(data.decode("utf-8", "replace"))
        return len(data)

    def flush(self):
        pass

    def fileno(self):
        return self._stream.fileno()

    def writable(self):
        return True


class _LogStream(io.TextIOBase):
    """Replacement for sys.stdout / sys.stderr (see the module docstring)."""

    def __init__(self, fd, name):
        super().__init__()
        self._fd = fd
        self._name = name
        self.buffer = _BinaryView(self)

    @property
    def name(self):
        return self._name

    @property
    def encoding(self):
        return "utf-8"

    @property
    def errors(self):
        return "backslashreplace"

    @property
    def line_buffering(self):
        return True

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError("write() argument must be str, not " + type(s).__name__)
        inv = _state.inv
        if inv is None:
            if s:
                _write_fd(self._fd, _encode(s))
        else:
            out = inv.feed(s)
            if out:
                _write_fd(1, _encode(out))
        return len(s)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        pass

    def fileno(self):
        return self._fd

    def isatty(self):
        try:
            return os.isatty(self._fd)
        except OSError:
            return False

    def writable(self):
        return True

    def readable(self):
        return False

    def seekable(self):
        return False

    def close(self):
        pass  # the runtime's streams stay open

    @property
    def closed(self):
        return False


def _install_streams():
    sys.stdout = _LogStream(1, "<stdout>")
    sys.stderr = _LogStream(2, "<stderr>")


def _log_error(message):
    """Unattributed message to stderr (fd 2)."""
    if not message.endswith("\n"):
        message += "\n"
    try:
        _write_fd(2, _encode(message))
    except OSError:
        pass


# ---------------------------------------------------------------------------
# logging: root logger -> "[LEVEL]\t<time>\t<request id>\t<message>" via sys.stdout
# ---------------------------------------------------------------------------

_LOG_LEVELS = {
    "TRACE": logging.DEBUG,
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
    "FATAL": logging.CRITICAL,
    "CRITICAL": logging.CRITICAL,
}


class _RequestIdFilter(logging.Filter):
    def filter(self, record):
        inv = _state.inv
        record.aws_request_id = inv.request_id if inv is not None else ""
        return True


class _LambdaFormatter(logging.Formatter):
    def __init__(self):
        super().__init__("[%(levelname)s]\t%(asctime)s\t%(aws_request_id)s\t%(message)s")

    def formatTime(self, record, datefmt=None):
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + ".%03dZ" % record.msecs


class _LambdaLogHandler(logging.Handler):
    def emit(self, record):
        try:
            sys.stdout.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)


def _install_logging():
    handler = _LambdaLogHandler()
    handler.setFormatter(_LambdaFormatter())
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def _configure_log_level():
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").strip().upper()
    logging.getLogger().setLevel(_LOG_LEVELS.get(level, logging.INFO))


# ---------------------------------------------------------------------------
# Prewarm: one JSON line from stdin replaces identity, cwd and environment
# ---------------------------------------------------------------------------


def _apply_prewarm():
    line = sys.stdin.buffer.readline()
    if not line:
        raise RuntimeError("stdin closed before the prewarm line arrived")
    spec = json.loads(line)
    if not isinstance(spec, dict):
        raise RuntimeError("prewarm line is not a JSON object")
    gid = spec.get("gid")
    uid = spec.get("uid")
    if (gid is not None or uid is not None) and os.geteuid() == 0:
        os.setgroups([])  # drop root's supplementary groups before switching identity
    if gid is not None:
        os.setgid(int(gid))
    if uid is not None:
        os.setuid(int(uid))
    cwd = spec.get("cwd")
    if cwd:
        os.chdir(cwd)
    env = spec.get("env") or {}
    os.environ.clear()
    for key, value in env.items():
        if value is not None:
            os.environ[str(key)] = str(value)
    time.tzset()


# ---------------------------------------------------------------------------
# Runtime API client: hand-written HTTP/1.1 over one kept-alive TCP connection per loop
# ---------------------------------------------------------------------------

_MAX_HEAD_BYTES = 64 * 1024
_RECV_BYTES = 64 * 1024


class ProtocolError(Exception):
    """The Runtime API sent something that is not an HTTP/1.1 response."""


class RetryableError(ConnectionError):
    """A kept-alive connection was found closed before any byte of the response."""


class Response:
    __slots__ = ("status", "headers", "body")

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-cased names
        self.body = body        # bytes

    def getheader(self, name, default=None):
        return self.headers.get(name.lower(), default)


def _parse_head(head):
    """(status, headers) of 'HTTP/1.1 200 OK\\r\\nName: value…' (latin-1 str, no blank line)."""
    lines = head.split("\r\n")
    status_line = lines[0]
    if not status_line.startswith("HTTP/1.") or len(status_line) < 12 or not status_line[9:12].isdigit():
        raise ProtocolError("bad status line %r" % status_line[:40])
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            name = name.lower()  # HTTP allows no whitespace between a field name and its colon
            if name in headers:
                headers[name] += ", " + value.strip()
            else:
                headers[name] = value.strip()
    return int(status_line[9:12]), headers


def _parse_host_port(value):
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError("AWS_LAMBDA_RUNTIME_API must be host:port (got %r)" % value)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def _is_ipv4(host):
    try:
        socket.inet_pton(socket.AF_INET, host)
        return True
    except OSError:
        return False


class RuntimeClient:
    """One kept-alive TCP connection to the Runtime API, used by one loop thread.

    Each request goes out in one `sendall` (request line, headers and body in one bytes
    object) on a TCP_NODELAY socket; the response is read by a minimal parser: status,
    headers, a Content-Length body (chunked and close-delimited bodies are tolerated,
    though Swell always sends Content-Length). A request that fails on a connection that
    had served earlier requests, before any byte of its response, is retried once on a
    new connection (the server may have closed the idle one).
    """

    def __init__(self, endpoint):
        self._host, self._port = _parse_host_port(endpoint)
        host_line = b"Host: " + endpoint.encode("latin-1") + b"\r\n"
        self._next_request = b"GET " + API_PREFIX.encode() + b"/invocation/next HTTP/1.1\r\n" + host_line + b"\r\n"
        self._post_tail = b" HTTP/1.1\r\n" + host_line + b"Content-Type: application/json\r\nContent-Length: "
        self._sock = None
        self._exchanges = 0      # completed exchanges on the current socket
        self._started = False    # any byte of the current response received
        self._next_sent = False  # a `next` went out behind the last post (pipelined), unanswered yet
        self._rest = b""         # bytes received past the last response: the start of that `next`'s

    def connect(self):
        """Opens the connection now (it is otherwise opened by the first request).

        An IPv4 address (what Swell gives) is connected to directly: `create_connection`
        asks `getaddrinfo` first, whose first call in a process costs 2-25 ms (measured on a
        loaded 2-core machine), in the middle of a cold start."""
        if _is_ipv4(self._host):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                sock.connect((self._host, self._port))
            except BaseException:
                sock.close()
                raise
        else:
            sock = socket.create_connection((self._host, self._port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock
        self._exchanges = 0

    def close(self):
        sock, self._sock = self._sock, None
        self._next_sent = False
        self._rest = b""
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    def _send(self, data, then_next=False):
        """Writes `data` (a whole request; with `then_next`, followed by a `next` request in the
        same write) and reads the first request's response."""
        if self._sock is None:
            self.connect()
        reused = self._exchanges > 0
        try:
            try:
                self._sock.sendall(data + self._next_request if then_next else data)
            except OSError as exc:
                self.close()
                if isinstance(exc, ConnectionError):
                    raise RetryableError(str(exc)) from exc
                raise
            resp = self._receive(then_next)
        except RetryableError as exc:
            if not reused:  # a new connection that failed at once: no retry
                raise ConnectionResetError(str(exc)) from None
            raise
        self._next_sent = then_next and self._sock is not None
        return resp

    def _receive(self, more):
        """Reads one response; `more`: another response (a pipelined `next`) may follow it."""
        self._started = bool(self._rest)
        try:
            resp = self._read_response(more)
        except (OSError, ProtocolError) as exc:
            self.close()
            if not self._started and isinstance(exc, ConnectionError):
                raise RetryableError(str(exc)) from exc
            raise
        self._exchanges += 1
        if resp.headers.get("connection", "").lower() == "close":
            self.close()  # a `next` sent behind this request is lost with the connection
        return resp

    def _read_response(self, more=False):
        """Reads one response. Raises ConnectionResetError on EOF before its first byte. Bytes
        after it are kept for the next response when `more`, else a protocol error."""
        buf, self._rest = self._rest, b""
        started = bool(buf)
        recv = self._sock.recv
        while True:
            end = buf.find(b"\r\n\r\n")
            while end < 0:
                if len(buf) > _MAX_HEAD_BYTES:
                    raise ProtocolError("header block too large")
                chunk = recv(_RECV_BYTES)
                if not chunk:
                    if started:
                        raise ProtocolError("connection closed mid-response")
                    raise ConnectionResetError("the Runtime API closed the connection")
                started = self._started = True
                buf += chunk
                end = buf.find(b"\r\n\r\n")
            status, headers = _parse_head(buf[:end].decode("latin-1"))
            buf = buf[end + 4:]
            if status >= 200:
                break  # else an interim response (100 Continue): skip it
        te = headers.get("transfer-encoding")
        length = headers.get("content-length")
        if te is not None and "chunked" in te.lower():
            body, buf = self._read_chunked(buf)
        elif length is not None:
            if not length.isdigit():
                raise ProtocolError("bad Content-Length %r" % length)
            length = int(length)
            if len(buf) < length:
                parts = [buf]
                have = len(buf)
                while have < length:
                    chunk = recv(min(length - have, 1 << 20) if length - have > _RECV_BYTES else _RECV_BYTES)
                    if not chunk:
                        raise ProtocolError("connection closed mid-response")
                    parts.append(chunk)
                    have += len(chunk)
                buf = b"".join(parts)
            body = buf[:length]
            buf = buf[length:]
        elif status in (204, 304):
            body = b""
        else:  # the body runs to the end of the connection
            parts = [buf]
            while True:
                chunk = recv(_RECV_BYTES)
                if not chunk:
                    break
                parts.append(chunk)
            body, buf = b"".join(parts), b""
            self.close()
        if buf:
            if not more:
                raise ProtocolError("%d bytes after the response" % len(buf))
            self._rest = buf
        return Response(status, headers, body)

    def _read_chunked(self, buf):
        recv = self._sock.recv
        parts = []
        pos = 0
        while True:
            nl = buf.find(b"\n", pos)
            while nl < 0:
                chunk = recv(_RECV_BYTES)
                if not chunk:
                    raise ProtocolError("connection closed mid-response")
                buf = buf[pos:] + chunk
                pos = 0
                nl = buf.find(b"\n")
            try:
                size = int(buf[pos:nl].split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise ProtocolError("bad chunk size") from None
            pos = nl + 1
            if size == 0:
                # trailers, up to the blank line
                while True:
                    if buf[pos:pos + 2] == b"\r\n":
                        return b"".join(parts), buf[pos + 2:]
                    end = buf.find(b"\r\n\r\n", pos)
                    if end >= 0:
                        return b"".join(parts), buf[end + 4:]
                    chunk = recv(_RECV_BYTES)
                    if not chunk:
                        raise ProtocolError("connection closed mid-response")
                    buf += chunk
            while len(buf) - pos < size + 2:
                chunk = recv(_RECV_BYTES)
                if not chunk:
                    raise ProtocolError("connection closed mid-response")
                buf = buf[pos:] + chunk
                pos = 0
            parts.append(buf[pos:pos + size])
            pos += size + 2

    def _request(self, data, then_next=False):
        try:
            return self._send(data, then_next)
        except RetryableError:
            return self._send(data, then_next)

    def _post(self, path, body, extra_headers=b"", then_next=False):
        return self._request(b"POST " + path + self._post_tail + str(len(body)).encode() + b"\r\n"
                             + extra_headers + b"\r\n" + body, then_next)

    def next(self):
        if self._next_sent:  # its request went out behind the last post
            self._next_sent = False
            try:
                resp = self._receive(False)
            except RetryableError:  # the connection closed after the post: ask again on a new one
                resp = self._send(self._next_request)
        else:
            resp = self._request(self._next_request)
        if resp.status != 200:
            raise RuntimeError("HTTP %d: %s" % (resp.status, resp.body[:200].decode("utf-8", "replace")))
        return resp

    def post_response(self, request_id, payload, then_next=False):
        return self._post(_PREFIX_BYTES + _path_id(request_id) + b"/response", payload, b"", then_next)

    def post_error(self, request_id, error, then_next=False):
        return self._post(_PREFIX_BYTES + _path_id(request_id) + b"/error", _error_body(error),
                          b"Lambda-Runtime-Function-Error-Type: " + _header_safe(error["errorType"]).encode() + b"\r\n",
                          then_next)

    def post_init_error(self, error):
        return self._post(API_PREFIX.encode() + b"/init/error", _error_body(error),
                          b"Lambda-Runtime-Function-Error-Type: " + _header_safe(error["errorType"]).encode() + b"\r\n")


_PREFIX_BYTES = API_PREFIX.encode() + b"/invocation/"
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _path_id(request_id):
    """The request id as a URL path segment (percent-encoded unless it is plain, as Swell's are)."""
    raw = request_id.encode("utf-8", "surrogatepass")
    if raw.replace(b"-", b"").isalnum():
        return raw
    return b"".join(bytes((c,)) if c in _UNRESERVED else b"%%%02X" % c for c in raw)


# ---------------------------------------------------------------------------
# Errors and JSON
# ---------------------------------------------------------------------------


def _header_safe(value):
    return "".join(c if " " <= c <= "~" else "?" for c in value) or "Error"


def _error_body(error):
    return json.dumps(error, ensure_ascii=False).encode("utf-8", "backslashreplace")


def _stack_lines(tb):
    """traceback.format_tb-like lines without the bootstrap's and importlib's frames."""
    frames = [f for f in traceback.extract_tb(tb)
              if f.filename not in _HIDDEN_FRAME_FILES and not f.filename.startswith("<frozen importlib")]
    return traceback.format_list(frames)


def _safe_str(value):
    try:
        return str(value)
    except Exception:
        return "<unprintable %s>" % type(value).__name__


def _error_payload(exc, error_type=None, message=None):
    return {
        "errorType": error_type or type(exc).__name__,
        "errorMessage": _safe_str(exc) if message is None else message,
        "stackTrace": _stack_lines(exc.__traceback__),
    }


def _format_error(error):
    text = "[ERROR] %s: %s\n" % (error["errorType"], error["errorMessage"])
    if error["stackTrace"]:
        text += "Traceback (most recent call last):\n" + "".join(error["stackTrace"])
    return text if text.endswith("\n") else text + "\n"


def _json_default(obj):
    import decimal

    if isinstance(obj, decimal.Decimal):
        return float(obj)
    raise TypeError("Object of type %s is not JSON serializable" % type(obj).__name__)


# What json.dumps(result, ensure_ascii=…, default=_json_default) builds on every call, built once.
_ENCODE = json.JSONEncoder(ensure_ascii=False, default=_json_default).encode
_ENCODE_ASCII = json.JSONEncoder(default=_json_default).encode


_DECODE = json.JSONDecoder().decode


def _parse_event(body):
    """json.loads(body) without its encoding detection when the text starts as UTF-8 JSON does."""
    if body[:1] in (b"{", b"[", b'"'):
        return _DECODE(body.decode("utf-8", "surrogatepass"))
    return json.loads(body)


def _to_json(result):
    try:
        return _ENCODE(result).encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: fall back to \u escapes
        return _ENCODE_ASCII(result).encode("ascii")


# ---------------------------------------------------------------------------
# Handler loading
# ---------------------------------------------------------------------------


class InitError(Exception):
    def __init__(self, error):
        super().__init__(error["errorMessage"])
        self.error = error


def load_handler(handler_name):
    module_name, _, function_name = handler_name.rpartition(".")
    module_name = module_name.replace("/", ".")
    if not module_name or not function_name or "" in module_name.split("."):
        raise InitError({"errorType": "Runtime.MalformedHandlerName",
                         "errorMessage": "Bad handler '%s': expected 'module.function'" % handler_name,
                         "stackTrace": []})
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InitError(_error_payload(exc, "Runtime.ImportModuleError",
                                       "Unable to import module '%s': %s" % (module_name, _safe_str(exc))))
    except Exception as exc:
        raise InitError(_error_payload(exc))
    handler = getattr(module, function_name, None)
    if handler is None or not callable(handler):
        raise InitError({"errorType": "Runtime.HandlerNotFound",
                         "errorMessage": "Handler '%s' missing on module '%s'" % (function_name, module_name),
                         "stackTrace": []})
    return handler


# ---------------------------------------------------------------------------
# Context
# ---------------------------------------------------------------------------


class CognitoIdentity:
    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self, data):
        self.cognito_identity_id = data.get("cognitoIdentityId")
        self.cognito_identity_pool_id = data.get("cognitoIdentityPoolId")


class Client:
    __slots__ = ("installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name")

    def __init__(self, data):
        self.installation_id = data.get("installation_id")
        self.app_title = data.get("app_title")
        self.app_version_name = data.get("app_version_name")
        self.app_version_code = data.get("app_version_code")
        self.app_package_name = data.get("app_package_name")


class ClientContext:
    __slots__ = ("client", "custom", "env")

    def __init__(self, data):
        client = data.get("client")
        self.client = Client(client) if isinstance(client, dict) else None
        self.custom = data.get("custom")
        self.env = data.get("env")


def _json_header(value):
    if not value:
        return None
    try:
        data = json.loads(value)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


class LambdaContext:
    __slots__ = ("aws_request_id", "invoked_function_arn", "function_name", "function_version",
                 "memory_limit_in_mb", "log_group_name", "log_stream_name", "identity",
                 "client_context", "_deadline_ms")

    def __init__(self, config, request_id, deadline_ms, arn, identity, client_context):
        self.aws_request_id = request_id
        self.invoked_function_arn = arn
        self.function_name = config.function_name
        self.function_version = config.function_version
        self.memory_limit_in_mb = config.memory_limit_in_mb
        self.log_group_name = config.log_group_name
        self.log_stream_name = config.log_stream_name
        self.identity = CognitoIdentity(identity or {})
        self.client_context = ClientContext(client_context) if client_context is not None else None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def log(self, message):
        sys.stdout.write(str(message))

    def __repr__(self):
        return "LambdaContext(aws_request_id=%r, function_name=%r, function_version=%r)" % (
            self.aws_request_id, self.function_name, self.function_version)


# ---------------------------------------------------------------------------
# Invocation loop
# ---------------------------------------------------------------------------


class Config:
    def __init__(self, env):
        self.runtime_api = env.get("AWS_LAMBDA_RUNTIME_API", "")
        self.handler = env.get("_HANDLER", "")
        self.task_root = env.get("LAMBDA_TASK_ROOT") or os.getcwd()
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        try:
            self.concurrency = max(1, int(env.get("SWELL_CONCURRENCY", "1")))
        except ValueError:
            self.concurrency = 1


def _exit_code(exc):
    if isinstance(exc, SystemExit):
        if exc.code is None:
            return 0
        if isinstance(exc.code, int):
            return exc.code
    return 1


def _handle(client, handler, config, resp):
    headers = resp.headers
    body = resp.body
    request_id = headers["lambda-runtime-aws-request-id"]
    try:
        deadline_ms = int(headers.get("lambda-runtime-deadline-ms") or 0)
    except ValueError:
        deadline_ms = 0
    trace_id = headers.get("lambda-runtime-trace-id")
    if trace_id:
        os.environ["_X_AMZN_TRACE_ID"] = trace_id
    else:
        os.environ.pop("_X_AMZN_TRACE_ID", None)
    try:
        event = _parse_event(body)
    except ValueError:
        event = body.decode("utf-8", "replace")
    context = LambdaContext(config, request_id, deadline_ms,
                            headers.get("lambda-runtime-invoked-function-arn"),
                            _json_header(headers.get("lambda-runtime-cognito-identity")),
                            _json_header(headers.get("lambda-runtime-client-context")))

    inv = _InvocationLog(request_id)
    error = None
    payload = None
    _state.inv = inv
    try:
        result = handler(event, context)
    except Exception as exc:
        error = _error_payload(exc)
    except BaseException as exc:  # SystemExit / KeyboardInterrupt: the process ends, as on AWS
        _state.inv = None
        _write_fd(1, _encode(inv.finish()))
        _log_error("[ERROR] %s raised in the handler of %s; exiting" % (type(exc).__name__, request_id))
        os._exit(_exit_code(exc))
    finally:
        _state.inv = None
    if error is None:
        try:
            payload = _to_json(result)
        except Exception as exc:
            error = {"errorType": "Runtime.MarshalError",
                     "errorMessage": "Unable to marshal response: %s" % _safe_str(exc),
                     "stackTrace": []}
        del result

    _write_fd(1, _encode(inv.finish(_format_error(error) if error is not None else "")))

    # The next `next` goes out in the same write as the post (pipelined: Swell answers the post
    # before it reads the `next`), saving a write, a wake-up and a read per invocation.
    if error is None:
        reply = client.post_response(request_id, payload, True)
    else:
        reply = client.post_error(request_id, error, True)
    status = reply.status
    if status == 413:
        _log_error("swell-runtime: response of invocation %s is too large (413): %s"
                   % (request_id, reply.body.decode("utf-8", "replace")))
    elif not 200 <= status < 300:
        _log_error("swell-runtime: posting the outcome of %s failed with HTTP %d: %s"
                   % (request_id, status, reply.body.decode("utf-8", "replace")))


def _loop(client, handler, config):
    failures = 0
    while True:
        try:
            resp = client.next()
            if not resp.headers.get("lambda-runtime-aws-request-id"):
                raise RuntimeError("next invocation without a request id")
            failures = 0
        except Exception as exc:
            client.close()
            if failures >= len(NEXT_RETRY_DELAYS):
                _log_error("swell-runtime: cannot get the next invocation (%s); exiting" % _safe_str(exc))
                os._exit(1)
            time.sleep(NEXT_RETRY_DELAYS[failures])
            failures += 1
            continue
        try:
            _handle(client, handler, config, resp)
        except Exception as exc:
            client.close()
            _log_error("swell-runtime: invocation %s failed: %s"
                       % (resp.headers.get("lambda-runtime-aws-request-id"), _safe_str(exc)))


def _loop_thread(*args):
    try:
        _loop(*args)
    except BaseException as exc:
        _log_error("swell-runtime: loop thread died: %s" % _safe_str(exc))
        os._exit(1)


def _warm_up():
    """Runs the client's request and response paths over a socket pair with canned replies
    (a next, a response post with a pipelined next, a chunked error reply), so that a
    pre-booted process has everything loaded before its function arrives."""
    event = '{"warm":"up","\u00fc":[1,2,3]}'.encode()
    next_reply = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                  b"Lambda-Runtime-Aws-Request-Id: warm-up\r\nLambda-Runtime-Deadline-Ms: 0\r\n"
                  b"Lambda-Runtime-Trace-Id: Root=warm-up\r\n\r\n" % len(event)) + event
    accepted = b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"status\":\"OK\"}"
    chunked = b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n2\r\n1}\r\n0\r\n\r\n"
    ours, theirs = socket.socketpair()
    ours.settimeout(1.0)  # never let a stuck warm-up hold the cold start
    theirs.settimeout(1.0)
    try:
        client = RuntimeClient("127.0.0.1:9")
        client._sock = ours
        for _ in range(2):
            theirs.sendall(next_reply)
            resp = client.next()
            json.loads(resp.body)
            _InvocationLog(resp.headers["lambda-runtime-aws-request-id"]).finish("line\n")
            theirs.sendall(accepted + next_reply)  # the post's reply, then the `next` pipelined behind it
            client.post_response("warm-up", _to_json({"warm": "up"}), True)
            client.next()
            theirs.sendall(chunked)
            client.post_error("warm-up", _error_payload(ValueError("warm-up")))
            theirs.recv(1 << 16)
    except Exception:
        pass  # a warm-up that fails costs nothing but the warmth
    finally:
        ours.close()
        theirs.close()


def main():
    _install_streams()
    _install_logging()
    if os.environ.get("SWELL_PREWARM") == "1":
        _warm_up()
        try:
            _apply_prewarm()
        except Exception as exc:
            _log_error("swell-runtime: prewarm failed: %s: %s" % (type(exc).__name__, _safe_str(exc)))
            os._exit(1)

    config = Config(os.environ)
    _configure_log_level()
    try:
        clients = [RuntimeClient(config.runtime_api) for _ in range(config.concurrency)]
    except ValueError as exc:
        _log_error("swell-runtime: %s" % exc)
        os._exit(1)

    for client in clients:  # connected before the import; a failure here is retried by the loop
        try:
            client.connect()
        except OSError:
            client.close()

    own_dir = os.path.dirname(_BOOTSTRAP_FILE)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != own_dir]
    sys.path.insert(0, config.task_root)

    try:
        handler = load_handler(config.handler)
    except InitError as exc:
        error = exc.error
        _log_error(_format_error(error))
        try:
            clients[0].post_init_error(error)
        except Exception as post_exc:
            _log_error("swell-runtime: could not post the init error: %s" % _safe_str(post_exc))
        os._exit(1)

    for client in clients[1:]:
        threading.Thread(target=_loop_thread, args=(client, handler, config), daemon=True).start()
    _loop_thread(clients[0], handler, config)


if __name__ == "__main__":
    main()
