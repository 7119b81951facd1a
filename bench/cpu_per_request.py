"""CPU per request of the warm invoke path: the server process and the instance process(es),
from /proc (utime + stime) before and after each `wrk` run, beside a plain Node.js `http`
server answering the same bytes in the same run.

Targets (each at 1, 16, 64 and 256 connections, `--connections` to change):
- plain     a Node.js `http` server answering `{"ok":true}` (the baseline);
- node-url  a Node.js function returning that constant, through its function URL;
- node-api  the same function through the invoke API (POST …/functions/NAME/invoke);
- py-url, py-api  the same with a Python function.

With `--compare-bootstraps REV`, it also runs Swell's Node.js and Python bootstraps of git
revision REV and of this checkout as `runtime: provided` functions (a `bootstrap` script
that execs the runtime on a copy of the file) through the invoke API, so both bootstraps
are measured by the same server in the same run: the instance CPU per invoke depends on
the bootstrap, hardly on the server's build mode.

    python3 bench/cpu_per_request.py [--bin PATH] [--quick] [--duration 8]
        [--connections 1,16,64,256] [--only node-url,plain] [--compare-bootstraps REV]

The binary: --bin, else $SWELL_BIN, else the release build (`swift build -c release
--show-bin-path`), else the debug build. Needs `wrk` (apt-get install wrk).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from common import (ROOT, Server, bootstrap_source, cpu_seconds, deploy_manifest, instances_endpoint, machine,
                    start_plain_node, summary)

CONSTANT = '{"ok":true}'
NODE_HANDLER = "exports.handler = async () => ({ ok: true });\n"
PYTHON_HANDLER = "def handler(event, context):\n    return {'ok': True}\n"
PLAIN_SERVER = """
const http = require('http');
const body = Buffer.from('%s');
http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
}).listen(Number(process.argv[2]), '127.0.0.1');
""" % CONSTANT
PROVIDED_SCRIPT = {
    "node": '#!/bin/sh\nexport _HANDLER=index.handler\nexec /usr/bin/node "$LAMBDA_TASK_ROOT/swell-bootstrap.js"\n',
    "python": '#!/bin/sh\nexport _HANDLER=app.handler\nexec /usr/bin/python3 -u "$LAMBDA_TASK_ROOT/swell-bootstrap.py"\n',
}


def pick_binary(explicit: str | None) -> str:
    if explicit:
        return explicit
    if os.environ.get("SWELL_BIN"):
        return os.environ["SWELL_BIN"]
    for mode in ("release", "debug"):
        out = subprocess.run(["swift", "build", "-c", mode, "--show-bin-path"], cwd=ROOT, capture_output=True, text=True)
        path = Path(out.stdout.strip()) / "swell"
        if out.returncode == 0 and path.exists():
            return str(path)
    sys.exit("no swell binary: build one or pass --bin")



def wrk(url: str, connections: int, duration: float, script: Path | None = None) -> dict:
    cmd = ["wrk", "-t", "1" if connections == 1 else "2", "-c", str(connections), "-d", f"{max(1, round(duration))}s", "--latency"]
    if script:
        cmd += ["-s", str(script)]
    out = subprocess.run(cmd + [url], check=True, capture_output=True, text=True).stdout

    def ms(label: str) -> float:
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\b", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    total = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {"requests": total, "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50": ms("50"), "p99": ms("99"),
            "errors": (int(errors.group(1)) if errors else 0) + (sum(map(int, socket_errors.groups())) if socket_errors else 0)}


def post_script(work: Path, key: str) -> Path:
    path = work / "post.lua"
    path.write_text('wrk.method = "POST"\nwrk.body = "{}"\n'
                    'wrk.headers["Content-Type"] = "application/json"\n'
                    f'wrk.headers["Authorization"] = "Bearer {key}"\n')
    return path


class Target:
    def __init__(self, name: str, url: str, server_pids, instance_pids, script: Path | None = None):
        self.name, self.url, self.script = name, url, script
        self.server_pids, self.instance_pids = server_pids, instance_pids

    def measure(self, connections: int, duration: float) -> dict:
        wrk(self.url, connections, min(2.0, duration / 2), self.script)  # warm-up (and instances up)
        servers, instances = self.server_pids(), self.instance_pids()
        s0, i0 = cpu_seconds(servers), cpu_seconds(instances)
        r = wrk(self.url, connections, duration, self.script)
        s1, i1 = cpu_seconds(servers), cpu_seconds(instances)
        n = max(1, r["requests"])
        r.update(server_us=(s1 - s0) * 1e6 / n, instance_us=(i1 - i0) * 1e6 / n if instances else None,
                 instances=len(instances))
        return r


def function_pids(server: Server, name: str) -> list[int]:
    return [i["pid"] for i in (instances_endpoint(server, name) or []) if i.get("pid")]



def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin")
    ap.add_argument("--quick", action="store_true", help="2 s runs at 1 and 64 connections")
    ap.add_argument("--duration", type=float, default=8)
    ap.add_argument("--connections", default="1,16,64,256")
    ap.add_argument("--only", help="comma-separated targets (plain, node-url, node-api, py-url, py-api, boot-*)")
    ap.add_argument("--concurrency", type=int, default=64, help="the functions' instance concurrency")
    ap.add_argument("--compare-bootstraps", metavar="REV", help="also measure the bootstraps of git REV beside this checkout's")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    if args.quick:
        args.duration, args.connections = 2, "1,64"
    connections = [int(c) for c in args.connections.split(",")]
    binary = pick_binary(args.bin)
    os.environ["SWELL_BIN"] = binary  # common.Server and deploys use it

    work = Path(tempfile.mkdtemp(prefix="swell-cpu-"))
    plain, plain_port = start_plain_node(work, PLAIN_SERVER)
    server = Server()
    try:
        for name, runtime, handler, files in (("cpu-node", "nodejs20", "index.handler", {"index.js": NODE_HANDLER}),
                                              ("cpu-py", "python3", "app.handler", {"app.py": PYTHON_HANDLER})):
            server.deploy(name, files, runtime=runtime, handler=handler, concurrency=args.concurrency, url={"auth": "none"})
        script = post_script(work, server.key)
        api_url = f"{server.url}/v1/namespaces/default/functions/{{}}/invoke"
        spid = lambda: [server.proc.pid]  # noqa: E731
        targets = [
            Target("plain", f"http://127.0.0.1:{plain_port}/", lambda: [plain.pid], lambda: []),
            Target("node-url", f"{server.url}/fn/default/cpu-node/", spid, lambda: function_pids(server, "cpu-node")),
            Target("node-api", api_url.format("cpu-node"), spid, lambda: function_pids(server, "cpu-node"), script),
            Target("py-url", f"{server.url}/fn/default/cpu-py/", spid, lambda: function_pids(server, "cpu-py")),
            Target("py-api", api_url.format("cpu-py"), spid, lambda: function_pids(server, "cpu-py"), script),
        ]
        if args.compare_bootstraps:
            for rev, label in ((args.compare_bootstraps, "old"), ("worktree", "new")):
                for runtime, handler_file, source in (("node", "index.js", NODE_HANDLER), ("python", "app.py", PYTHON_HANDLER)):
                    name = f"boot-{runtime}-{label}"
                    ext = "js" if runtime == "node" else "py"
                    app = server.dir / "apps" / name
                    (app / "code").mkdir(parents=True)
                    for file, text in (("bootstrap", PROVIDED_SCRIPT[runtime]), (handler_file, source),
                                       (f"swell-bootstrap.{ext}", bootstrap_source(rev, runtime))):
                        (app / "code" / file).write_text(text)
                    os.chmod(app / "code" / "bootstrap", 0o755)
                    r = deploy_manifest(server, app, {"functions": {name: {
                        "code": "./code", "runtime": "provided", "handler": "bootstrap", "concurrency": args.concurrency}}})
                    if r.returncode != 0:
                        sys.exit(f"deploy of {name} failed: {r.stderr or r.stdout}")
                    targets.append(Target(name, api_url.format(name), spid, lambda n=name: function_pids(server, n), script))
        if args.only:
            keep = set(args.only.split(","))
            targets = [t for t in targets if t.name in keep or (t.name.startswith("boot-") and "boot-*" in keep)]
        for _ in range(50):
            try:
                requests.get(f"http://127.0.0.1:{plain_port}/", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.05)
        for t in targets:  # cold starts happen here, not in the measurements
            r = requests.post(t.url, headers=server.headers, data="{}") if t.script else requests.get(t.url)
            assert r.status_code == 200 and r.text.replace(" ", "") == CONSTANT, (t.name, r.status_code, r.text)

        print(f"machine: {machine()}; swell: {binary}; wrk {args.duration:g}s per run; function concurrency {args.concurrency}")
        print(f"{'target':<16}{'conns':>6}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'err':>5}"
              f"{'server µs/req':>15}{'instance µs/req':>17}{'inst':>6}{'tput/plain':>12}{'+p50 ms':>9}")
        results: dict[str, dict[int, dict]] = {}
        for c in connections:
            base = None
            for t in targets:
                r = t.measure(c, args.duration)
                results.setdefault(t.name, {})[c] = r
                if t.name == "plain":
                    base = r
                ratio = f"{r['rps'] / base['rps']:.2f}x" if base and t.name != "plain" else ""
                added = f"{r['p50'] - base['p50']:+.3f}" if base and t.name != "plain" else ""
                inst = f"{r['instance_us']:.1f}" if r["instance_us"] is not None else "-"
                print(f"{t.name:<16}{c:>6}{r['rps']:>10.0f}{r['p50']:>9.3f}{r['p99']:>9.3f}{r['errors']:>5}"
                      f"{r['server_us']:>15.1f}{inst:>17}{r['instances']:>6}{ratio:>12}{added:>9}", flush=True)
        summary("cpu_per_request", {"binary": binary, "duration": args.duration, "results": results})
    finally:
        server.stop()
        plain.terminate()
        plain.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
