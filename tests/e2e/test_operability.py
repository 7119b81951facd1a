"""First-day operability (issue 12): a server fails loudly and at once, one server per data
directory, signals stop it in every state, and every CLI error names the fix.

Every server here is a real `swell serve` process on loopback, stopped by PID."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from swell_e2e import SWELL_BIN, LineReader, SwellServer, free_port, node_fn, python_fn, write_app


# ---- helpers -------------------------------------------------------------------


class Spawned:
    """`swell serve …` with its output read line by line; stopped by PID at the end."""

    def __init__(self, *args: str, cwd: Path | None = None, env: dict | None = None):
        e = {k: v for k, v in os.environ.items() if not k.startswith("SWELL_")}
        if env:
            e.update(env)
        self.started = time.monotonic()
        self.proc = subprocess.Popen([SWELL_BIN, "serve", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=str(cwd) if cwd else None, env=e,
                                     start_new_session=True)
        self.out = LineReader(self.proc.stdout)

    def wait(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    @property
    def text(self) -> str:
        return "".join(self.out.lines)

    def kill(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)


@pytest.fixture
def spawn():
    started: list[Spawned] = []

    def make(*args: str, **kw) -> Spawned:
        s = Spawned(*args, **kw)
        started.append(s)
        return s

    yield make
    for s in started:
        s.kill()


def cli(*args: str, cwd: Path, env: dict, timeout: float = 60, input: str | None = None) -> subprocess.CompletedProcess:
    """The CLI with exactly `env` (plus PATH), so that no SWELL_* of the caller leaks in."""
    e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env}
    return subprocess.run([SWELL_BIN, *args], capture_output=True, text=True, cwd=str(cwd), env=e, timeout=timeout,
                          input=input, stdin=None if input is not None else subprocess.DEVNULL)


def error_line(p: subprocess.CompletedProcess) -> str:
    """The CLI's error message: non-empty, on stderr, with a non-zero exit."""
    assert p.returncode != 0, f"expected a failure; stdout {p.stdout!r} stderr {p.stderr!r}"
    text = p.stderr.strip()
    assert text.startswith("error: ") and len(text) > len("error: ") + 10, f"empty or bare error: {p.stderr!r}"
    return text


@pytest.fixture
def home(tmp_path) -> Path:
    """A HOME of its own, so that no login of the machine's user is read or written."""
    h = tmp_path / "home"
    h.mkdir()
    return h


def taken_port_message(port: int) -> str:
    return f"cannot listen on 127.0.0.1:{port}: address already in use (is another swell serve running? use --port)"


# ---- 1. a taken port ----------------------------------------------------------------


def test_second_server_on_a_taken_port_exits_at_once(server, spawn, tmp_path):
    s = spawn("--data-dir", str(tmp_path / "other"), "--port", str(server.port))
    code = s.wait(timeout=2)
    elapsed = time.monotonic() - s.started
    assert code is not None, f"swell serve on a taken port still running after 2 s:\n{s.text}"
    assert code != 0, s.text
    assert taken_port_message(server.port) in s.text, s.text
    assert elapsed < 2, elapsed
    # The first server is untouched.
    assert requests.get(server.url + "/v1/health", timeout=5).status_code == 200


def test_port_taken_by_another_program(spawn, tmp_path):
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        s = spawn("--data-dir", str(tmp_path / "d"), "--port", str(port))
        code = s.wait(timeout=2)
        assert code not in (None, 0), s.text
        assert taken_port_message(port) in s.text, s.text


def test_other_startup_failures_exit_non_zero_with_a_message(spawn, tmp_path):
    a_file = tmp_path / "not-a-dir"
    a_file.write_text("x")
    cases = [
        (["--data-dir", str(a_file / "data"), "--port", str(free_port())], "cannot create the data directory"),
        (["--data-dir", str(tmp_path / "d1"), "--port", "70000"], "--port must be between 1 and 65535"),
        (["--data-dir", str(tmp_path / "d2"), "--host", "192.0.2.1", "--port", str(free_port())],
         "192.0.2.1 is not an address of this machine (use --host)"),
    ]
    for args, needle in cases:
        s = spawn(*args)
        code = s.wait(timeout=5)
        assert code not in (None, 0), (args, s.text)
        assert needle in s.text, (args, s.text)
        assert "error: " in s.text, s.text


# ---- 2. one server per data directory -----------------------------------------------


