"""Tenant isolation at the boundary between a request and an instance (issue 11, items 2, 4
and 7): a hostile function of one namespace against a real victim in another.

- Runtime API: an attacker that finds every instance's loopback endpoint (from
  /proc/net/tcp) cannot take, answer or kill another instance's invocations: its sockets are
  refused before a byte is read, and the victim keeps answering from the same instance.
- Function URLs never hand a Swell key (the caller's `Authorization`) to the function.
- A function's response cannot set framing or hop-by-hop headers, so it cannot desync the
  caller's keep-alive connection.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from swell_e2e import node_fn, python_fn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "kafka_tools"))
from listener_pid import listening_inodes, socket_inodes  # noqa: E402

ROOT = os.geteuid() == 0

# Reads every loopback listener from /proc/net/tcp and tries the Runtime API against each
# (its own endpoint excepted): GET next (with a short timeout), POST a forged response for a
# guessed id, POST init/error. Reports what each port answered.
ATTACKER = r'''
import os, socket

def listeners():
    ports = set()
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            local, state = parts[1], parts[3]
            addr, port = local.split(":")
            if state == "0A" and addr == "0100007F":
                ports.add(int(port, 16))
    return sorted(ports)

def call(port, request, timeout=0.5):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    except OSError as e:
        return "refused"
    try:
        s.sendall(request)
        data = s.recv(65536)
        return data.decode(errors="replace") if data else "closed"
    except socket.timeout:
        return "timeout"
    except OSError:
        return "closed"
    finally:
        s.close()

def handler(event, context):
    own = int(os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")[1])
    out = {}
    for port in listeners():
        if port == own:
            continue
        out[str(port)] = {
            "next": call(port, b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n"),
            "forge": call(port, b"POST /2018-06-01/runtime/invocation/x/response HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"),
            "kill": call(port, b"POST /2018-06-01/runtime/init/error HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"),
        }
    return out
'''

VICTIM = r"""
let started = Date.now();
exports.handler = async (event) => {
  if (event.sleep) await new Promise((r) => setTimeout(r, event.sleep));
  return { victim: true, pid: process.pid, started, echo: event.n ?? null };
};
"""

ECHO_HEADERS = r"""
exports.handler = async (event) => ({ statusCode: 200, headers: { 'content-type': 'application/json' },
                                      body: JSON.stringify(event.headers) });
