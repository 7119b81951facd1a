"""Swell's own bootstraps (Node.js and Python) against a small fake Runtime API on
127.0.0.1: the hand-written HTTP/1.1 framing (responses split across many TCP segments,
chunked bodies, kept-alive reuse, a server that closes the connection between requests,
large and non-ASCII bodies, one connection per loop at concurrency > 1) and the protocol
with Swell (log markers before the result, error posts with their header, 413, init
errors, prewarm with a switch to an unprivileged uid).

These run the bootstrap files of this checkout directly, without `swell serve`.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

BOOTSTRAPS = Path(__file__).resolve().parents[2] / "Sources" / "SwellRuntime" / "Bootstraps"
NODE_BIN = "/usr/bin/node" if os.path.exists("/usr/bin/node") else (shutil.which("node") or "node")
PYTHON_BIN = "/usr/bin/python3"
RUNTIMES = ["node", "python"]

NODE_HANDLER = r"""
exports.handler = async (event, context) => {
  if (event.sleep) await new Promise((r) => setTimeout(r, event.sleep));
  if (event.log) console.log(event.log);
  if (event.fail) throw new TypeError('failed: ' + event.fail);
  if (event.big) return 'x'.repeat(event.big);
  return { echo: event, id: context.awsRequestId, arn: context.invokedFunctionArn,
           trace: process.env._X_AMZN_TRACE_ID || null, uid: process.getuid(), cwd: process.cwd(),
           greeting: process.env.GREETING || null };
};
"""

PYTHON_HANDLER = r"""
import os, time

def handler(event, context):
    if event.get("sleep"):
        time.sleep(event["sleep"] / 1000)
    if event.get("log"):
        print(event["log"])
    if event.get("fail"):
        raise ValueError("failed: " + event["fail"])
    if event.get("big"):
        return "x" * event["big"]
    return {"echo": event, "id": context.aws_request_id, "arn": context.invoked_function_arn,
            "trace": os.environ.get("_X_AMZN_TRACE_ID"), "uid": os.getuid(), "cwd": os.getcwd(),
            "greeting": os.environ.get("GREETING")}
"""

ERROR_TYPE = {"node": "TypeError", "python": "ValueError"}


# --- a fake Runtime API -------------------------------------------------------------------


def read_request(sock: socket.socket, buf: bytearray):
    """One HTTP/1.1 request (Content-Length body) from `sock`; None at EOF."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buf += chunk
    end = buf.index(b"\r\n\r\n")
    lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
    del buf[:end + 4]
    method, path, version = lines[0].split(" ")
    assert version == "HTTP/1.1", lines[0]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    assert "transfer-encoding" not in headers, "the bootstrap sends Content-Length bodies"
    length = int(headers.get("content-length", "0"))
    while len(buf) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buf += chunk
    body = bytes(buf[:length])
    del buf[:length]
    return method, path, headers, body