def test_second_server_on_a_locked_data_directory_refuses(make_server, spawn, tmp_path):
    first = make_server(tmp_path / "shared")
    s = spawn("--data-dir", str(tmp_path / "shared"), "--port", str(free_port()))
    code = s.wait(timeout=2)
    assert code not in (None, 0), s.text
    assert f"is in use by another swell serve (pid {first.pid})" in s.text, s.text
    assert "--data-dir" in s.text, s.text
    assert requests.get(first.url + "/v1/health", timeout=5).status_code == 200
    # The lock goes with the process: once the first stops, the directory is free.
    assert first.stop() == 0
    first.start()
    assert requests.get(first.url + "/v1/health", timeout=5).status_code == 200


def test_lock_is_released_even_after_kill_9(spawn, tmp_path):
    data = tmp_path / "d"
    port = free_port()
    s = spawn("--data-dir", str(data), "--port", str(port), "--no-warm-pool")
    assert s.out.wait_for("swell is listening", timeout=60), s.text
    os.killpg(s.proc.pid, signal.SIGKILL)
    s.proc.wait(timeout=10)
    again = SwellServer(data, log_path=tmp_path / "again.log", extra_args=["--no-warm-pool"]).start()
    try:
        assert again.client().api("GET", "/v1/whoami").status_code == 200
    finally:
        again.stop()


# ---- signals in every state ---------------------------------------------------------


def test_sigterm_during_startup_stops_the_server(spawn, tmp_path):
    data = tmp_path / "d"
    port = free_port()
    # The homework example makes the start-up long enough to hit: it packs and deploys a function.
    s = spawn("--data-dir", str(data), "--port", str(port), "--example", "homework")
    assert s.out.wait_for("starting", timeout=30), s.text
    os.kill(s.proc.pid, signal.SIGTERM)
    code = s.wait(timeout=20)
    assert code is not None, f"SIGTERM during start-up did not stop swell serve within 20 s:\n{s.text}"
    assert code == 0, s.text
    assert "SIGTERM received" in s.text, s.text
    # Nothing is left listening, and the data directory is free again.
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    again = SwellServer(data, log_path=tmp_path / "again.log").start()
    again.stop()


def test_sigint_stops_a_running_server_gracefully(spawn, tmp_path):
    s = spawn("--data-dir", str(tmp_path / "d"), "--port", str(free_port()))
    assert s.out.wait_for("swell is listening", timeout=60), s.text
    os.kill(s.proc.pid, signal.SIGINT)
    code = s.wait(timeout=20)
    assert code == 0, s.text
    assert "SIGINT received" in s.text, s.text


def test_a_second_signal_stops_at_once(make_server, tmp_path):
    srv = make_server(tmp_path / "d")
    c = srv.client()
    c.deploy(tmp_path / "app", {"slow": python_fn("import time\ndef handler(e, c):\n    time.sleep(30)\n    return 1\n",
                                                  timeout=60)})
    def call():
        try:
            c.invoke("slow", timeout=60)
        except requests.RequestException:
            pass  # the server stops under it: that is the point

    threading.Thread(target=call, daemon=True).start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        busy = [i for i in c.api("GET", "/v1/namespaces/default/functions/slow/instances").json().get("instances", [])
                if i.get("busy")]
        if busy:
            break
        time.sleep(0.2)
    os.kill(srv.pid, signal.SIGTERM)
    time.sleep(1)
    if srv.proc.poll() is None:  # still draining the 30-second invocation, as a graceful stop should
        os.kill(srv.pid, signal.SIGTERM)
        code = srv.proc.wait(timeout=3)
        assert code == 143, srv.log()
        assert "SIGTERM received again: stopping at once" in srv.log()
    else:
        assert srv.proc.returncode == 0


# ---- 3. complete error messages -----------------------------------------------------


@pytest.fixture
def ns_app(tmp_path) -> Path:
    """An app whose manifest sets namespace: (as every example does)."""
    return write_app(tmp_path / "nsapp", {"hello-ns": node_fn("exports.handler = async () => 1;")}, namespace="default")


def test_wrong_key_with_a_manifest_namespace(server, ns_app, tmp_path, home):
    p = cli("deploy", str(ns_app), cwd=tmp_path, env={"HOME": str(home), "SWELL_URL": server.url,
                                                      "SWELL_KEY": "swk_not_a_real_key_000000000000"})
    text = error_line(p)
    assert "HTTP 401" in text and "SWELL_KEY" in text and "refused" in text, text


