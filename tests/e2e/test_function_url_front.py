"""The function-URL front: function URLs (and the synchronous invoke API) answered on the event loop ahead of the API, on
connections that mix them with API requests (keep-alive, pipelining, HEAD, chunked bodies,
Connection: close, HTTP/1.0) and clients that hang up while their request waits."""

from __future__ import annotations

import http.client
import json
import os
import socket
import threading
import time

import pytest
import requests

from swell_e2e import node_fn

ECHO = r"""
exports.handler = async (event) => ({ statusCode: 200, headers: {'content-type': 'application/json'},
                                      body: JSON.stringify(event) });
"""

SLOW = r"""
exports.handler = async (event) => {
  const q = event.queryStringParameters || {};
  await new Promise((r) => setTimeout(r, Number(q.ms || 0)));
  return { statusCode: 200, headers: {'content-type': 'application/json'}, body: JSON.stringify({ tag: q.tag || '' }) };
};
"""


@pytest.fixture(scope="module")
def fns(server, tmp_path_factory):
    swell = server.client()
    suffix = os.urandom(3).hex()
    names = {"echo": f"front-echo-{suffix}", "slow": f"front-slow-{suffix}", "key": f"front-key-{suffix}"}
    swell.deploy(tmp_path_factory.mktemp("front"), {
        names["echo"]: node_fn(ECHO, url={"auth": "none"}),
        names["slow"]: node_fn(SLOW, url={"auth": "none"}, concurrency=1, scaling={"maxInstances": 1}),
        names["key"]: node_fn(ECHO, url={"auth": "key"}),
    })
    # Warm both, so that timings below are not cold starts.
    for n in ("echo", "slow"):
        assert requests.get(f"{server.url}/fn/default/{names[n]}", timeout=60).status_code == 200
    return names


class RawConnection:
    """One TCP connection to the server, reading HTTP/1.1 responses framed by content-length."""

    def __init__(self, port: int, timeout: float = 30):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send(self, data: bytes):
        self.sock.sendall(data)

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        if not chunk:
            return False
        self.buf += chunk
        return True

    def response(self, head_request: bool = False) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.buf:
            if not self._fill():
                raise EOFError(f"connection closed before a response head; got {self.buf!r}")
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        length = 0 if head_request else int(headers.get("content-length", "0"))
        assert "chunked" not in headers.get("transfer-encoding", ""), headers
        while len(self.buf) < length:
            if not self._fill():
                raise EOFError("connection closed inside a response body")
        body, self.buf = self.buf[:length], self.buf[length:]
        return status, headers, body

    def closed_by_server(self, timeout: float = 5) -> bool:
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


