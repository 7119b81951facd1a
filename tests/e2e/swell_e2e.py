"""Helpers of the Swell end-to-end suite: a real `swell serve` process, the REST API
through `requests`, the `swell` CLI through subprocesses, and function directories
with a swell.yaml written on the fly.

Everything here drives real processes and sockets on the loopback interface only.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import requests

SWELL_BIN = os.environ.get("SWELL_BIN", "/work/main/.build/debug/swell")
REPO_ROOT = Path(__file__).resolve().parents[2]

_DEFAULT = object()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class CLIResult:
    args: list[str]
    code: int
    stdout: str
    stderr: str

    def __str__(self) -> str:  # shown by pytest when an assertion on it fails
        return f"$ swell {' '.join(self.args)}\n[exit {self.code}]\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"

    def ok(self) -> "CLIResult":
        assert self.code == 0, f"CLI failed:\n{self}"
        return self


class SwellServer:
    """One `swell serve` process on a data directory. `stop()` then `start()` restarts it
    on the same data directory (the port is kept unless `port=` is given)."""

    def __init__(self, data_dir: Path | str, port: int | None = None, bin_path: str = SWELL_BIN,
                 cwd: Path | str | None = None, extra_args: list[str] | None = None,
                 env: Mapping[str, str] | None = None, log_path: Path | str | None = None):
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.bin = bin_path
        self.cwd = Path(cwd) if cwd else None
        self.extra_args = list(extra_args or [])
        self.env = dict(env) if env else None
        self.log_path = Path(log_path) if log_path else self._default_log_path()
        self.proc: subprocess.Popen | None = None
        self.admin_key: str | None = None
        self._log_file = None
        self.starts = 0

    def _default_log_path(self) -> Path:
        base = self.data_dir if self.data_dir.is_absolute() else (self.cwd or Path.cwd()) / self.data_dir
        return base.parent / f"{base.name}-server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, port: int | None = None, timeout: float = 60.0) -> "SwellServer":
        assert not self.alive(), "server already running"
        if port:
            self.port = port
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = open(self.log_path, "ab")
        self._log_file.write(f"\n===== start #{self.starts + 1} on port {self.port} =====\n".encode())
        self._log_file.flush()
        args = [self.bin, "serve", "--data-dir", str(self.data_dir), "--port", str(self.port)] + self.extra_args
        env = dict(os.environ)
        env.pop("SWELL_ADMIN_KEY", None)
        if self.env:
            env.update(self.env)
        self.proc = subprocess.Popen(args, stdout=self._log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     cwd=str(self.cwd) if self.cwd else None, env=env, start_new_session=True)
        self.starts += 1
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"swell serve exited with {self.proc.returncode}; log:\n{self.log()}")
            try:
                r = requests.get(self.url + "/v1/health", timeout=2)
                if r.status_code == 200 and r.json().get("status") == "ok":
                    break
            except requests.RequestException as e:
                last_error = e
            time.sleep(0.1)
        else:
            self.stop()
            raise RuntimeError(f"swell serve did not answer /v1/health in {timeout}s ({last_error}); log:\n{self.log()}")
        key_file = self.key_file
        for _ in range(50):
            if key_file.exists() and key_file.read_text().strip():
                break
            time.sleep(0.1)
        self.admin_key = key_file.read_text().strip()
        return self

    @property
    def key_file(self) -> Path:
        base = self.data_dir if self.data_dir.is_absolute() else (self.cwd or Path.cwd()) / self.data_dir
        return base / "admin.key"

    def stop(self, grace: float = 10.0) -> int | None:
        """SIGTERM by PID, SIGKILL (to the process group we created) after `grace` seconds."""
        if self.proc is None:
            return None
        code = self.proc.poll()
        if code is None:
            try:
                os.kill(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                code = self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                code = self.proc.wait(timeout=10)
        if self._log_file:
            self._log_file.write(f"===== stopped, exit {code} =====\n".encode())
            self._log_file.close()
            self._log_file = None
        self.proc = None
        return code

    def restart(self, port: int | None = None) -> "SwellServer":
        self.stop()
        return self.start(port=port)

    def log(self) -> str:
        """The log's last 20,000 characters (what an assertion message can show)."""
        return self.full_log()[-20000:]

    def full_log(self) -> str:
        """The whole log, for lines written once at start-up (a long-lived shared server's
        tail may hold only its latest lines)."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def client(self, key: Any = _DEFAULT) -> "Client":
        return Client(self, self.admin_key if key is _DEFAULT else key)


class Client:
    """The REST API (requests) and the CLI (subprocess) of one server, with one key."""

    def __init__(self, server: SwellServer, key: str | None):
        self.server = server
        self.key = key

    @property
    def url(self) -> str:
        return self.server.url

    def with_key(self, key: str | None) -> "Client":
        return Client(self.server, key)

    # ---- REST -------------------------------------------------------------

    def headers(self, key: Any = _DEFAULT, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        k = self.key if key is _DEFAULT else key
        h = {}
        if k:
            h["Authorization"] = f"Bearer {k}"
        if extra:
            h.update(extra)
        return h

    def api(self, method: str, path: str, key: Any = _DEFAULT, json_body: Any = _DEFAULT, data: Any = None,
            headers: Mapping[str, str] | None = None, timeout: float = 60, **kw) -> requests.Response:
        kwargs: dict[str, Any] = dict(headers=self.headers(key, headers), timeout=timeout, **kw)
        if json_body is not _DEFAULT:
            kwargs["json"] = json_body
        elif data is not None:
            kwargs["data"] = data
        return requests.request(method, self.url + path, **kwargs)

    def invoke(self, name: str, event: Any = _DEFAULT, qualifier: str | None = None, ns: str = "default",
               key: Any = _DEFAULT, data: bytes | str | None = None, headers: Mapping[str, str] | None = None,
               timeout: float = 60) -> requests.Response:
        path = f"/v1/namespaces/{ns}/functions/{name}/invoke"
        params = {"qualifier": qualifier} if qualifier is not None else None
        h = {"Content-Type": "application/json"}
        if headers:
            h.update(headers)
        if data is None:
            data = json.dumps({} if event is _DEFAULT else event)
        return self.api("POST", path, key=key, data=data, headers=h, params=params, timeout=timeout)

    def invoke_ok(self, name: str, event: Any = _DEFAULT, **kw) -> Any:
        r = self.invoke(name, event, **kw)
        assert r.status_code == 200, f"invoke {name}: HTTP {r.status_code} {r.text[:2000]}"
        assert "X-Swell-Function-Error" not in r.headers, (
            f"invoke {name}: function error {r.headers.get('X-Swell-Function-Error')}: {r.text[:2000]}")
        return r.json()

    def logs(self, name: str, ns: str = "default", **params) -> dict:
        r = self.api("GET", f"/v1/namespaces/{ns}/functions/{name}/logs", params=params)
        assert r.status_code == 200, r.text
        return r.json()

    def wait_logs(self, name: str, request_id: str, predicate, timeout: float = 10.0, ns: str = "default") -> list[dict]:
        """Polls GET …/logs?requestId= until `predicate(lines)` holds; returns the lines."""
        deadline = time.monotonic() + timeout
        lines: list[dict] = []
        while True:
            lines = self.logs(name, ns=ns, requestId=request_id, limit=1000)["lines"]
            if predicate(lines) or time.monotonic() > deadline:
                return lines
            time.sleep(0.1)

    # ---- CLI ----------------------------------------------------------------

    def cli_env(self, key: Any = _DEFAULT, env: Mapping[str, str] | None = None) -> dict[str, str]:
        e = {k: v for k, v in os.environ.items() if not k.startswith("SWELL_")}
        e["SWELL_URL"] = self.url
        k = self.key if key is _DEFAULT else key
        if k:
            e["SWELL_KEY"] = k
        if env:
            e.update(env)
        return e

    def cli(self, *args: str, key: Any = _DEFAULT, timeout: float = 120, cwd: Path | str | None = None,
            env: Mapping[str, str] | None = None, input: str | None = None) -> CLIResult:
        argv = [str(a) for a in args]
        for attempt in range(60):
            try:
                p = subprocess.run([self.server.bin, *argv], capture_output=True, text=True, timeout=timeout,
                                   cwd=str(cwd) if cwd else None, env=self.cli_env(key, env), input=input,
                                   stdin=None if input is not None else subprocess.DEVNULL)
                break
            except OSError as e:  # ETXTBSY: the binary is being relinked right now; not Swell's fault
                if e.errno != errno.ETXTBSY or attempt == 59:
                    raise
                time.sleep(0.5)
        return CLIResult(argv, p.returncode, p.stdout, p.stderr)

    def popen_cli(self, *args: str, key: Any = _DEFAULT, **kw) -> subprocess.Popen:
        return subprocess.Popen([self.server.bin, *[str(a) for a in args]], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=self.cli_env(key), **kw)

    # ---- deploy -------------------------------------------------------------

    def deploy(self, app_dir: Path, functions: Mapping[str, Mapping[str, Any]], namespace: str | None = None,
               key: Any = _DEFAULT, check: bool = True, extra_args: tuple[str, ...] = ()) -> CLIResult:
        """Writes `app_dir/swell.yaml` (+ one code directory per function) and runs `swell deploy`."""
        write_app(app_dir, functions, namespace=namespace)
        res = self.cli("deploy", str(app_dir), *extra_args, key=key)
        if check:
            res.ok()
        return res


def write_files(directory: Path, files: Mapping[str, Any]) -> None:
    """files: relative path -> str | bytes | (str|bytes, mode)."""
    directory.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        mode = None
        if isinstance(content, tuple):
            content, mode = content
        p = directory / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content)
        if mode is not None:
            os.chmod(p, mode)


def write_app(app_dir: Path, functions: Mapping[str, Mapping[str, Any]], namespace: str | None = None) -> Path:
    """Each function: its manifest fields plus `files` (written to app_dir/<name>/, used as
    `code: ./<name>`) or an explicit `code`. The manifest is written as JSON, which is YAML."""
    app_dir = Path(app_dir)
    app_dir.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {}
    if namespace:
        manifest["namespace"] = namespace
    entries: dict[str, Any] = {}
    for name, spec in functions.items():
        spec = dict(spec)
        files = spec.pop("files", None)
        if files is not None:
            code_dir = app_dir / name
            if code_dir.exists():
                shutil.rmtree(code_dir)
            write_files(code_dir, files)
            spec.setdefault("code", f"./{name}")
        entries[name] = spec
    manifest["functions"] = entries
    (app_dir / "swell.yaml").write_text(json.dumps(manifest, indent=2) + "\n")
    return app_dir


def node_fn(source: str, **config) -> dict:
    return {"runtime": "nodejs20", "handler": "index.handler", "files": {"index.js": source}, **config}


def python_fn(source: str, **config) -> dict:
    return {"runtime": "python3", "handler": "app.handler", "files": {"app.py": source}, **config}


def function_error(r: requests.Response) -> str | None:
    return r.headers.get("X-Swell-Function-Error")


class LineReader:
    """Reads a pipe line by line on a thread, so tests can wait with a timeout."""

    def __init__(self, stream):
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self._thread.start()

    def _run(self, stream):
        for raw in iter(stream.readline, b""):
            with self._cond:
                self.lines.append(raw.decode("utf-8", "replace"))
                self._cond.notify_all()

    def wait_for(self, needle: str, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines:
                    if needle in line:
                        return line
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)


def function_info(body: dict) -> dict:
    """The FunctionInfo in a GET …/functions/NAME answer. The contract says the answer IS a
    FunctionInfo; this also accepts {"function": FunctionInfo, …} so that other tests do
    not fail on that one shape question (test_get_function_shape checks the contract)."""
    if "function" in body and isinstance(body["function"], dict) and "name" not in body:
        return body["function"]
    return body


def wait_until(predicate, timeout: float, step: float = 0.1):
    """Polls `predicate` every `step` seconds until it is truthy or `timeout` passes; returns its
    last value (falsy on timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)