def test_no_key_says_where_it_looked(server, ns_app, tmp_path, home):
    work = tmp_path / "nowhere"
    work.mkdir()
    p = cli("deploy", str(ns_app), cwd=work, env={"HOME": str(home), "SWELL_URL": server.url})
    text = error_line(p)
    assert "no key found" in text, text
    assert str(work / ".swell" / "admin.key") in text, text
    assert str(home / ".config" / "swell" / "login.json") in text, text
    assert "swell login" in text and "SWELL_KEY" in text, text


@pytest.mark.parametrize("url,needle", [
    ("127.0.0.1:{port}", "has no scheme: use http://127.0.0.1:{port}"),
    ("http://127.0.0.1:{port}/v1", "ends in /v1: give the server's root, http://127.0.0.1:{port}"),
    ("http://127.0.0.1:{port}/v1/", "ends in /v1: give the server's root, http://127.0.0.1:{port}"),
    ("ftp://127.0.0.1:{port}", "must start with http:// or https://"),
])
def test_bad_swell_url(server, tmp_path, home, url, needle):
    p = cli("functions", "list", cwd=tmp_path, env={"HOME": str(home), "SWELL_URL": url.format(port=server.port),
                                                    "SWELL_KEY": server.admin_key})
    text = error_line(p)
    assert "SWELL_URL" in text and needle.format(port=server.port) in text, text


def test_unknown_host_and_refused_connection(tmp_path, home):
    p = cli("functions", "list", cwd=tmp_path, env={"HOME": str(home), "SWELL_URL": "http://no-such-host.invalid:8080",
                                                    "SWELL_KEY": "swk_x"}, timeout=60)
    text = error_line(p)
    assert "cannot reach Swell at http://no-such-host.invalid:8080" in text, text
    assert "no-such-host.invalid" in text.split(":", 3)[-1] and "SWELL_URL" in text, text
    port = free_port()
    p = cli("functions", "list", cwd=tmp_path, env={"HOME": str(home), "SWELL_URL": f"http://127.0.0.1:{port}",
                                                    "SWELL_KEY": "swk_x"})
    text = error_line(p)
    assert "connection refused" in text and "is `swell serve` running there?" in text, text


def test_every_manifest_error_in_one_deploy(swell, tmp_path, unique):
    a, b, c = unique("many-a"), unique("many-b"), unique("many-c")
    app = tmp_path / "many"
    app.mkdir()
    (app / "fn").mkdir()
    (app / "fn" / "index.js").write_text("exports.handler = async () => 1;\n")
    (app / "swell.yaml").write_text(f"""
extra: 1
functions:
  {a}:
    runtime: nodejs20
    handler: index.handler
    code: ./fn
    memory: 5
    timeout: 0
  {b}:
    runtime: cobol
    handler: index.handler
    code: ./fn
  {c}:
    runtime: nodejs20
    handler: index.handler
    code: ./missing
""")
    r = swell.cli("deploy", str(app))
    assert r.code != 0
    for field in ["extra", f"functions.{a}.memory", f"functions.{a}.timeout", f"functions.{b}.runtime", f"functions.{c}.code"]:
        assert field in r.stderr, (field, r.stderr)
    assert f"5 problems in {app / 'swell.yaml'}" in r.stderr, r.stderr
    # Nothing was deployed.
    assert swell.api("GET", f"/v1/namespaces/default/functions/{a}").status_code == 404


def test_a_file_that_is_not_a_manifest_is_named(swell, tmp_path):
    py = tmp_path / "handler.py"
    py.write_text("def handler(event, context):\n    return 1\n")
    r = swell.cli("deploy", str(py))
    assert r.code != 0 and f"{py} is not a Swell manifest" in r.stderr, r
    pkg = tmp_path / "package.json"
    pkg.write_text(json.dumps({"name": "x", "version": "1.0.0"}))
    r = swell.cli("deploy", str(pkg))
    assert r.code != 0 and f"{pkg} is not a Swell manifest" in r.stderr and "functions:" in r.stderr, r
    empty = tmp_path / "emptydir"
    empty.mkdir()
    r = swell.cli("deploy", str(empty))
    assert r.code != 0 and f"{empty} has no swell.yaml" in r.stderr, r


