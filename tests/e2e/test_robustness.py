"""The server never falls over on bad input."""

from __future__ import annotations

import os
import socket

import requests

from swell_e2e import node_fn


def raw_exchange(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    """Sends raw bytes, returns whatever comes back (possibly nothing)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        chunks = []
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
        except OSError:
            pass
        return b"".join(chunks)


def test_malformed_requests_do_not_break_the_server(server, swell, app_dir, unique):
    name = unique("robust")
    swell.deploy(app_dir, {name: node_fn("exports.handler = async (e) => ({ ok: true, e });", url={"auth": "none"})})
    auth = {"Authorization": f"Bearer {swell.key}"}
    base = swell.url
    ns = "/v1/namespaces/default"

    # Well-formed HTTP with bad content: every answer is a 4xx with Swell's error body.
    cases = [
        ("GET", "/%ff%fe%00garbage/..%2f..%2fetc/passwd", None, {}),
        ("GET", "/v1/" + "a/" * 500, None, auth),
        ("GET", f"{ns}/functions/{'x' * 5000}", None, auth),
        ("POST", f"{ns}/functions/{name}:../invoke", b"{}", auth),
        ("POST", f"{ns}/functions/{name}:..", b"{}", auth),
        ("POST", f"{ns}/functions/{name}/invoke?qualifier=..", b"{}", auth),
        ("POST", f"{ns}/functions/{name}/invoke?qualifier=%00", b"{}", auth),
        ("POST", f"{ns}/functions/{name}/invoke?qualifier=-1", b"{}", auth),
        ("POST", f"{ns}/functions/{name}/invoke?qualifier=99999999999999999999999", b"{}", auth),
        ("POST", f"{ns}/functions/{name}:$LATEST:1/invoke", b"{}", auth),
        ("POST", f"{ns}/functions/{name}/invoke", b"\xff\xfe\xfd\x00\x80", auth),
        ("POST", f"{ns}/functions/{name}/invoke", b'{"a": "\xc3\x28"}', auth),
        ("POST", f"{ns}/functions/{name}/invoke", b"[" * 100000, auth),
        ("PUT", f"{ns}/functions/{name}", b"\xff\xfe", auth),
        ("PUT", f"{ns}/functions/{name}", b'{"runtime": 5, "handler": [], "memory": "lots"}', auth),
        ("PUT", f"{ns}/functions/{name}", b'{"runtime": "nodejs20", "handler": "index.handler", "codeSha256": "../../etc"}', auth),
        ("PUT", f"{ns}/functions/{name}", b'{"environment": {"": "x"}}', auth),
        ("PUT", f"{ns}/functions/{name}", b"null", auth),
        ("PUT", f"{ns}/functions/{name}", b"[]", auth),
        ("PUT", f"{ns}/functions/{name}", b'"string"', auth),
        ("PUT", f"{ns}/functions/{name}", b'{"memory": 1e309}', auth),
        ("PUT", f"{ns}/functions/{name}", b'{"memory": -9223372036854775809}', auth),
        ("POST", f"{ns}/deploy", b'{"functions": {"x": null}}', auth),
        ("POST", f"{ns}/deploy", b'{"functions": []}', auth),
        ("POST", f"{ns}/deploy", b'{"functions": {"../x": {}}}', auth),
        ("PUT", f"{ns}/functions/{name}/aliases/live", b'{"version": {"x": 1}}', auth),
        ("PUT", f"{ns}/functions/{name}/aliases/live", b'{"version": "1", "additionalVersionWeights": {"x": "y"}}', auth),
        ("PUT", f"{ns}/code/{'z' * 64}", b"junk", auth),
        ("PUT", f"{ns}/code/{'0' * 64}", os.urandom(2048), auth),
        ("POST", f"{ns}/keys", b'{"role": "root"}', auth),
        ("GET", f"{ns}/functions/{name}/logs?after=-5&limit=abc&wait=999", None, auth),
        ("GET", f"{ns}/functions/{name}/logs?limit=99999999999999999999", None, auth),
        ("GET", "/v1/namespaces/" + "%2e%2e" + "/functions", None, auth),
        ("DELETE", f"{ns}/keys/{'k' * 3000}", None, auth),
        ("GET", "/v1/whoami", None, {"Authorization": "Bearer " + "swk_" + "é" * 10}),
        ("GET", "/v1/whoami", None, {"Authorization": "Basic Zm9vOmJhcg=="}),
        ("GET", "/v1/whoami", None, {"Authorization": "Bearer " + "x" * 60000}),
        ("OPTIONS", f"{ns}/functions", None, auth),
        ("PATCH", f"{ns}/functions/{name}", b"{}", auth),
    ]
    problems: list[str] = []
    for method, path, body, headers in cases:
        h = {"Content-Type": "application/json", **headers}
        try:
            r = requests.request(method, base + path, data=body, headers=h, timeout=30)
        except requests.RequestException as e:  # a refused request is fine, a dead server is not
            assert server.alive(), f"server died on {method} {path}: {e}"
            continue
        assert server.alive(), f"server died on {method} {path}"
        if not 400 <= r.status_code < 500:
            problems.append(f"{method} {path[:80]} body={body[:40] if body else None!r} -> {r.status_code} {r.text[:300]}")

    # Raw protocol garbage.
    raw_cases = [
        b"GARBAGE\r\n\r\n",
        b"\x00\x01\x02\x03" * 1000,
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET /v1/health HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        b"POST " + ns.encode() + b"/functions/" + name.encode() + b"/invoke HTTP/1.1\r\nHost: x\r\n"
        b"Authorization: Bearer " + swell.key.encode() + b"\r\nContent-Length: 100000\r\n\r\n{\"trunc",
        b"POST /fn/default/" + name.encode() + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\nxx\r\n",
        b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Huge: " + b"h" * (256 * 1024) + b"\r\n\r\n",
        b"GET /v1/health HTTP/1.1\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(5000)) + b"\r\n",
        b"GET /" + b"p" * 200000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /v1/health HTTP/1.1\r\nHost: x\r\n" + b"Bad Header Line Without Colon\r\n\r\n",
        b"GET /fn/default/" + name.encode() + b"/\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
    ]
    for data in raw_cases:
        resp = raw_exchange(server.port, data)
        assert server.alive(), f"server died on raw input {data[:60]!r}"
        if resp.startswith(b"HTTP/1.1 5"):
            head, _, rest = resp.partition(b"\r\n\r\n")
            problems.append(f"raw input {data[:90]!r} -> {head!r} {rest[:200]!r}")

    # Half-open connections that never finish.
    socks = []
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        s.sendall(b"POST /v1/namespaces/default/deploy HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{")
        socks.append(s)

    assert server.alive()
    r = requests.get(base + "/v1/health", timeout=10)
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert swell.invoke_ok(name, {"still": "alive"}) == {"ok": True, "e": {"still": "alive"}}
    r = requests.post(f"{base}/fn/default/{name}", json={"x": 1}, timeout=10)
    assert r.status_code == 200
    for s in socks:
        s.close()
    # The function's configuration was not damaged by the bad PUTs.
    info = swell.api("GET", f"{ns}/functions/{name}").json()
    assert "nodejs20" in str(info)
    # Bad input is the client's fault: 4xx, never 5xx.
    assert not problems, "bad input answered with a non-4xx status:\n" + "\n".join(problems)
