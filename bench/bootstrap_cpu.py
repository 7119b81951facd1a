"""CPU per warm invoke of Swell's own bootstraps (Node.js and Python), without `swell serve`.

A fake Runtime API written in C (bench/bootstrap_cpu.c, compiled here with `cc -O2`: epoll,
one thread, canned replies with the headers Swell sends) serves `next` and accepts the posts
as fast as the bootstrap asks. The bootstrap runs as Swell starts it (same command line and
environment as InstanceLauncher: AWS_LAMBDA_RUNTIME_API, _HANDLER, LAMBDA_TASK_ROOT,
SWELL_CONCURRENCY, …; stdout and stderr pipes that a reader drains, as Swell's log pumps do)
against a hello-world handler. After a warm-up the fake server holds every loop's `next`;
the bootstrap's utime + stime (/proc/PID/stat, all threads) is read, the server lets TOTAL
invocations through, and the bootstrap's CPU is read again.

Baselines, in the same run:
- server: the fake server's own CPU per invoke (it must stay well below the bootstrap's);
- bare client: the least a client in the same runtime can do per invoke (one connection,
  read `next`, find the request id, JSON.parse the event, call the handler, JSON-encode the
  result, write the end-of-output marker to stdout, write the post, read the 202), against
  the same fake server — the runtime's floor for this protocol;
- in-process loop: JSON.parse of the event, the handler, JSON-encoding of the result, in a
  tight loop inside one process (no I/O at all).

Columns: the client's CPU per invoke (median and min of the runs, which are interleaved across
clients), the fake server's, invocations per second, the client's context switches per invoke
(all threads, /proc/PID/task/*/status) and the client's CPU over the server's in each run (the
server's work per invoke is fixed, so the ratio cancels much of a shared machine's load).

    python3 bench/bootstrap_cpu.py [--old REV] [--invokes 20000] [--concurrency 1,64] [--repeat 3]

`--old REV` also measures the bootstrap files of git revision REV in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from common import BOOTSTRAP_FILES, NODE_BIN, ROOT, bootstrap_source, cpu_seconds, drain, machine

PYTHON_BIN = "/usr/bin/python3"
EVENT = b'{"rawPath":"/hello","requestContext":{"http":{"method":"GET"}},"body":null,"isBase64Encoded":false}'
HANDLERS = {
    "node": ("index.js", "index.handler",
             "exports.handler = async (event) => ({ statusCode: 200, body: 'hello ' + event.rawPath });\n"),
    "python": ("app.py", "app.handler",
               "def handler(event, context):\n    return {'statusCode': 200, 'body': 'hello ' + event['rawPath']}\n"),
}

NODE_BARE = r"""
const net = require('net');
const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(':');
const handler = require(process.env.LAMBDA_TASK_ROOT + '/index.js').handler;
const NEXT = 'GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n';
const s = net.connect({ host, port: Number(port), noDelay: true });
let waitingNext = true;
s.on('connect', () => s.write(NEXT));
s.on('data', async (d) => {
  if (!waitingNext) { waitingNext = true; s.write(NEXT); return; } // the 202
  waitingNext = false;
  const text = d.latin1Slice(0, d.length);
  const i = text.indexOf('Lambda-Runtime-Aws-Request-Id: ') + 31;
  const id = text.slice(i, text.indexOf('\r', i));
  const event = JSON.parse(d.utf8Slice(text.indexOf('\r\n\r\n') + 4, d.length));
  const body = JSON.stringify(await handler(event, {}));
  process.stdout.write('\x1e' + id + '\n');
  s.write('POST /2018-06-01/runtime/invocation/' + id + '/response HTTP/1.1\r\nHost: x\r\nContent-Length: ' +
    Buffer.byteLength(body) + '\r\n\r\n' + body);
});
"""

PYTHON_BARE = r"""
import json, os, socket, sys
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
sys.path.insert(0, os.environ["LAMBDA_TASK_ROOT"])
from app import handler
s = socket.create_connection((host, int(port)))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
NEXT = b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n"
while True:
    s.sendall(NEXT)
    d = s.recv(65536)
    i = d.index(b"Lambda-Runtime-Aws-Request-Id: ") + 31
    rid = d[i:d.index(b"\r", i)]
    event = json.loads(d[d.index(b"\r\n\r\n") + 4:])
    body = json.dumps(handler(event, None)).encode()
    os.write(1, b"\x1e" + rid + b"\n")
    s.sendall(b"POST /2018-06-01/runtime/invocation/" + rid + b"/response HTTP/1.1\r\nHost: x\r\nContent-Length: "
              + str(len(body)).encode() + b"\r\n\r\n" + body)
    s.recv(65536)