class FakeRuntimeAPI:
    """Serves queued events on `next` and records what the bootstrap posts.

    split: send every response in small pieces (1, 2, 3, 5, 8… bytes) with a pause
    between them, each its own TCP segment; chunked: send `next` bodies chunked;
    close_after: close the connection after every response (no `Connection: close`);
    close_header: say `Connection: close` and close; reply_status: the status of
    response posts (202, or 413); coalesce: send a post's reply together with the reply to
    the `next` pipelined behind it (one write, so one read on the bootstrap's side)."""

    def __init__(self, split=False, chunked=False, close_after=False, close_header=False, reply_status=202,
                 marker_source=None, coalesce=False):
        self.coalesce = coalesce
        self.pipelined = 0  # posts whose connection already held the next request when they were read
        self.split = split
        self.chunked = chunked
        self.close_after = close_after
        self.close_header = close_header
        self.reply_status = reply_status
        self.marker_source = marker_source  # callable -> bytes seen on the bootstrap's stdout so far
        self.events: queue.Queue = queue.Queue()
        self.posts: dict[str, tuple[str, dict, bytes]] = {}
        self.init_errors: list[tuple[dict, bytes]] = []
        self.marker_first: dict[str, bool] = {}
        self.connections = 0
        self.requests = 0
        self.lock = threading.Lock()
        self.done = threading.Condition(self.lock)
        self.stopped = False
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def add(self, event, request_id: str | None = None, headers: dict | None = None) -> str:
        rid = request_id or str(uuid.uuid4())
        body = event if isinstance(event, bytes) else json.dumps(event, ensure_ascii=False).encode()
        self.events.put((rid, body, headers or {}))
        return rid

    def wait_posts(self, count: int, timeout: float = 30) -> None:
        with self.done:
            assert self.done.wait_for(lambda: len(self.posts) >= count, timeout), \
                f"{len(self.posts)} of {count} results posted"

    def stop(self) -> None:
        self.stopped = True
        self.listener.close()

    def _accept(self) -> None:
        while not self.stopped:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _send(self, sock: socket.socket, data: bytes) -> None:
        if not self.split:
            sock.sendall(data)
            return
        sizes = [1, 2, 3, 5, 8, 13, 21, 34, 55, 89]
        pos = i = 0
        while pos < len(data):
            n = sizes[i % len(sizes)] if len(data) < 100_000 else 65536 + i
            sock.sendall(data[pos:pos + n])
            pos += n
            i += 1
            time.sleep(0.0005)

    def _response(self, status: int, reason: str, headers: list[tuple[str, str]], body: bytes, chunked=False) -> bytes:
        if self.close_header:
            headers = headers + [("Connection", "close")]
        if chunked:
            head = headers + [("Transfer-Encoding", "chunked")]
            pieces, pos, n = [], 0, 1
            while pos < len(body):
                part = body[pos:pos + n]
                pieces.append(b"%x;ext=1\r\n" % len(part) + part + b"\r\n")
                pos += n
                n = n * 3 + 1
            payload = b"".join(pieces) + b"0\r\nX-Trailer: yes\r\n\r\n"
        else:
            head = headers + [("Content-Length", str(len(body)))]
            payload = body
        text = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in head) + "\r\n"
        return text.encode("latin-1") + payload

    def _serve(self, sock: socket.socket) -> None:
        buf = bytearray()
        held = b""  # a post's reply held back to go out with the next response (coalesce)
        with sock:
            while not self.stopped:
                try:
                    req = read_request(sock, buf)
                except OSError:
                    return
                if req is None:
                    return
                method, path, headers, body = req
                pipelined = method == "POST" and bytes(buf).startswith(b"GET /2018-06-01/runtime/invocation/next ")
                with self.lock:
                    self.requests += 1
                    self.pipelined += pipelined
                if method == "GET" and path == "/2018-06-01/runtime/invocation/next":
                    while True:
                        try:
                            rid, event, extra = self.events.get(timeout=0.2)
                            break
                        except queue.Empty:
                            if self.stopped:
                                return
                    hdrs = [("Content-Type", "application/json"), ("Lambda-Runtime-Aws-Request-Id", rid),
                            ("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60000)),
                            ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:swell:default:function:fake"),
                            ("Lambda-Runtime-Trace-Id", "Root=" + rid)] + list(extra.items())
                    out = self._response(200, "OK", hdrs, event, chunked=self.chunked)
                elif method == "POST" and path.startswith("/2018-06-01/runtime/invocation/"):
                    rid, kind = path.split("/")[-2:]
                    if self.marker_source is not None:
                        marker = b"\x1e" + rid.encode() + b"\n"
                        deadline = time.time() + 3
                        while marker not in self.marker_source() and time.time() < deadline:
                            time.sleep(0.002)
                        self.marker_first[rid] = marker in self.marker_source()
                    status = self.reply_status if kind == "response" else 202
                    out = self._response(status, "Accepted" if status == 202 else "Payload Too Large",
                                         [("Content-Type", "application/json")],
                                         b'{"status":"OK"}' if status == 202 else b'{"errorType":"RequestEntityTooLarge"}')
                    with self.done:
                        self.posts[rid] = (kind, headers, body)
                        self.done.notify_all()
                elif method == "POST" and path == "/2018-06-01/runtime/init/error":
                    out = self._response(202, "Accepted", [("Content-Type", "application/json")], b'{"status":"OK"}')
                    with self.done:
                        self.init_errors.append((headers, body))
                        self.done.notify_all()
                else:
                    out = self._response(404, "Not Found", [], b"{}")
                if self.coalesce and pipelined:
                    held = out
                    continue
                try:
                    self._send(sock, held + out)
                    held = b""
                except OSError:
                    return
                if self.close_after or self.close_header:
                    return


# --- a bootstrap process -----------------------------------------------------------------


class Bootstrap:
    """Swell's bootstrap for `runtime` as a child process with its stdout/stderr collected."""

    def __init__(self, runtime: str, endpoint: str, *, concurrency: int = 1, handler: str | None = None,
                 prewarm: bool = False, source: str | None = None):
        self.root = Path(tempfile.mkdtemp(prefix="swell-bootstrap-test-"))
        os.chmod(self.root, 0o755)  # readable by the unprivileged uid of the prewarm test
        if runtime == "node":
            (self.root / "index.js").write_text(source or NODE_HANDLER)
            cmd = [NODE_BIN, str(BOOTSTRAPS / "nodejs" / "bootstrap.js")]
            handler = handler or "index.handler"
        else:
            (self.root / "app.py").write_text(source or PYTHON_HANDLER)
            cmd = [PYTHON_BIN, "-u", str(BOOTSTRAPS / "python" / "bootstrap.py")]
            handler = handler or "app.handler"
        for f in self.root.iterdir():
            os.chmod(f, 0o644)
        self.env = {"AWS_LAMBDA_RUNTIME_API": endpoint, "_HANDLER": handler, "LAMBDA_TASK_ROOT": str(self.root),
                    "SWELL_CONCURRENCY": str(concurrency), "PATH": "/usr/local/bin:/usr/bin:/bin",
                    "AWS_LAMBDA_FUNCTION_NAME": "fake", "GREETING": "hello"}
        self.stdout = bytearray()
        self.stderr = bytearray()
        spawn_env = {"SWELL_PREWARM": "1", "PATH": self.env["PATH"]} if prewarm else self.env
        self.proc = subprocess.Popen(cmd, env=spawn_env, cwd="/" if prewarm else str(self.root),
                                     stdin=subprocess.PIPE if prewarm else subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for stream, sink in ((self.proc.stdout, self.stdout), (self.proc.stderr, self.stderr)):
            threading.Thread(target=self._pump, args=(stream, sink), daemon=True).start()

    @staticmethod
    def _pump(stream, sink: bytearray) -> None:
        while True:
            data = os.read(stream.fileno(), 65536)
            if not data:
                return
            sink += data

    def specialize(self, uid: int | None = None, gid: int | None = None) -> None:
        line = {"env": self.env, "cwd": str(self.root)}
        if uid is not None:
            line["uid"], line["gid"] = uid, gid
        self.proc.stdin.write(json.dumps(line).encode() + b"\n")
        self.proc.stdin.flush()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def harness():
    made: list = []

    def make(runtime: str, api_options: dict | None = None, **bootstrap_options):
        holder: dict = {}
        api = FakeRuntimeAPI(marker_source=lambda: bytes(holder["b"].stdout), **(api_options or {}))
        made.append(api)
        holder["b"] = Bootstrap(runtime, api.endpoint, **bootstrap_options)
        made.append(holder["b"])
        return api, holder["b"]

    yield make
    for thing in reversed(made):
        thing.stop()


def wait_until(condition, timeout: float = 10) -> bool:
    deadline = time.time() + timeout
    while not condition():
        if time.time() > deadline:
            return False
        time.sleep(0.01)
    return True


def result(api: FakeRuntimeAPI, rid: str):
    kind, headers, body = api.posts[rid]
    assert kind == "response", (kind, body)
    assert headers["content-type"] == "application/json"
    assert int(headers["content-length"]) == len(body)
    return json.loads(body)


# --- tests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_responses_split_across_segments_and_non_ascii(harness, runtime):
    api, boot = harness(runtime, {"split": True})
    events = [{"text": "héllo wörld ✓ 😀 \u2028", "n": i, "log": f"line ✓ {i}"} for i in range(5)]
    rids = [api.add(e) for e in events]
    api.wait_posts(len(rids))
    for rid, event in zip(rids, events):
        out = result(api, rid)
        assert out["echo"] == event
        assert out["id"] == rid and out["trace"] == "Root=" + rid
        assert out["arn"] == "arn:aws:lambda:swell:default:function:fake"
        assert api.marker_first[rid], f"end marker of {rid} not written before its result was posted"
        assert f"\x1f{rid}\x1fline ✓ {event['n']}\n".encode() in boot.stdout
    assert api.connections == 1, "one kept-alive connection for one loop"
    assert b"swell-runtime" not in boot.stderr, boot.stderr.decode()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_one_kept_alive_connection_for_many_invocations(harness, runtime):
    api, boot = harness(runtime)
    rids = [api.add({"n": i}) for i in range(200)]
    api.wait_posts(len(rids))
    assert [result(api, rid)["echo"]["n"] for rid in rids] == list(range(200))
    assert api.connections == 1
    assert api.requests >= 400  # a next and a post per invocation, all on that connection


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("coalesce", [False, True])
def test_next_is_pipelined_behind_each_post(harness, runtime, coalesce):
    # Each post carries the loop's next `next` in the same write; with `coalesce` the post's
    # reply and the next invocation arrive in one read and must be told apart.
    api, boot = harness(runtime, {"coalesce": coalesce})
    rids = [api.add({"n": i, "log": f"line {i}"}) for i in range(50)]
    rids.append(api.add({"fail": "in the middle"}))
    rids += [api.add({"n": i}) for i in range(50, 60)]
    api.wait_posts(len(rids))
    assert [result(api, rid)["echo"]["n"] for rid in rids[:50] + rids[51:]] == list(range(60))
    assert api.posts[rids[50]][0] == "error"
    assert api.connections == 1
    # a post and a `next` per invocation, and the first `next` (the last one read just after the last post)
    assert wait_until(lambda: api.requests == 2 * len(rids) + 1, 5), api.requests
    assert api.pipelined >= len(rids) - 3, f"{api.pipelined} of {len(rids)} posts had the next `next` behind them"
    for i, rid in enumerate(rids[:50]):
        assert api.marker_first[rid]
        assert f"\x1f{rid}\x1fline {i}\n".encode() in boot.stdout
    assert b"swell-runtime" not in boot.stderr, boot.stderr.decode()


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("how", ["close_after", "close_header"])
def test_server_closing_the_connection_between_requests(harness, runtime, how):
    api, boot = harness(runtime, {how: True})
    rids = []
    for i in range(10):
        rids.append(api.add({"n": i}))
        api.wait_posts(len(rids))  # one at a time: every next finds a closed connection
        time.sleep(0.02)
    assert [result(api, rid)["echo"]["n"] for rid in rids] == list(range(10))
    assert api.connections >= 20  # a connection per request
    assert boot.proc.poll() is None
    assert b"swell-runtime" not in boot.stderr, boot.stderr.decode()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_chunked_responses_are_decoded(harness, runtime):
    api, boot = harness(runtime, {"chunked": True, "split": True})
    event = {"text": "ünïcödé " * 50, "list": list(range(100))}
    rid = api.add(event)
    api.wait_posts(1)
    assert result(api, rid)["echo"] == event


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_large_bodies_both_ways(harness, runtime):
    api, boot = harness(runtime, {"split": True})
    big_event = {"blob": "é" * 1_500_000 + "end"}  # 3 MB of UTF-8
    rid1 = api.add(big_event)
    rid2 = api.add({"big": 5_000_000})
    api.wait_posts(2, timeout=60)
    assert result(api, rid1)["echo"] == big_event
    assert result(api, rid2) == "x" * 5_000_000


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_concurrency_uses_one_connection_per_loop(harness, runtime):
    api, boot = harness(runtime, concurrency=4)
    t0 = time.monotonic()
    rids = [api.add({"sleep": 300, "log": f"tag-{i}", "n": i}) for i in range(8)]
    api.wait_posts(len(rids))
    elapsed = time.monotonic() - t0
    assert elapsed < 8 * 0.3 * 0.75, f"4 loops should overlap, took {elapsed:.2f}s"
    assert api.connections == 4
    for i, rid in enumerate(rids):
        assert result(api, rid)["echo"]["n"] == i
        assert f"\x1f{rid}\x1ftag-{i}\n".encode() in boot.stdout
        assert api.marker_first[rid]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_errors_and_413(harness, runtime):
    api, boot = harness(runtime, {"reply_status": 413})
    rid_fail = api.add({"fail": "nope ✗"})
    rid_ok = api.add({"n": 1})
    rid_after = api.add({"n": 2})
    api.wait_posts(3)
    kind, headers, body = api.posts[rid_fail]
    assert kind == "error"
    assert headers["lambda-runtime-function-error-type"] == ERROR_TYPE[runtime]
    error = json.loads(body)
    assert error["errorType"] == ERROR_TYPE[runtime] and "nope ✗" in error["errorMessage"]
    assert isinstance(error["stackTrace"], list)
    assert api.marker_first[rid_fail]
    # The 413 answer to a response post is reported on stderr and the loop goes on.
    for rid in (rid_ok, rid_after):
        assert api.posts[rid][0] == "response"
        message = f"response of invocation {rid} is too large (413)".encode()
        assert wait_until(lambda: message in boot.stderr), boot.stderr.decode()
    assert boot.proc.poll() is None


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_init_error_is_posted_with_its_type(harness, runtime):
    api, boot = harness(runtime, handler="missing.handler")
    assert boot.proc.wait(timeout=20) == 1
    assert len(api.init_errors) == 1
    headers, body = api.init_errors[0]
    assert headers["lambda-runtime-function-error-type"] == "Runtime.ImportModuleError"
    assert json.loads(body)["errorType"] == "Runtime.ImportModuleError"


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_prewarm_then_specialize_as_an_unprivileged_uid(harness, runtime):
    api, boot = harness(runtime, prewarm=True)
    time.sleep(0.5)  # the bootstrap warms up and blocks on stdin
    assert boot.proc.poll() is None, boot.stderr.decode()
    assert api.connections == 0, "no connection before the function's endpoint is known"
    root = os.geteuid() == 0
    boot.specialize(uid=65534 if root else None, gid=65534 if root else None)
    rid = api.add({"n": 7})
    api.wait_posts(1)
    out = result(api, rid)
    assert out["echo"] == {"n": 7} and out["greeting"] == "hello"
    assert out["cwd"] == str(boot.root)
    if root:
        assert out["uid"] == 65534
    # Nothing of the warm-up reaches stdout (the log pump would read it as the function's).
    assert boot.stdout.startswith(b"\x1e" + rid.encode()) or boot.stdout.startswith(b"\x1f"), bytes(boot.stdout[:200])


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_no_runtime_api_retries_then_exits_1(runtime):
    port = socket.create_server(("127.0.0.1", 0))
    endpoint = f"127.0.0.1:{port.getsockname()[1]}"
    port.close()  # nothing listens there any more
    boot = Bootstrap(runtime, endpoint)
    try:
        t0 = time.monotonic()
        assert boot.proc.wait(timeout=30) == 1
        elapsed = time.monotonic() - t0
        assert 3.5 < elapsed < 20, f"eight retries take 4.55 s of back-off, took {elapsed:.1f}s"
        assert wait_until(lambda: b"cannot get the next invocation" in boot.stderr), boot.stderr.decode()
    finally:
        boot.stop()
