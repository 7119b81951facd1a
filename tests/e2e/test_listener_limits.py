"""The HTTP listener's limits: thousands of idle connections and slowloris heads from one
client cost their own connections, never the API's availability; idle, slow-head and
slow-body connections are closed at their timeouts; the file limit is raised at start."""

from __future__ import annotations

import resource
import socket
import time

import requests

IDLE = 2.0
HEADER = 2.0
BODY = 3.0
CAP = 1000


def raise_own_file_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


def connect(port: int) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(True)
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    s.setblocking(False)
    return s


def closed_by_peer(s: socket.socket) -> bool:
    """True when the server closed the socket (EOF, reset, or an answer followed by EOF).
    The socket is non-blocking (select() cannot watch descriptors above 1024)."""
    s.setblocking(False)
    try:
        while True:
            data = s.recv(65536)
            if data == b"":
                return True
            # A 503 (over the cap) or a response is followed by the close: keep reading.
    except (ConnectionResetError, BrokenPipeError):
        return True
    except BlockingIOError:
        return False


def wait_closed(socks: list[socket.socket], timeout: float) -> list[socket.socket]:
    """Waits until every socket is closed by the server; returns those still open."""
    deadline = time.monotonic() + timeout
    open_ = list(socks)
    while open_ and time.monotonic() < deadline:
        open_ = [s for s in open_ if not closed_by_peer(s)]
        if open_:
            time.sleep(0.1)
    return open_


def server_fds(pid: int) -> int:
    import os
    return len(os.listdir(f"/proc/{pid}/fd"))


def soft_file_limit(pid: int) -> int:
    for line in open(f"/proc/{pid}/limits"):
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise AssertionError("no open-files line")


def health_ok(url: str, timeout: float = 3) -> float:
    t0 = time.monotonic()
    r = requests.get(url + "/v1/health", timeout=timeout)
    assert r.status_code == 200 and r.json() == {"status": "ok"}, r.text
    return time.monotonic() - t0


def test_idle_and_slow_connections_cannot_take_the_api_down(make_server):
    raise_own_file_limit(20_000)
    srv = make_server(extra_args=[
        "--idle-timeout", str(IDLE), "--header-timeout", str(HEADER), "--body-timeout", str(BODY),
        "--max-connections", str(CAP), "--no-warm-pool"])
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    assert soft_file_limit(srv.pid) >= min(65_536, hard), "the server did not raise its soft file limit"

    # 4x the cap in idle connections, opened as fast as possible, plus slowloris heads.
    idle: list[socket.socket] = []
    slow: list[socket.socket] = []
    try:
        for i in range(4 * CAP):
            idle.append(connect(srv.port))
            if i % 500 == 0:
                # While connections pour in, a new one waits its turn in the accept queue.
                health_ok(srv.url, timeout=15)
        for _ in range(200):
            s = connect(srv.port)
            s.send(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n")
            slow.append(s)
        # The API answers new connections throughout, while the slow heads keep trickling.
        latencies = []
        for round_ in range(6):
            for s in slow:
                try:
                    s.send(b"X-Trickle: %d\r\n" % round_)
                except OSError:
                    pass
            latencies.append(health_ok(srv.url))
            time.sleep(0.25)
        assert max(latencies) < 2.0, latencies
        # Descriptors stay bounded by the cap, not by what the client opened.
        assert server_fds(srv.pid) < CAP + 400, server_fds(srv.pid)

        # The idle ones the cap did not already replace are closed at the idle timeout,
        # the slow heads at the header timeout however much they trickled.
        assert not wait_closed(idle[-CAP // 2:], IDLE + 4), "idle connections outlived the idle timeout"
        still = wait_closed(slow, HEADER + 4)
        assert not still, f"{len(still)} slowloris connections outlived the header timeout"
        assert health_ok(srv.url) < 2.0
    finally:
        for s in idle + slow:
            s.close()


def test_a_slow_body_is_cut_at_the_body_timeout_and_a_kept_alive_connection_at_the_idle_one(make_server):
    srv = make_server(extra_args=["--idle-timeout", str(IDLE), "--header-timeout", str(HEADER),
                                  "--body-timeout", str(BODY), "--no-warm-pool"])
    key = srv.admin_key
    s = connect(srv.port)
    s.setblocking(True)
    s.settimeout(10)
    head = (f"POST /v1/namespaces/default/functions/none/invoke HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
    s.send(head.encode())
    t0 = time.monotonic()
    closed_at = None
    try:
        while time.monotonic() - t0 < BODY + 5:
            try:
                s.send(b" ")
            except OSError:
                closed_at = time.monotonic() - t0
                break
            time.sleep(0.2)
            if closed_by_peer(s):
                closed_at = time.monotonic() - t0
                break
            s.setblocking(True)
    finally:
        s.close()
    assert closed_at is not None, "a body trickling forever was never cut"
    assert closed_at < BODY + 3, closed_at

    # A keep-alive connection that served a request is closed once idle for the idle timeout.
    s = connect(srv.port)
    s.setblocking(True)
    s.settimeout(10)
    s.send(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
    first = s.recv(65536)
    assert first.startswith(b"HTTP/1.1 200"), first
    t0 = time.monotonic()
    rest = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            rest += chunk
    except OSError:
        pass
    idle_for = time.monotonic() - t0
    s.close()
    assert IDLE - 0.5 < idle_for < IDLE + 3, idle_for


def test_over_the_cap_with_every_connection_busy_new_ones_get_503(make_server):
    srv = make_server(extra_args=["--max-connections", "3", "--body-timeout", "30", "--no-warm-pool"])
    busy = []
    try:
        # Three connections in the middle of a request body: busy, never evicted.
        for _ in range(3):
            s = connect(srv.port)
            s.setblocking(True)
            s.send(b"POST /v1/health HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc")
            busy.append(s)
        time.sleep(0.3)
        s = connect(srv.port)
        s.setblocking(True)
        s.settimeout(5)
        answer = s.recv(65536)
        s.close()
        assert answer.startswith(b"HTTP/1.1 503"), answer
        assert b"retry-after: 1" in answer.lower(), answer
    finally:
        for b in busy:
            b.close()
    # Once they are gone the API answers again.
    deadline = time.monotonic() + 5
    while True:
        try:
            health_ok(srv.url)
            break
        except (requests.RequestException, AssertionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
