"""Cold start: invoke with zero instances → response, beside the raw runtime boot.

Each round changes the function's environment (a new configuration revision has zero
instances), waits for the warm pool to refill, and times one invoke end to end, from a
client whose connection to the server is already open (one kept-alive `requests.Session`,
so no TCP handshake or client set-up is counted); the `X-Swell-Init-Duration-Ms` header
gives the init part. The baseline is the runtime's own boot, `node -e 0` and
`python3 -c 0`, timed in the same run. `--bin` picks the swell binary (default $SWELL_BIN,
else the release build).

    python3 bench/cold_start.py [--rounds 50] [--no-warm-pool] [--bin PATH] [--trace]

`--trace` also records the kernel's syscall trace (`perf trace -a`, root) over the timed
invokes and prints the median of every stage of a cold start (see `cold_trace.py`); the
tracing itself slows each syscall a little, so read the split, not the total.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

import requests

import cold_trace

from common import Server, machine, percentile

NODE = "exports.handler = async (event) => ({ hello: 'world' });\n"
PYTHON = "def handler(event, context):\n    return {'hello': 'world'}\n"


def boot_times(cmd: list[str], rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        subprocess.run(cmd, check=True)
        times.append((time.perf_counter() - t) * 1000)
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--no-warm-pool", action="store_true")
    ap.add_argument("--bin", help="the swell binary (default $SWELL_BIN, else the release build)")
    ap.add_argument("--trace", action="store_true", help="break each cold start into stages with `perf trace`")
    args = ap.parse_args()
    if args.bin:
        os.environ["SWELL_BIN"] = args.bin

    extra = ["--no-warm-pool"] if args.no_warm_pool else []
    if args.trace:
        extra += ["--log-level", "debug"]  # the server's own steps of each start ("instance ready" lines), where it logs them
    server = Server(*extra)
    try:
        server.deploy("cold-node", {"index.js": NODE}, runtime="nodejs20", handler="index.handler")
        server.deploy("cold-python", {"handler.py": PYTHON}, runtime="python3", handler="handler.handler")
        tracer = cold_trace.Tracer(Path(tempfile.mkdtemp(prefix="swell-cold-trace-")) / "perf-trace.txt") if args.trace else None
        client = requests.Session()  # one kept-alive connection for every timed invoke
        invoke_url = server.url + "/v1/namespaces/default/functions/{}/invoke"
        print(f"machine: {machine()}; rounds: {args.rounds}; warm pool: {not args.no_warm_pool}; kept-alive client")
        print(f"{'':14}{'end-to-end p50':>16}{'p99':>9}{'init p50':>10}{'p99':>9}{'raw boot p50':>14}{'ratio p50':>11}")
        for name, raw in (("cold-node", ["node", "-e", "0"]), ("cold-python", ["/usr/bin/python3", "-c", "0"])):
            totals, inits = [], []
            client.post(invoke_url.format(name), headers=server.headers, data="{}").raise_for_status()  # connection open
            for i in range(args.rounds):
                server.put(name, environment={"ROUND": str(i)})
                time.sleep(0.3)  # let the warm pool refill and the old revision drain
                if tracer:
                    tracer.begin(name, i, server.proc.pid, os.getpid())
                t = time.perf_counter()
                r = client.post(invoke_url.format(name), headers=server.headers, data="{}")
                totals.append((time.perf_counter() - t) * 1000)
                if tracer:
                    tracer.end()
                assert r.ok and r.headers["X-Swell-Cold-Start"] == "true" and "X-Swell-Function-Error" not in r.headers, (r.headers, r.text)
                inits.append(float(r.headers["X-Swell-Init-Duration-Ms"]))
            boots = boot_times(raw, args.rounds)
            b50 = percentile(boots, 50)
            print(f"{name:14}{percentile(totals, 50):>13.1f} ms{percentile(totals, 99):>6.1f} ms"
                  f"{percentile(inits, 50):>7.1f} ms{percentile(inits, 99):>6.1f} ms{b50:>11.1f} ms"
                  f"{percentile(totals, 50) / b50:>10.2f}x")
        if tracer:
            tracer.stop()
            print(cold_trace.report(cold_trace.analyse(tracer.path, tracer.rounds)))
            print(cold_trace.server_steps(server.dir / "server.log"))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