def test_missing_handler_file_fails_the_deploy(swell, tmp_path, unique):
    node, py, exe = unique("hnode"), unique("hpy"), unique("hexe")
    r = swell.deploy(tmp_path / "a", {
        node: {"runtime": "nodejs20", "handler": "main.handler", "files": {"index.js": "exports.handler = async () => 1;"}},
        py: {"runtime": "python3", "handler": "lambda_function.handler", "files": {"app.py": "def handler(e, c):\n    return 1\n"}},
        exe: {"runtime": "provided", "files": {"bootstrap": ("#!/bin/sh\nexit 0\n", 0o644)}},
    }, check=False)
    assert r.code != 0
    assert f"functions.{node}.handler: the code package has no main.js" in r.stderr, r.stderr
    assert f"functions.{py}.handler: the code package has no lambda_function.py" in r.stderr, r.stderr
    assert f"functions.{exe}.handler: bootstrap in the code package is not executable (chmod +x bootstrap" in r.stderr, r.stderr
    for name in (node, py, exe):
        assert swell.api("GET", f"/v1/namespaces/default/functions/{name}").status_code == 404


def test_missing_handler_file_fails_a_deploy_through_the_api(swell, tmp_path, unique):
    """The server checks too, for clients other than the CLI."""
    name = unique("hapi")
    swell.deploy(tmp_path / "ok", {name: node_fn("exports.handler = async () => 1;")})
    sha = swell.api("GET", f"/v1/namespaces/default/functions/{name}").json()
    sha = sha.get("function", sha)["codeSha256"]
    r = swell.api("PUT", f"/v1/namespaces/default/functions/{name}",
                  json_body={"runtime": "nodejs20", "handler": "nope.handler", "codeSha256": sha})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["field"] == "handler" and "nope.js" in r.json()["error"]["message"], r.text


def test_export_typo_is_a_warning(swell, tmp_path, unique):
    name = unique("htypo")
    r = swell.deploy(tmp_path / "t", {name: {"runtime": "nodejs20", "handler": "index.hander",
                                             "files": {"index.js": "exports.handler = async () => 1;"}}}, check=False)
    assert r.code == 0, r
    assert f"warning: functions.{name}.handler: index.js never mentions hander" in r.stderr, r.stderr


def test_function_url_error_names_the_fix(swell, tmp_path, unique):
    name = unique("nourl")
    swell.deploy(tmp_path / "u", {name: node_fn("exports.handler = async () => 1;")})
    r = requests.get(f"{swell.url}/fn/default/{name}", timeout=10)
    assert r.status_code == 404
    assert "\\/" not in r.text, r.text
    message = r.json()["error"]["message"]
    assert f"no function URL at /fn/default/{name}" in message and "add url: to the function" in message, message


# ---- 4. finding the key -------------------------------------------------------------


def test_key_found_from_a_subdirectory(server, tmp_path, home, unique):
    project = tmp_path / "project"
    (project / ".swell").mkdir(parents=True)
    (project / ".swell" / "admin.key").write_text(server.admin_key + "\n")
    name = unique("sub")
    sub = write_app(project / "examples" / "x", {name: node_fn("exports.handler = async () => 'sub';")})
    p = cli("deploy", ".", cwd=sub, env={"HOME": str(home), "SWELL_URL": server.url})
    assert p.returncode == 0, p.stderr
    p = cli("invoke", name, cwd=sub / name, env={"HOME": str(home), "SWELL_URL": server.url})
    assert p.returncode == 0 and p.stdout.strip() == '"sub"', p


def test_login_saves_a_key_used_from_anywhere(server, tmp_path, home):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"HOME": str(home)}
    # A refused key is not saved.
    p = cli("login", server.url, "swk_wrong_wrong_wrong_wrong", cwd=elsewhere, env=env)
    assert "HTTP 401" in error_line(p)
    saved = home / ".config" / "swell" / "login.json"
    assert not saved.exists()
    # The key from stdin, so that it stays out of the shell history.
    p = cli("login", server.url + "/", cwd=elsewhere, env=env, input=server.admin_key + "\n")
    assert p.returncode == 0, p.stderr
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert json.loads(saved.read_text()) == {"url": server.url, "key": server.admin_key}
    # No SWELL_URL, no SWELL_KEY, no key file: the login serves.
    p = cli("functions", "list", cwd=elsewhere, env=env)
    assert p.returncode == 0, p.stderr
    # SWELL_URL elsewhere: the login's key is not sent to another server.
    p = cli("functions", "list", cwd=elsewhere, env={**env, "SWELL_URL": f"http://127.0.0.1:{free_port()}"})
    assert "connection refused" in error_line(p)
