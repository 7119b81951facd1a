"""Swell's own bootstraps alone, without `swell serve`: the bootstrap files of git revision
REV beside this checkout's, in the same run, against a minimal Runtime API stand-in on
127.0.0.1 (a Node.js `net` server answering with canned bytes).

- CPU per invoke: utime + stime of the bootstrap process (/proc/PID/stat) over N
  sequential invocations of a handler that returns a constant, after a warm-up;
  the stand-in's wall time gives invocations per second.
- Specialization (the bootstrap's side of a cold start from the warm pool): the
  bootstrap started with SWELL_PREWARM=1 and left to settle, then from writing the
  prewarm line to (a) its first `next` arriving and (b) the first result posted.
- Fresh start: from spawning the bootstrap (no prewarm) to the first result posted, beside
  the runtime's raw boot (`node -e 0`, `python3 -c 0`).

    python3 bench/bootstrap_path.py [--old REV] [--invokes 20000] [--rounds 30]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from common import (BOOTSTRAP_FILES, NODE_BIN, ROOT, bootstrap_source, cpu_seconds, drain, free_port, machine,
                    percentile, summary)

HANDLERS = {"node": ("index.js", "index.handler", "exports.handler = async () => ({ ok: true });\n"),
            "python": ("app.py", "app.handler", "def handler(event, context):\n    return {'ok': True}\n")}

# Serves `total` invocations (the first `next` is held for `hold` ms so the caller can read
# the bootstrap's CPU before the measured part), prints {"ms": wall} and exits.
STAND_IN = r"""
const net = require('net');
const [total, hold, port] = process.argv.slice(2).map(Number);
const event = '{"hello":"world"}';
let served = 0, posted = 0, t0 = null;
net.createServer({ noDelay: true }, (s) => {
  let buf = '';
  const next = () => s.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ' + event.length +
    '\r\nLambda-Runtime-Aws-Request-Id: 8476a536-e9f4-11e8-9739-2dfe598c' + String(served++).padStart(4, '0') +
    '\r\nLambda-Runtime-Deadline-Ms: 9999999999999\r\nLambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:swell:default:function:f' +
    '\r\nLambda-Runtime-Trace-Id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700\r\n\r\n' + event);
  s.on('data', (d) => {
    buf += d.toString('latin1');
    for (;;) {
      const i = buf.indexOf('\r\n\r\n');
      if (i === -1) return;
      const m = /content-length: *(\d+)/i.exec(buf.slice(0, i));
      const len = m ? Number(m[1]) : 0;
      if (buf.length < i + 4 + len) return;
      const isGet = buf.startsWith('GET');
      buf = buf.slice(i + 4 + len);
      if (!isGet) {
        s.write('HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{"status":"OK"}');
        if (++posted === total) { console.log(JSON.stringify({ ms: Number(process.hrtime.bigint() - t0) / 1e6 })); process.exit(0); }
      } else if (t0 === null) {
        t0 = 0n;
        setTimeout(() => { t0 = process.hrtime.bigint(); next(); }, hold);
      } else {
        next();
      }
    }
  });
}).listen(port, '127.0.0.1');
"""




def command(runtime: str, bootstrap: Path) -> list[str]:
    return [NODE_BIN, str(bootstrap)] if runtime == "node" else ["/usr/bin/python3", "-u", str(bootstrap)]


def function_env(runtime: str, task_root: Path, port: int) -> dict:
    return {"AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}", "_HANDLER": HANDLERS[runtime][1],
            "LAMBDA_TASK_ROOT": str(task_root), "PATH": "/usr/local/bin:/usr/bin:/bin", "SWELL_CONCURRENCY": "1"}


def cpu_per_invoke(runtime: str, bootstrap: Path, task_root: Path, stand_in: Path, invokes: int) -> tuple[float, float]:
    port = free_port()
    hold = 1500
    server = subprocess.Popen([NODE_BIN, str(stand_in), str(invokes), str(hold), str(port)], stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)
    proc = subprocess.Popen(command(runtime, bootstrap), env=function_env(runtime, task_root, port),
                            cwd=str(task_root), stdout=subprocess.PIPE)  # a pipe, as under Swell
    threading.Thread(target=drain, args=(proc.stdout,), daemon=True).start()
    try:
        time.sleep(hold / 1000 * 0.8)  # booted, its first next held by the stand-in
        c0 = cpu_seconds([proc.pid])
        out = json.loads(server.communicate(timeout=600)[0])
        c1 = cpu_seconds([proc.pid])
    finally:
        proc.kill()
        proc.wait()
    return (c1 - c0) * 1e6 / invokes, invokes / (out["ms"] / 1000)


class OneShot:
    """A Runtime API stand-in for one invocation: timestamps of the first `next` and the post."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]

    def serve(self, deadline: float) -> tuple[float, float]:
        self.listener.settimeout(max(0.1, deadline - time.time()))
        sock, _ = self.listener.accept()
        with sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            buf = b""
            while b"\r\n\r\n" not in buf:
                buf += sock.recv(65536)
            t_next = time.perf_counter()
            event = b'{"hello":"world"}'
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                         b"Lambda-Runtime-Aws-Request-Id: r-1\r\nLambda-Runtime-Deadline-Ms: 9999999999999\r\n"
                         b"Lambda-Runtime-Trace-Id: Root=1\r\n\r\n" % len(event) + event)
            buf = b""
            while b"\r\n\r\n" not in buf:
                buf += sock.recv(65536)
            return t_next, time.perf_counter()

    def close(self):
        self.listener.close()