"""

NODE_LOOP = r"""
const handler = require(process.argv[2] + '/index.js').handler;
const text = process.argv[3];
const n = Number(process.argv[4]);
(async () => {
  for (let i = 0; i < 2000; i++) JSON.stringify(await handler(JSON.parse(text), {}));
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) JSON.stringify(await handler(JSON.parse(text), {}));
  const c = process.cpuUsage(c0);
  console.log((c.user + c.system) / n);
})();
"""

PYTHON_LOOP = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from app import handler
text, n = sys.argv[2].encode(), int(sys.argv[3])
for _ in range(2000):
    json.dumps(handler(json.loads(text), None))
c0 = time.process_time()
for _ in range(n):
    json.dumps(handler(json.loads(text), None))
print((time.process_time() - c0) * 1e6 / n)
"""



def context_switches(pid: int) -> int:
    """Voluntary + involuntary context switches of every thread of `pid`."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            for line in (task / "status").read_text().splitlines():
                if "ctxt_switches:" in line:
                    total += int(line.split()[1])
        except OSError:
            pass
    return total




def swell_env(runtime: str, task_root: Path, port: int, concurrency: int) -> dict:
    """The environment InstanceLauncher gives an instance (the parts a bootstrap reads)."""
    env = {"AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}", "_HANDLER": HANDLERS[runtime][1],
           "LAMBDA_TASK_ROOT": str(task_root), "LAMBDA_RUNTIME_DIR": str(task_root),
           "AWS_LAMBDA_FUNCTION_NAME": "bench", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
           "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "AWS_LAMBDA_LOG_GROUP_NAME": "/swell/default/bench",
           "AWS_LAMBDA_LOG_STREAM_NAME": "bench-1", "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
           "AWS_REGION": "swell-local", "AWS_DEFAULT_REGION": "swell-local", "TZ": ":UTC", "LANG": "en_US.UTF-8",
           "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(task_root), "TMPDIR": "/tmp",
           "SWELL_CONCURRENCY": str(concurrency), "AWS_LAMBDA_MAX_CONCURRENCY": str(concurrency),
           "SWELL_NAMESPACE": "default"}
    if runtime == "node":
        env["NODE_PATH"] = f"{task_root}/node_modules"
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["PYTHONUNBUFFERED"] = "1"
    return env


def command(runtime: str, script: Path, bare: bool) -> list[str]:
    if runtime == "node":
        return [NODE_BIN, str(script)] if bare else [NODE_BIN, "--max-old-space-size=102", str(script)]
    return [PYTHON_BIN, "-u", str(script)]


def measure(server_bin: Path, event_file: Path, cmd: list[str], env: dict, cwd: Path, invokes: int,
            warm: int) -> tuple[float, float, float, float]:
    """(client µs/invoke, server µs/invoke, invokes/s, client context switches/invoke) of one run."""
    server = subprocess.Popen([str(server_bin), str(warm), str(invokes), str(event_file)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    proc = None
    try:
        port = int(server.stdout.readline().split()[1])
        env = dict(env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{port}")
        proc = subprocess.Popen(cmd, env=env, cwd=str(cwd), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for stream in (proc.stdout, proc.stderr):
            threading.Thread(target=drain, args=(stream,), daemon=True).start()
        line = server.stdout.readline()
        if line.strip() != "warm":
            raise RuntimeError(f"fake server: {line!r} (client exit {proc.poll()})")
        time.sleep(0.3)  # every loop finishes its last warm-up invocation and waits on a held next
        c0, s0 = cpu_seconds([proc.pid]), context_switches(proc.pid)
        server.stdin.write("go\n")
        server.stdin.flush()
        done = server.stdout.readline().split()
        c1, s1 = cpu_seconds([proc.pid]), context_switches(proc.pid)
        if not done or done[0] != "done":
            raise RuntimeError(f"fake server: {done!r} (client exit {proc.poll()})")
        wall_ns, server_cpu = int(done[1]), float(done[2])
        return (c1 - c0) * 1e6 / invokes, server_cpu / invokes, invokes / (wall_ns / 1e9), (s1 - s0) / invokes
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
        server.kill()
        server.wait()


def in_process_loop(runtime: str, work: Path, task_root: Path, n: int) -> float:
    if runtime == "node":
        script = work / "loop.js"
        script.write_text(NODE_LOOP)
        out = subprocess.run([NODE_BIN, str(script), str(task_root), EVENT.decode(), str(n)], check=True,
                             capture_output=True, text=True).stdout
    else:
        script = work / "loop.py"
        script.write_text(PYTHON_LOOP)
        out = subprocess.run([PYTHON_BIN, str(script), str(task_root), EVENT.decode(), str(n)], check=True,
                             capture_output=True, text=True).stdout
    return float(out.strip())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--old", help="also measure the bootstrap files of this git revision")
    ap.add_argument("--invokes", type=int, default=20000, help="measured invocations per run")
    ap.add_argument("--warm", type=int, default=3000, help="warm-up invocations before each measured run")
    ap.add_argument("--concurrency", default="1,64", help="SWELL_CONCURRENCY values (loops in the bootstrap)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per figure (the median is shown, every run listed)")
    ap.add_argument("--only", default="node,python")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="swell-bootstrap-cpu-"))
    server_bin = work / "fake_runtime_api"
    subprocess.run(["cc", "-O2", "-o", str(server_bin), str(ROOT / "bench" / "bootstrap_cpu.c")], check=True)
    event_file = work / "event.json"
    event_file.write_bytes(EVENT)
    task_root = work / "fn"
    task_root.mkdir()
    for file, _, source in HANDLERS.values():
        (task_root / file).write_text(source)
    (work / "bare.js").write_text(NODE_BARE)
    (work / "bare.py").write_text(PYTHON_BARE)

    variants = [("new", None)] + ([("old", args.old)] if args.old else [])
    scripts = {}
    for label, rev in variants:
        for runtime, rel in BOOTSTRAP_FILES.items():
            path = work / label / Path(rel).name
            path.parent.mkdir(exist_ok=True)
            text = bootstrap_source(rev, runtime)
            path.write_text(text)
            scripts[(runtime, label)] = path

    concurrencies = [int(c) for c in args.concurrency.split(",")]
    load = open("/proc/loadavg").read().split()[:3]
    print(f"machine: {machine()}; load {' '.join(load)}; {args.invokes} invokes per run after {args.warm} "
          f"warm-up, {args.repeat} runs per figure (median; every run in brackets)")
    print(f"{'client':<22}{'loops':>6}{'client µs/inv':>15}{'min':>7}{'server µs/inv':>15}{'invokes/s':>11}"
          f"{'ctx sw/inv':>12}{'÷ server':>10}   runs")
    results = {}

    def row(name: str, conc: int, runs: list[tuple[float, float, float, float]]) -> None:
        client = statistics.median(r[0] for r in runs)
        server = statistics.median(r[1] for r in runs)
        rate = statistics.median(r[2] for r in runs)
        switches = statistics.median(r[3] for r in runs)
        # the client's CPU over the fake server's in the same run: the server's work per invoke is
        # fixed, so this ratio cancels much of a shared machine's load (a pipelining client makes
        # the server's work a little cheaper, which raises its ratio)
        ratio = statistics.median(r[0] / r[1] for r in runs)
        results[f"{name}@{conc}"] = {"client_us": client, "client_min_us": min(r[0] for r in runs), "server_us": server,
                                     "invokes_per_s": rate, "context_switches": switches, "client_over_server": ratio,
                                     "client_runs": [round(r[0], 1) for r in runs]}
        print(f"{name:<22}{conc:>6}{client:>15.1f}{min(r[0] for r in runs):>7.1f}{server:>15.1f}{rate:>11.0f}"
              f"{switches:>12.2f}{ratio:>10.2f}   [{', '.join(f'{r[0]:.1f}' for r in runs)}]", flush=True)

    for runtime in args.only.split(","):
        loop = statistics.median(in_process_loop(runtime, work, task_root, 200000) for _ in range(args.repeat))
        results[f"{runtime}-in-process"] = {"client_us": loop}
        print(f"{runtime + ' in-process loop':<22}{'—':>6}{loop:>15.2f}", flush=True)
        # Every figure's runs interleaved (bare, new, old, bare, new, old, …) so that the machine's
        # load drifting during the run weighs on all of them alike.
        cases = [("bare client", 1, work / ("bare.js" if runtime == "node" else "bare.py"), True)]
        cases += [(f"bootstrap {label}", conc, scripts[(runtime, label)], False)
                  for conc in concurrencies for label, _ in variants]
        runs: dict[int, list] = {i: [] for i in range(len(cases))}
        for _ in range(args.repeat):
            for i, (_, conc, script, bare) in enumerate(cases):
                runs[i].append(measure(server_bin, event_file, command(runtime, script, bare),
                                       swell_env(runtime, task_root, 0, conc), task_root, args.invokes, args.warm))
        for i, (name, conc, _, _) in enumerate(cases):
            row(f"{runtime} {name}", conc, runs[i])
    load = open("/proc/loadavg").read().split()[:3]
    print(json.dumps({"benchmark": "bootstrap_cpu", "machine": machine(), "loadavg": load, "old": args.old,
                      "results": results}, separators=(",", ":")))


if __name__ == "__main__":
    main()
