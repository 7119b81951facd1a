"""What tracing costs on the warm path: the same Node.js function behind its function URL on
two servers in the same run, one exporting every span over OTLP/HTTP to a local receiver
(which counts and drops them), one with tracing off. Server CPU per request (from /proc)
and throughput at 64 connections, alternating A/B rounds so that machine noise hits both.

    python3 bench/tracing_overhead.py [--bin PATH] [--rounds 3] [--duration 5] [--connections 64]

Target (issue 15): tracing on costs at most 5% of warm-path throughput. "Off costs nothing"
is the code's property (no span and no trace-context read when no endpoint is set); compare
with an earlier build with `bench/cpu_per_request.py --only node-url` for a figure.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Server, free_port, machine, summary  # noqa: E402
from cpu_per_request import NODE_HANDLER, Target, function_pids, pick_binary  # noqa: E402


class Sink:
    """An OTLP/HTTP receiver that counts posts and bytes and keeps nothing."""

    def __init__(self):
        self.posts = 0
        self.bytes = 0
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                n = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(n)
                sink.posts += 1
                sink.bytes += n
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=5)
    ap.add_argument("--connections", type=int, default=64)
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    binary = pick_binary(args.bin)
    os.environ["SWELL_BIN"] = binary
    sink = Sink()
    servers = {
        "off": Server(),
        "on": Server(env={"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink.port}"}),
    }
    try:
        targets = {}
        for label, server in servers.items():
            server.deploy("traced", {"index.js": NODE_HANDLER}, runtime="nodejs20", handler="index.handler", concurrency=64,
                          url={"auth": "none"})
            url = f"{server.url}/fn/default/traced/"
            assert requests.get(url).status_code == 200
            targets[label] = Target(label, url, lambda s=server: [s.proc.pid], lambda s=server: function_pids(s, "traced"))
        print(f"machine: {machine()}; swell: {binary}; wrk {args.duration:g}s x {args.rounds} rounds at {args.connections} connections")
        print(f"{'tracing':<8}{'round':>6}{'req/s':>10}{'p50 ms':>9}{'server µs/req':>15}")
        results: dict[str, list[dict]] = {"off": [], "on": []}
        for i in range(args.rounds):
            for label in ("off", "on") if i % 2 == 0 else ("on", "off"):
                r = targets[label].measure(args.connections, args.duration)
                results[label].append(r)
                print(f"{label:<8}{i + 1:>6}{r['rps']:>10.0f}{r['p50']:>9.3f}{r['server_us']:>15.1f}", flush=True)
        med = {k: {m: statistics.median(r[m] for r in v) for m in ("rps", "server_us", "p50")} for k, v in results.items()}
        print(f"median: off {med['off']['rps']:.0f} req/s, {med['off']['server_us']:.1f} µs/req; "
              f"on {med['on']['rps']:.0f} req/s, {med['on']['server_us']:.1f} µs/req")
        print(f"tracing on / off: throughput {med['on']['rps'] / med['off']['rps']:.3f}x, "
              f"server CPU per request {med['on']['server_us'] / med['off']['server_us']:.3f}x; "
              f"receiver got {sink.posts} exports, {sink.bytes} bytes")
        summary("tracing_overhead", {"binary": binary, "results": results, "median": med, "exports": sink.posts})
    finally:
        for s in servers.values():
            s.stop()


if __name__ == "__main__":
    main()