def specialization(runtime: str, bootstrap: Path, task_root: Path) -> tuple[float, float]:
    api = OneShot()
    proc = subprocess.Popen(command(runtime, bootstrap), env={"SWELL_PREWARM": "1", "PATH": "/usr/bin:/bin"}, cwd="/",
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    try:
        time.sleep(0.6)  # pre-booted and idle, as in the warm pool
        line = json.dumps({"env": function_env(runtime, task_root, api.port), "cwd": str(task_root)}).encode() + b"\n"
        t0 = time.perf_counter()
        proc.stdin.write(line)
        proc.stdin.flush()
        t_next, t_post = api.serve(time.time() + 10)
        return (t_next - t0) * 1000, (t_post - t0) * 1000
    finally:
        proc.kill()
        proc.wait()
        api.close()


def fresh_start(runtime: str, bootstrap: Path, task_root: Path) -> float:
    api = OneShot()
    t0 = time.perf_counter()
    proc = subprocess.Popen(command(runtime, bootstrap), env=function_env(runtime, task_root, api.port),
                            cwd=str(task_root), stdout=subprocess.DEVNULL)
    try:
        _, t_post = api.serve(time.time() + 10)
        return (t_post - t0) * 1000
    finally:
        proc.kill()
        proc.wait()
        api.close()


def raw_boot(runtime: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([NODE_BIN, "-e", "0"] if runtime == "node" else ["/usr/bin/python3", "-c", "0"], check=True)
    return (time.perf_counter() - t0) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", default="HEAD", help="git revision of the bootstraps to compare with (default HEAD)")
    ap.add_argument("--invokes", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=3, help="CPU runs per bootstrap (the median is shown)")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="swell-bootstrap-bench-"))
    stand_in = work / "stand_in.js"
    stand_in.write_text(STAND_IN)
    task_root = work / "fn"
    task_root.mkdir()
    for file, _, source in HANDLERS.values():
        (task_root / file).write_text(source)
    versions = {}
    for label, rev in (("old", args.old), ("new", None)):
        for runtime, rel in BOOTSTRAP_FILES.items():
            path = work / label / Path(rel).name
            path.parent.mkdir(exist_ok=True)
            text = bootstrap_source(rev, runtime)
            path.write_text(text)
            versions[(runtime, label)] = path

    print(f"machine: {machine()}; old = {args.old}, new = this checkout; {args.invokes} invokes per CPU run, "
          f"{args.rounds} rounds per start figure")
    print(f"{'bootstrap':<12}{'CPU µs/invoke':>14}{'invokes/s':>11}{'spec→next p50':>15}{'p99':>7}"
          f"{'spec→result p50':>17}{'p99':>7}{'fresh→result p50':>18}{'raw boot p50':>14}")
    results = {}
    for runtime in BOOTSTRAP_FILES:
        boots = [raw_boot(runtime) for _ in range(args.rounds)]
        for label in ("old", "new"):
            bootstrap = versions[(runtime, label)]
            cpu_runs = [cpu_per_invoke(runtime, bootstrap, task_root, stand_in, args.invokes) for _ in range(args.repeat)]
            cpu = statistics.median(c for c, _ in cpu_runs)
            rate = statistics.median(r for _, r in cpu_runs)
            specs = [specialization(runtime, bootstrap, task_root) for _ in range(args.rounds)]
            fresh = [fresh_start(runtime, bootstrap, task_root) for _ in range(args.rounds)]
            nexts, posts = [s[0] for s in specs], [s[1] for s in specs]
            row = {"cpu_us": cpu, "cpu_runs": [c for c, _ in cpu_runs], "invokes_per_s": rate,
                   "spec_next_p50": percentile(nexts, 50), "spec_next_p99": percentile(nexts, 99),
                   "spec_result_p50": percentile(posts, 50), "spec_result_p99": percentile(posts, 99),
                   "fresh_result_p50": percentile(fresh, 50), "raw_boot_p50": percentile(boots, 50)}
            results[f"{runtime}-{label}"] = row
            print(f"{runtime + ' ' + label:<12}{cpu:>14.1f}{rate:>11.0f}{row['spec_next_p50']:>12.2f} ms{row['spec_next_p99']:>7.2f}"
                  f"{row['spec_result_p50']:>14.2f} ms{row['spec_result_p99']:>7.2f}{row['fresh_result_p50']:>15.1f} ms"
                  f"{row['raw_boot_p50']:>11.1f} ms", flush=True)
    summary("bootstrap_path", {"old": args.old, "results": results})


if __name__ == "__main__":
    main()
