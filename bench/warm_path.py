"""Warm path: a Node.js echo function through its function URL, beside the same handler
behind a plain Node.js `http` server, at 1 and 64 connections (wrk, same run).

    python3 bench/warm_path.py [--duration 10]

Prints throughput and latency percentiles of both and the ratios: throughput Swell/plain and
the latency Swell adds at p50 and p99.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from common import start_plain_node, Server, machine

HANDLER = """exports.handler = async (event) => ({
  statusCode: 200,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ path: event.rawPath, query: event.rawQueryString }),
});
"""

PLAIN_SERVER = """
const http = require('http');
const { handler } = require(process.argv[2]);
http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const [path, query = ''] = req.url.split('?');
    const event = { rawPath: path, rawQueryString: query, headers: req.headers, body: Buffer.concat(chunks).toString() };
    const out = await handler(event);
    res.writeHead(out.statusCode, out.headers);
    res.end(out.body);
  });
}).listen(Number(process.argv[3]), '127.0.0.1');
"""


def wrk(url: str, connections: int, duration: int) -> dict:
    out = subprocess.run(["wrk", "-t", "1" if connections == 1 else "2", "-c", str(connections), "-d", f"{duration}s", "--latency", url],
                         check=True, capture_output=True, text=True).stdout

    def ms(label: str) -> float:
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": ms("50"), "p99": ms("99"), "errors": int(errors.group(1)) if errors else 0}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")

    work = Path(tempfile.mkdtemp(prefix="swell-warm-"))
    (work / "handler.js").write_text(HANDLER)
    plain, plain_port = start_plain_node(work, PLAIN_SERVER, str(work / "handler.js"))
    server = Server()
    try:
        server.deploy("echo", {"index.js": HANDLER}, runtime="nodejs20", handler="index.handler", concurrency=64,
                      url={"auth": "none"})
        swell_url = f"{server.url}/fn/default/echo/bench?x=1"
        plain_url = f"http://127.0.0.1:{plain_port}/bench?x=1"
        for _ in range(50):
            try:
                requests.get(plain_url, timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.05)
        requests.get(swell_url).raise_for_status()  # the cold start happens here, not in the measurement
        print(f"machine: {machine()}; wrk {args.duration}s per run")
        print(f"{'connections':>11} {'':6}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
        for connections in (1, 64):
            wrk(plain_url, connections, 2)  # warm both up
            wrk(swell_url, connections, 2)
            p = wrk(plain_url, connections, args.duration)
            s = wrk(swell_url, connections, args.duration)
            for label, r in (("plain", p), ("swell", s)):
                print(f"{connections:>11} {label:6}{r['rps']:>10.0f}{r['p50']:>9.3f}{r['p99']:>9.3f}{r['errors']:>8}")
            print(f"{'':>11} ratio  throughput {s['rps'] / p['rps']:.2f}x, added p50 {s['p50'] - p['p50']:+.3f} ms, "
                  f"added p99 {s['p99'] - p['p99']:+.3f} ms")
    finally:
        server.stop()
        plain.terminate()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
