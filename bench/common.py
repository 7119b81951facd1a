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

    def __init__(self, *extra: str):
        self.dir = Path(tempfile.mkdtemp(prefix="swell-bench-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(self.dir / "server.log", "w")
        self.proc = subprocess.Popen(
            [swell_binary(), "serve", "--data-dir", str(self.dir / "data"), "--port", str(self.port), "--log-level", "warning", *extra],
            stdout=self.log, stderr=subprocess.STDOUT)
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