def get(path: str, extra: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: x\r\n{extra}\r\n".encode()


def test_a_keep_alive_connection_alternates_function_urls_and_the_api(server, fns):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    sock = None
    for i in range(4):
        conn.request("POST", f"/fn/default/{fns['echo']}/p{i}?i={i}", body=json.dumps({"i": i}),
                     headers={"content-type": "application/json"})
        r = conn.getresponse()
        event = json.loads(r.read())
        assert r.status == 200
        assert event["rawPath"] == f"/p{i}" and json.loads(event["body"]) == {"i": i}
        assert r.getheader("Date", "").endswith("GMT") and r.getheader("Server") == "swell"
        assert r.getheader("X-Swell-Request-Id")
        sock = sock or conn.sock
        assert conn.sock is sock, "the connection was not kept alive"
        conn.request("GET", "/v1/health")
        r = conn.getresponse()
        assert r.status == 200 and json.loads(r.read()) == {"status": "ok"}
        assert conn.sock is sock
        # An error of the front (no such function) keeps the connection too.
        conn.request("GET", f"/fn/default/no-such-{i}")
        r = conn.getresponse()
        err = json.loads(r.read())
        assert r.status == 404 and err["error"]["code"] == "not_found" and f"no-such-{i}" in err["error"]["message"], err
        assert conn.sock is sock
    conn.close()


def test_pipelined_requests_are_answered_in_order(server, fns):
    slow, echo = fns["slow"], fns["echo"]
    c = RawConnection(server.port)
    # A slow function first: the API request behind it must wait for its answer.
    c.send(get(f"/fn/default/{slow}?ms=400&tag=one") + get("/v1/health") + get(f"/fn/default/{echo}/three")
           + get(f"/fn/default/{slow}?ms=0&tag=four") + get("/v1/health"))
    s1, _, b1 = c.response()
    s2, _, b2 = c.response()
    s3, _, b3 = c.response()
    s4, _, b4 = c.response()
    s5, _, b5 = c.response()
    assert (s1, json.loads(b1)) == (200, {"tag": "one"})
    assert (s2, json.loads(b2)) == (200, {"status": "ok"})
    assert s3 == 200 and json.loads(b3)["rawPath"] == "/three"
    assert (s4, json.loads(b4)) == (200, {"tag": "four"})
    assert (s5, json.loads(b5)) == (200, {"status": "ok"})
    # An API request with a body first, then function URLs.
    body = b'{"x":1}'
    c.send(b"POST /v1/namespaces/default/functions/" + echo.encode() + b"/invoke HTTP/1.1\r\nHost: x\r\n"
           b"Authorization: Bearer " + server.admin_key.encode() + b"\r\nContent-Length: 7\r\n\r\n" + body
           + get(f"/fn/default/{slow}?ms=0&tag=after-api") + get(f"/fn/default/{echo}/last"))
    s, _, b = c.response()
    # (the invoke API answers the function's return value itself: the echo of its payload)
    assert s == 200 and json.loads(json.loads(b)["body"]) == {"x": 1}, b
    s, _, b = c.response()
    assert (s, json.loads(b)) == (200, {"tag": "after-api"})
    s, _, b = c.response()
    assert s == 200 and json.loads(b)["rawPath"] == "/last"
    c.close()


def test_a_chunked_body_reaches_the_function(server, fns):
    c = RawConnection(server.port)
    payload = json.dumps({"chunked": True, "pad": "x" * 5000}).encode()
    parts = [payload[:10], payload[10:4000], payload[4000:]]
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
    c.send(f"POST /fn/default/{fns['echo']}/c HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           "Transfer-Encoding: chunked\r\n\r\n".encode())
    # Sent in pieces, with pauses: the front collects them.
    for i in range(0, len(chunked), 1500):
        c.send(chunked[i:i + 1500])
        time.sleep(0.02)
    status, _, body = c.response()
    event = json.loads(body)
    assert status == 200 and json.loads(event["body"]) == json.loads(payload) and not event["isBase64Encoded"]
    # The connection goes on.
    c.send(get("/v1/health"))
    assert c.response()[0] == 200
    c.close()


def test_head_answers_without_a_body_and_the_connection_goes_on(server, fns):
    r = requests.head(f"{server.url}/fn/default/{fns['echo']}/h", timeout=30)
    assert r.status_code == 200 and r.content == b""
    assert int(r.headers["content-length"]) > 0
    c = RawConnection(server.port)
    c.send(f"HEAD /fn/default/{fns['echo']}/h HTTP/1.1\r\nHost: x\r\n\r\n".encode() + get(f"/fn/default/{fns['echo']}/after"))
    status, headers, body = c.response(head_request=True)
    assert status == 200 and body == b"" and int(headers["content-length"]) > 0
    status, _, body = c.response()
    assert status == 200 and json.loads(body)["rawPath"] == "/after"
    c.close()


def test_connection_close_and_http_1_0(server, fns):
    echo = fns["echo"]
    c = RawConnection(server.port)
    c.send(get(f"/fn/default/{echo}", "Connection: close\r\n") + get("/v1/health"))
    status, headers, _ = c.response()
    assert status == 200 and headers.get("connection") == "close", headers
    assert c.closed_by_server(), "Connection: close left the connection open"
    c.close()
    # HTTP/1.0 closes after the answer unless it asks to keep alive.
    c = RawConnection(server.port)
    c.send(f"GET /fn/default/{echo} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
    assert c.response()[0] == 200
    assert c.closed_by_server()
    c.close()
    c = RawConnection(server.port)
    c.send(f"GET /fn/default/{echo}/a HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n".encode())
    status, headers, _ = c.response()
    assert status == 200 and headers.get("connection") == "keep-alive", headers
    c.send(f"GET /fn/default/{echo}/b HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n".encode())
    status, _, body = c.response()
    assert status == 200 and json.loads(body)["rawPath"] == "/b"
    c.close()


def test_errors_of_the_front_keep_their_status_and_body(server, fns):
    base = f"{server.url}/fn/default"
    r = requests.get(f"{base}/{fns['key']}", timeout=30)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    r = requests.get(f"{base}/{fns['key']}", headers={"Authorization": f"Bearer {server.admin_key}"}, timeout=30)
    assert r.status_code == 200 and "Authorization" not in r.json()["headers"] and "authorization" not in r.json()["headers"]
    # Over the payload limit: 413, and the connection still answers the next request.
    c = RawConnection(server.port)
    big = 6 * 1024 * 1024 + 10
    c.send(f"POST /fn/default/{fns['echo']} HTTP/1.1\r\nHost: x\r\nContent-Length: {big}\r\n\r\n".encode())
    c.send(b"a" * big)
    status, _, body = c.response()
    assert status == 413 and json.loads(body)["error"]["code"] == "payload_too_large", body
    c.send(get("/v1/health"))
    assert c.response()[0] == 200
    c.close()


def records(server, name) -> list:
    r = requests.get(f"{server.url}/v1/namespaces/default/functions/{name}/invocations", params={"limit": 1000},
                     headers={"Authorization": f"Bearer {server.admin_key}"}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["invocations"]


def test_a_client_that_hangs_up_while_queued_gives_its_place_back(server, fns):
    slow = fns["slow"]
    before = len(records(server, slow))
    # One instance with one slot: the first request runs 2 s, the second waits for it.
    first: dict = {}
    t = threading.Thread(target=lambda: first.update(r=requests.get(f"{server.url}/fn/default/{slow}?ms=2000&tag=first", timeout=30)))
    t.start()
    time.sleep(0.5)
    c = RawConnection(server.port)
    c.send(get(f"/fn/default/{slow}?ms=0&tag=gone"))
    time.sleep(0.3)
    c.close()
    t.join()
    assert first["r"].status_code == 200 and first["r"].json() == {"tag": "first"}
    r = requests.get(f"{server.url}/fn/default/{slow}?ms=0&tag=last", timeout=30)
    assert r.status_code == 200 and r.json() == {"tag": "last"}
    # The records: the first and the last ran, the one whose client went away never did.
    deadline = time.monotonic() + 15
    while len(records(server, slow)) < before + 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.5)
    assert len(records(server, slow)) == before + 2, records(server, slow)[:4]


def test_a_graceful_stop_answers_the_function_url_request_in_flight(make_server, tmp_path):
    srv = make_server()
    swell = srv.client()
    swell.deploy(tmp_path / "app", {"slow": node_fn(SLOW, url={"auth": "none"})})
    assert requests.get(f"{srv.url}/fn/default/slow", timeout=60).status_code == 200
    c = RawConnection(srv.port)
    c.send(get("/fn/default/slow?ms=1500&tag=in-flight"))
    time.sleep(0.4)
    code: dict = {}
    stopper = threading.Thread(target=lambda: code.update(rc=srv.stop(grace=20)))
    stopper.start()
    status, _, body = c.response()
    assert (status, json.loads(body)) == (200, {"tag": "in-flight"})
    # The connection closes after that answer, and the server exits cleanly.
    assert c.closed_by_server(10)
    c.close()
    stopper.join()
    assert code["rc"] == 0, srv.log()


def test_a_flood_of_pipelined_requests_is_answered_whole_and_in_order(server, fns):
    echo = fns["echo"]
    c = RawConnection(server.port)
    n = 120
    # Many requests in one send: the front holds (and stops reading) what waits behind an answer.
    c.send(b"".join(get(f"/fn/default/{echo}/r{i}") if i % 3 else get(f"/v1/health?i={i}") for i in range(n)))
    for i in range(n):
        status, _, body = c.response()
        assert status == 200, (i, body)
        if i % 3:
            assert json.loads(body)["rawPath"] == f"/r{i}", i
        else:
            assert json.loads(body) == {"status": "ok"}, i
    c.close()


def invoke_request(key: str, name: str, body: bytes, ns: str = "default", query: str = "") -> bytes:
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    return (f"POST /v1/namespaces/{ns}/functions/{name}/invoke{query} HTTP/1.1\r\nHost: x\r\n{auth}"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def test_the_invoke_api_through_the_front_keeps_the_applications_answers(server, fns):
    """The synchronous invoke API is answered by the front too (the application's own router,
    middlewares and route, run from the front's task): keys, errors, async invokes, the audit
    trail and keep-alive are as the application makes them, in order with other requests."""
    echo, slow = fns["echo"], fns["slow"]
    c = RawConnection(server.port)
    # Pipelined: a slow invoke, an API read, a bad key, an unknown function, bad JSON, an async invoke.
    c.send(invoke_request(server.admin_key, slow, b'{"queryStringParameters":{"ms":"300","tag":"slow"}}')
           + get("/v1/health")
           + invoke_request("not-a-key", echo, b"{}")
           + invoke_request(server.admin_key, f"no-such-{echo}", b"{}")
           + invoke_request(server.admin_key, echo, b"{not json")
           + invoke_request(server.admin_key, echo, b'{"async":1}', query="?mode=async")
           + invoke_request(server.admin_key, echo, b'{"n":7}'))
    s, h, b = c.response()
    assert s == 200 and json.loads(json.loads(b)["body"]) == {"tag": "slow"}, b
    assert h.get("x-swell-request-id") and h.get("server") == "swell" and h.get("date", "").endswith("GMT"), h
    s, _, b = c.response()
    assert (s, json.loads(b)) == (200, {"status": "ok"})
    s, _, b = c.response()
    assert s == 401 and json.loads(b)["error"]["code"] == "unauthorized", b
    s, _, b = c.response()
    assert s == 404 and json.loads(b)["error"]["code"] == "not_found", b
    s, _, b = c.response()
    assert s == 400 and "JSON" in json.loads(b)["error"]["message"], b
    s, _, b = c.response()
    assert s == 202 and json.loads(b)["taskId"], b
    task_id = json.loads(b)["taskId"]
    s, _, b = c.response()
    assert s == 200 and json.loads(json.loads(b)["body"]) == {"n": 7}, b
    assert not c.closed_by_server(timeout=0.3), "the connection was closed after the invokes"
    c.close()
    # The async invoke ran.
    swell = server.client()
    deadline = time.monotonic() + 30
    while True:
        state = swell.api("GET", f"/v1/namespaces/default/tasks/{task_id}").json()["task"]["state"]
        if state == "succeeded" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert state == "succeeded", state
    # The invocations were recorded, as through the application.
    assert any(r.get("requestId") for r in records(server, echo))


def test_the_invoke_api_over_the_limit_is_413_and_the_connection_goes_on(server, fns):
    echo = fns["echo"]
    c = RawConnection(server.port)
    big = b'"' + b"x" * (6 * 1024 * 1024 + 10) + b'"'
    c.send(invoke_request(server.admin_key, echo, big) + invoke_request(server.admin_key, echo, b'{"after":1}'))
    s, _, b = c.response()
    assert s == 413, (s, b[:200])
    s, _, b = c.response()
    assert s == 200 and json.loads(json.loads(b)["body"]) == {"after": 1}, b
    c.close()
