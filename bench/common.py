"""Shared helpers for Swell's benchmarks: start a server, deploy functions, percentiles."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def swell_binary() -> str:
    explicit = os.environ.get("SWELL_BIN")
    if explicit:
        return explicit
    out = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout.strip()
    return str(Path(out) / "swell")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


class Server:
    """A `swell serve` on a fresh data directory, stopped by PID."""

    def __init__(self, *extra: str, env: dict[str, str] | None = None):
        self.dir = Path(tempfile.mkdtemp(prefix="swell-bench-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(self.dir / "server.log", "w")
        self.proc = subprocess.Popen(
            [swell_binary(), "serve", "--data-dir", str(self.dir / "data"), "--port", str(self.port), "--log-level", "warning", *extra],
            stdout=self.log, stderr=subprocess.STDOUT, env=dict(os.environ, **(env or {})))
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if requests.get(self.url + "/v1/health", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.05)
        else:
            raise RuntimeError("swell serve did not start; see " + str(self.dir / "server.log"))
        self.key = (self.dir / "data" / "admin.key").read_text().strip()
        self.headers = {"Authorization": f"Bearer {self.key}"}

    def deploy(self, name: str, files: dict[str, str], **config) -> None:
        app = self.dir / "apps" / name
        code = app / "code"
        code.mkdir(parents=True, exist_ok=True)
        for path, text in files.items():
            (code / path).write_text(text)
        manifest = {"functions": {name: {"code": "./code", **config}}}
        (app / "swell.yaml").write_text(json.dumps(manifest))
        env = dict(os.environ, SWELL_URL=self.url, SWELL_KEY=self.key)
        subprocess.run([swell_binary(), "deploy", str(app)], env=env, check=True, capture_output=True)

    def put(self, name: str, **changes) -> None:
        info = requests.get(f"{self.url}/v1/namespaces/default/functions/{name}", headers=self.headers).json()["function"]
        spec = {k: info[k] for k in ("runtime", "handler", "codeSha256", "memory", "timeout", "concurrency", "environment")}
        if info.get("url"):
            spec["url"] = {"auth": info["url"]["auth"]}
        spec.update(changes)
        requests.put(f"{self.url}/v1/namespaces/default/functions/{name}", headers=self.headers, json=spec).raise_for_status()

    def invoke(self, name: str, body: str = "{}") -> requests.Response:
        return requests.post(f"{self.url}/v1/namespaces/default/functions/{name}/invoke", headers=self.headers, data=body)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def machine() -> str:
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB"


# --- Swell's bootstraps and process CPU, shared by the warm-path and bootstrap benchmarks ---

BOOTSTRAP_FILES = {"node": "Sources/SwellRuntime/Bootstraps/nodejs/bootstrap.js",
                   "python": "Sources/SwellRuntime/Bootstraps/python/bootstrap.py"}
CLK_TCK = os.sysconf("SC_CLK_TCK")


def bootstrap_source(rev: str | None, runtime: str) -> str:
    """Swell's bootstrap for `runtime` as of git `rev` (None or "worktree": this checkout)."""
    if rev is None or rev == "worktree":
        return (ROOT / BOOTSTRAP_FILES[runtime]).read_text()
    return subprocess.run(["git", "show", f"{rev}:{BOOTSTRAP_FILES[runtime]}"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of the processes (all their threads, live and exited), in seconds."""
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


def drain(stream) -> None:
    """Reads a pipe to its end (so a child never blocks on a full pipe)."""
    while stream.read(65536):
        pass


# --- Helpers for the burst, density, noisy-neighbour and async-task benchmarks -----------

NODE_BIN = "/usr/bin/node" if os.path.exists("/usr/bin/node") else (shutil.which("node") or "node")
LOADGEN = Path(__file__).resolve().parent / "loadgen.js"


class MissingFeature(SystemExit):
    """The server under test lacks a feature the benchmark needs (e.g. an older binary)."""

    def __init__(self, what: str, detail: str = ""):
        super().__init__(f"error: this swell binary does not support {what}"
                         + (f" ({detail})" if detail else "") + "; rerun with a binary that has it")


def deploy_manifest(server: Server, app: Path, manifest: dict) -> subprocess.CompletedProcess:
    """`swell deploy APP` after writing APP/swell.yaml (JSON is YAML); never raises."""
    app.mkdir(parents=True, exist_ok=True)
    (app / "swell.yaml").write_text(json.dumps(manifest))
    env = dict(os.environ, SWELL_URL=server.url, SWELL_KEY=server.key)
    return subprocess.run([swell_binary(), "deploy", str(app)], env=env, capture_output=True, text=True)


def try_deploy(server: Server, name: str, files: dict[str, str], **config) -> tuple[bool, str]:
    """Like `Server.deploy`, but reports failure (e.g. a manifest field the binary does not know)."""
    app = server.dir / "apps" / name
    code = app / "code"
    code.mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        (code / path).write_text(text)
    r = deploy_manifest(server, app, {"functions": {name: {"code": "./code", **config}}})
    return r.returncode == 0, (r.stderr or r.stdout).strip()


def api(server: Server, method: str, path: str, **kw) -> requests.Response:
    return requests.request(method, server.url + path, headers={**server.headers, **kw.pop("headers", {})}, **kw)


def instances_endpoint(server: Server, name: str) -> list[dict] | None:
    """The instances of a function from `GET …/functions/{name}/instances`; None when the
    server answers 404 (the caller has deployed the function, so the route is missing)."""
    r = api(server, "GET", f"/v1/namespaces/default/functions/{name}/instances")
    if r.status_code == 404:
        return None
    r.raise_for_status()
    return r.json()["instances"]


def children(pid: int) -> list[int]:
    """Direct children of `pid`, from /proc/*/stat."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if int(fields[1]) == pid:
            out.append(int(entry))
    return out


def instance_pids(server: Server) -> list[int]:
    """PIDs of the server's instance processes: its children whose working directory is an
    unpacked code package (`DATA/code/SHA256`). Pre-booted warm-pool processes work in
    `DATA/instances` until they are specialized, so they are not counted."""
    code = str(server.dir / "data" / "code") + "/"
    pids = []
    for pid in children(server.proc.pid):
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if (cwd + "/").startswith(code):
            pids.append(pid)
    return pids


def memory_kib(pid: int) -> dict[str, int]:
    """Rss and Pss (KiB) of a process, from /proc/PID/smaps_rollup (Rss from status if needed)."""
    out: dict[str, int] = {}
    try:
        for line in open(f"/proc/{pid}/smaps_rollup"):
            key, _, rest = line.partition(":")
            if key in ("Rss", "Pss"):
                out[key.lower()] = int(rest.split()[0])
    except OSError:
        pass
    if "rss" not in out:
        try:
            for line in open(f"/proc/{pid}/status"):
                if line.startswith("VmRSS:"):
                    out["rss"] = int(line.split()[1])
        except OSError:
            pass
    return out


def status_kib(pid: int, field: str) -> int:
    """A `VmRSS`/`VmHWM`-style field of /proc/PID/status, in KiB."""
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def start_plain_node(work: Path, source: str, *args: str) -> tuple[subprocess.Popen, int]:
    """The baseline: `source` written to WORK/server.js and run by Node with its extra
    arguments and then a free port (the script listens on its last argument)."""
    (work / "server.js").write_text(source)
    port = free_port()
    return subprocess.Popen([NODE_BIN, str(work / "server.js"), *args, str(port)]), port


def loadgen(spec: dict, timeout: float | None = None) -> dict:
    """Runs bench/loadgen.js (Node.js, keep-alive agent) with a JSON spec; returns its JSON result."""
    r = subprocess.run([NODE_BIN, str(LOADGEN), json.dumps(spec)], capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"loadgen failed: {r.stderr.strip()[-2000:]}")
    return json.loads(r.stdout)


def loadgen_background(spec: dict) -> subprocess.Popen:
    return subprocess.Popen([NODE_BIN, str(LOADGEN), json.dumps(spec)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def summary(benchmark: str, data: dict) -> None:
    """The compact JSON summary every benchmark prints last (one line)."""
    load = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else None
    print(json.dumps({"benchmark": benchmark, "machine": machine(), "loadavg": load, **data}, separators=(",", ":"), default=str))