"""

DESYNC = r"""
exports.handler = async (event) => ({
  statusCode: 200,
  headers: { 'Content-Length': '0', 'Transfer-Encoding': 'chunked', 'Connection': 'close',
             'Keep-Alive': 'timeout=1', 'Upgrade': 'websocket', 'X-Swell-Request-Id': 'forged',
             'content-type': 'text/plain', 'x-kept': 'yes' },
  body: 'HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nhijack!',
});
"""


@pytest.fixture(scope="module")
def tenants(server, tmp_path_factory):
    admin = server.client()
    suffix = os.urandom(3).hex()
    names = {"ns_a": f"atk-{suffix}", "ns_v": f"vic-{suffix}"}
    admin.deploy(tmp_path_factory.mktemp("atk"), {"attacker": python_fn(ATTACKER, timeout=60)}, namespace=names["ns_a"])
    admin.deploy(tmp_path_factory.mktemp("vic"), {
        "victim": node_fn(VICTIM, concurrency=4, timeout=30),
        "headers": node_fn(ECHO_HEADERS, url={"auth": "none"}),
        "keyed": node_fn(ECHO_HEADERS, url={"auth": "key"}),
        "desync": node_fn(DESYNC, url={"auth": "none"}),
    }, namespace=names["ns_v"])
    return admin, names


@pytest.mark.skipif(not ROOT, reason="instances get uids of their own only when Swell runs as root")
def test_runtime_api_of_another_instance_cannot_be_used(tenants, server):
    admin, names = tenants
    victim_ns, attacker_ns = names["ns_v"], names["ns_a"]
    before = admin.invoke_ok("victim", {"n": 1}, ns=victim_ns)
    # Keep the victim busy with invocations in flight while the attack runs.
    results = []
    busy = [threading.Thread(target=lambda i=i: results.append(
        admin.invoke("victim", {"n": 100 + i, "sleep": 2500}, ns=victim_ns, timeout=30))) for i in range(3)]
    for t in busy:
        t.start()
    time.sleep(0.3)
    report = admin.invoke_ok("attacker", {}, ns=attacker_ns)
    for t in busy:
        t.join()
    assert report, "the attacker found no loopback listener at all"
    # Only this server's endpoints count: on a shared machine other programs' loopback
    # listeners (another test's stand-in Runtime API, say) answer as they please.
    ours = socket_inodes(server.pid)
    report = {port: answers for port, answers in report.items() if listening_inodes(int(port)) & ours}
    assert report, "the attacker reached none of the server's endpoints"
    for port, answers in report.items():
        for attempt, answer in answers.items():
            assert "Lambda-Runtime-Aws-Request-Id" not in answer, f"port {port} {attempt}: {answer[:300]}"
            assert not answer.startswith("HTTP/1.1 202"), f"port {port} {attempt} was accepted: {answer[:300]}"
    # Every in-flight victim invocation got its own answer, from the same instance as before.
    assert sorted(r.json()["echo"] for r in results) == [100, 101, 102]
    after = admin.invoke_ok("victim", {"n": 2}, ns=victim_ns)
    assert after["pid"] == before["pid"] and after["started"] == before["started"]
    assert after["echo"] == 2


def test_a_swell_key_never_reaches_a_function(tenants, server):
    admin, names = tenants
    ns = names["ns_v"]
    base = f"{server.url}/fn/{ns}"
    # auth: none — the admin key a careless caller sends is not forwarded...
    r = requests.get(f"{base}/headers", headers={"Authorization": f"Bearer {admin.key}", "X-Other": "1"}, timeout=30)
    assert r.status_code == 200, r.text
    assert "authorization" not in r.json() and r.json()["x-other"] == "1"
    # ...while the function's own bearer token is.
    r = requests.get(f"{base}/headers", headers={"Authorization": "Bearer app-token-123"}, timeout=30)
    assert r.json().get("authorization") == "Bearer app-token-123"
    # auth: key — the key that opened the URL stays with Swell.
    r = requests.get(f"{base}/keyed", headers={"Authorization": f"Bearer {admin.key}"}, timeout=30)
    assert r.status_code == 200, r.text
    assert "authorization" not in r.json()


def _read_response(sock: socket.socket) -> tuple[str, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "connection closed before the head"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers.setdefault(k.strip().lower(), v.strip())
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside the body"
        rest += chunk
    assert len(rest) == length, f"{len(rest) - length} bytes beyond the declared body: {rest[length:]!r}"
    return lines[0], headers, rest


def test_a_response_cannot_desync_the_connection(tenants, server):
    _, names = tenants
    ns = names["ns_v"]
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        for _ in range(3):
            sock.sendall(f"GET /fn/{ns}/desync HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            status, headers, body = _read_response(sock)
            assert status.startswith("HTTP/1.1 200"), status
            assert body == b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nhijack!"
            assert headers["content-length"] == str(len(body))
            assert "transfer-encoding" not in headers and "upgrade" not in headers and "keep-alive" not in headers
            assert headers.get("connection", "keep-alive").lower() != "close"
            assert headers["x-swell-request-id"] != "forged" and headers["x-kept"] == "yes"
        # The connection still carries an ordinary API call afterwards.
        sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _, body = _read_response(sock)
        assert status.startswith("HTTP/1.1 200") and json.loads(body)["status"] == "ok"


WHOAMI = "import os\ndef handler(event, context):\n    return {'uid': os.getuid()}\n"


@pytest.mark.skipif(not ROOT, reason="functions get uids of their own only when Swell runs as root")
def test_servers_on_one_host_never_share_a_function_uid(server, make_server, tmp_path):
    # Two servers with data directories of their own, each with a first function: before,
    # both would hand out the first uid of the same range, and the Runtime API check (which
    # serves a uid) would let one server's function use the other's instances.
    other = make_server()
    uids = []
    for i, srv in enumerate([server, other]):
        c = srv.client()
        c.deploy(tmp_path / f"app{i}", {f"whoami-{i}": python_fn(WHOAMI)})
        uids.append(c.invoke_ok(f"whoami-{i}")["uid"])
    assert uids[0] != uids[1]
    blocks = [(u - 200_000) // 1_000_000 for u in uids]
    assert blocks[0] != blocks[1], f"the servers' uids come from one block: {uids}"
