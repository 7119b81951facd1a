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
own keep-alive connection.

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

import http.client
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
# Runtime API client
# ---------------------------------------------------------------------------


class _Connection(http.client.HTTPConnection):
    """Keep-alive connection with TCP_NODELAY that sends each request in one call."""

    def connect(self):
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _send_output(self, message_body=None, encode_chunked=False):
        self._buffer.extend((b"", b""))
        head = b"\r\n".join(self._buffer)
        del self._buffer[:]
        if self.sock is None:
            self.connect()
        if not message_body:
            self.sock.sendall(head)
            return
        buffers = [memoryview(head), memoryview(message_body)]
        while buffers:  # scatter/gather: headers and body in one sendmsg, no copy
            sent = self.sock.sendmsg(buffers)
            while sent:
                first = len(buffers[0])
                if sent >= first:
                    sent -= first
                    buffers.pop(0)
                else:
                    buffers[0] = buffers[0][sent:]
                    sent = 0


def _parse_host_port(value):
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError("AWS_LAMBDA_RUNTIME_API must be host:port (got %r)" % value)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


class RuntimeClient:
    """One per loop thread."""

    def __init__(self, host, port):
        self._conn = _Connection(host, port, timeout=None)

    def close(self):
        self._conn.close()

    def _exchange(self, method, path, body=None, headers=None):
        conn = self._conn
        conn.putrequest(method, path, skip_accept_encoding=True)
        if headers:
            for name, value in headers:
                conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        data = resp.read()
        return resp, data

    def _post(self, path, body, headers):
        reused = self._conn.sock is not None
        try:
            return self._exchange("POST", path, body, headers)
        except (ConnectionError, http.client.HTTPException, OSError):
            self._conn.close()
            if not reused:
                raise
            return self._exchange("POST", path, body, headers)  # the kept-alive socket was stale

    def next(self):
        try:
            resp, data = self._exchange("GET", API_PREFIX + "/invocation/next")
        except BaseException:
            self._conn.close()
            raise
        if resp.status != 200:
            raise RuntimeError("HTTP %d: %s" % (resp.status, data[:200].decode("utf-8", "replace")))
        return resp, data

    def post_response(self, request_id, payload):
        return self._post(API_PREFIX + "/invocation/" + request_id + "/response", payload,
                          (("Content-Type", "application/json"),))

    def post_error(self, request_id, error):
        return self._post(API_PREFIX + "/invocation/" + request_id + "/error", _error_body(error),
                          (("Content-Type", "application/json"),
                           ("Lambda-Runtime-Function-Error-Type", _header_safe(error["errorType"]))))

    def post_init_error(self, error):
        return self._post(API_PREFIX + "/init/error", _error_body(error),
                          (("Content-Type", "application/json"),
                           ("Lambda-Runtime-Function-Error-Type", _header_safe(error["errorType"]))))


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


def _to_json(result):
    try:
        return json.dumps(result, ensure_ascii=False, default=_json_default).encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: fall back to \u escapes
        return json.dumps(result, default=_json_default).encode("ascii")


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


def _handle(client, handler, config, resp, body):
    request_id = resp.getheader("Lambda-Runtime-Aws-Request-Id")
    try:
        deadline_ms = int(resp.getheader("Lambda-Runtime-Deadline-Ms") or 0)
    except ValueError:
        deadline_ms = 0
    trace_id = resp.getheader("Lambda-Runtime-Trace-Id")
    if trace_id:
        os.environ["_X_AMZN_TRACE_ID"] = trace_id
    else:
        os.environ.pop("_X_AMZN_TRACE_ID", None)
    try:
        event = json.loads(body)
    except ValueError:
        event = body.decode("utf-8", "replace")
    context = LambdaContext(config, request_id, deadline_ms,
                            resp.getheader("Lambda-Runtime-Invoked-Function-Arn"),
                            _json_header(resp.getheader("Lambda-Runtime-Cognito-Identity")),
                            _json_header(resp.getheader("Lambda-Runtime-Client-Context")))

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

    if error is None:
        resp, data = client.post_response(request_id, payload)
    else:
        resp, data = client.post_error(request_id, error)
    if resp.status == 413:
        _log_error("swell-runtime: response of invocation %s is too large (413): %s"
                   % (request_id, data.decode("utf-8", "replace")))
    elif not 200 <= resp.status < 300:
        _log_error("swell-runtime: posting the outcome of %s failed with HTTP %d: %s"
                   % (request_id, resp.status, data.decode("utf-8", "replace")))


def _loop(host, port, handler, config):
    client = RuntimeClient(host, port)
    failures = 0
    while True:
        try:
            resp, body = client.next()
            if not resp.getheader("Lambda-Runtime-Aws-Request-Id"):
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
            _handle(client, handler, config, resp, body)
        except Exception as exc:
            client.close()
            _log_error("swell-runtime: invocation %s failed: %s"
                       % (resp.getheader("Lambda-Runtime-Aws-Request-Id"), _safe_str(exc)))


def _loop_thread(*args):
    try:
        _loop(*args)
    except BaseException as exc:
        _log_error("swell-runtime: loop thread died: %s" % _safe_str(exc))
        os._exit(1)


def main():
    _install_streams()
    _install_logging()
    if os.environ.get("SWELL_PREWARM") == "1":
        try:
            _apply_prewarm()
        except Exception as exc:
            _log_error("swell-runtime: prewarm failed: %s: %s" % (type(exc).__name__, _safe_str(exc)))
            os._exit(1)

    config = Config(os.environ)
    _configure_log_level()
    try:
        host, port = _parse_host_port(config.runtime_api)
    except ValueError as exc:
        _log_error("swell-runtime: %s" % exc)
        os._exit(1)

    own_dir = os.path.dirname(_BOOTSTRAP_FILE)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != own_dir]
    sys.path.insert(0, config.task_root)

    try:
        handler = load_handler(config.handler)
    except InitError as exc:
        error = exc.error
        _log_error(_format_error(error))
        client = RuntimeClient(host, port)
        try:
            client.post_init_error(error)
        except Exception as post_exc:
            _log_error("swell-runtime: could not post the init error: %s" % _safe_str(post_exc))
        os._exit(1)

    for _ in range(config.concurrency - 1):
        threading.Thread(target=_loop_thread, args=(host, port, handler, config), daemon=True).start()
    _loop_thread(host, port, handler, config)


if __name__ == "__main__":
    main()
