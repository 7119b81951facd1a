"""Burst: 0 → N concurrent requests on a 50 ms Node.js function, beside a plain Node.js
server whose handler sleeps 50 ms (one process), same client, same run.

    python3 bench/burst.py [--requests 500] [--concurrency 16] [--keep-alive 5] [--quick]

The function (`await sleep(50ms)`, returns its PID) is deployed with `concurrency` slots per
instance and `scaling: {keepAlive: K}`. With zero instances, bench/loadgen.js (Node.js,
keep-alive agent, one socket per request) sends all requests at once to the invoke API; a
second wave follows while the instances are warm. Reported per wave: absorb time (first
request sent → last answer), p50/p99 latency, errors (non-200 or X-Swell-Function-Error),
lost (no answer), cold starts (X-Swell-Cold-Start: true — every request routed to a new
instance when it becomes ready counts), instances (distinct PIDs in the answers) and the
peak instance count seen while the wave ran. Then, keep-alive + 2 s after the last answer,
the instances left (target 0). Baseline: the same burst against the plain server;
ratio = Swell absorb time / plain absorb time.

Instances are counted with `GET …/instances` when the server has it, else from the server's
child processes whose working directory is a code package (warm-pool processes excluded).
A binary without `scaling` in the manifest gets the default keep-alive (60 s) and a note.
"""

from __future__ import annotations

import argparse
import math
import shutil
import tempfile
import threading
import time
from pathlib import Path

import requests

from common import (start_plain_node, Server, instance_pids, instances_endpoint, loadgen, machine, percentile,
                    summary, try_deploy)

HANDLER = """exports.handler = async (event) => {
  await new Promise((resolve) => setTimeout(resolve, 50));
  return { pid: process.pid };
};
"""

PLAIN_SERVER = """
const http = require('http');
http.createServer((req, res) => {
  req.resume();
  req.on('end', () => setTimeout(() => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ pid: process.pid }));
  }, 50));
}).listen(Number(process.argv[2]), '127.0.0.1', 65535);
"""

DEFAULT_KEEP_ALIVE = 60  # the server's keep-alive when the manifest cannot set one


class InstanceSampler(threading.Thread):
    """Counts the function's instances every 100 ms while a wave runs; keeps the peak."""

    def __init__(self, count):
        super().__init__(daemon=True)
        self.count = count
        self.peak = 0
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            try:
                self.peak = max(self.peak, self.count())
            except Exception:  # noqa: BLE001 - a sample lost under load is not a result
                pass
            self.done.wait(0.1)

    def stop(self) -> int:
        self.done.set()
        self.join()
        return self.peak


def wave(url: str, n: int, headers: dict, count=None) -> dict:
    sampler = InstanceSampler(count) if count else None
    if sampler:
        sampler.start()
    r = loadgen({"url": url, "total": n, "concurrency": n, "headers": headers, "bodies": True,
                 "capture": ["x-swell-cold-start", "x-swell-function-error", "x-swell-init-duration-ms"], "timeoutMs": 60000})
    peak = sampler.stop() if sampler else None
    pids = set()
    for b in r["bodies"]:
        try:
            pids.add(__import__("json").loads(b)["pid"])
        except (ValueError, KeyError, TypeError):
            pass
    inits = [float(v) for v, c in r["captured"]["x-swell-init-duration-ms"].items() for _ in range(c)
             if v != "(none)" and float(v) > 0]
    ok = r["status"].get("200", 0)
    function_errors = sum(v for k, v in r["captured"]["x-swell-function-error"].items() if k != "(none)")
    return {
        "absorbMs": round(r["wallMs"], 1),
        "p50Ms": round(percentile(r["latencies"], 50), 1),
        "p99Ms": round(percentile(r["latencies"], 99), 1),
        "lastSentMs": round(r["lastStartMs"], 1),
        "answered": len(r["latencies"]),
        "errors": (len(r["latencies"]) - ok) + function_errors,
        "status": r["status"],
        "functionErrors": r["captured"]["x-swell-function-error"],
        "lost": r["lost"] + (n - r["issued"]),
        "lostMessages": r["lostMessages"],
        "coldStarts": r["captured"]["x-swell-cold-start"].get("true", 0),
        "instances": len(pids),
        "peakInstances": peak,
        "initP50Ms": round(percentile(inits, 50), 1) if inits else None,
        "initMaxMs": round(max(inits), 1) if inits else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=500)
    ap.add_argument("--concurrency", type=int, default=16, help="per-instance concurrency of the function")
    ap.add_argument("--keep-alive", type=int, default=5, help="scaling.keepAlive in seconds")
    ap.add_argument("--quick", action="store_true", help="100 requests, for a smoke run")
    args = ap.parse_args()
    n = 100 if args.quick else args.requests

    work = Path(tempfile.mkdtemp(prefix="swell-burst-"))
    plain, plain_port = start_plain_node(work, PLAIN_SERVER)
    server = Server()
    notes = []
    try:
        config = dict(runtime="nodejs20", handler="index.handler", concurrency=args.concurrency, timeout=10)
        ok, err = try_deploy(server, "burst", {"index.js": HANDLER}, **config, scaling={"keepAlive": args.keep_alive})
        keep_alive = args.keep_alive
        if not ok:
            if "scaling" not in err:
                raise SystemExit(f"deploy failed: {err}")
            notes.append(f"manifest `scaling` not supported by this binary ({err}); default keep-alive {DEFAULT_KEEP_ALIVE} s")
            keep_alive = DEFAULT_KEEP_ALIVE
            ok, err = try_deploy(server, "burst", {"index.js": HANDLER}, **config)
            if not ok:
                raise SystemExit(f"deploy failed: {err}")

        if instances_endpoint(server, "burst") is None:
            notes.append("GET …/instances not supported by this binary; instances counted from child processes")

            def count() -> int:
                return len(instance_pids(server))
        else:
            def count() -> int:
                return sum(1 for i in instances_endpoint(server, "burst") if i["state"] != "stopping")

        plain_url = f"http://127.0.0.1:{plain_port}/"
        for _ in range(100):
            try:
                requests.get(plain_url, timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.05)
        wave(plain_url, n, {})  # warm-up of the plain server and of the client path
        plain_result = wave(plain_url, n, {})

        swell_url = f"{server.url}/v1/namespaces/default/functions/burst/invoke"
        before = count()
        cold = wave(swell_url, n, server.headers, count)
        warm = wave(swell_url, n, server.headers, count)
        after_warm = time.monotonic()
        time.sleep(keep_alive + 2)
        left = count()
        zero_after = None
        if left:
            deadline = after_warm + keep_alive + 30
            while time.monotonic() < deadline:
                if count() == 0:
                    zero_after = round(time.monotonic() - after_warm, 1)
                    break
                time.sleep(0.5)
        log_errors = [line for line in (server.dir / "server.log").read_text().splitlines() if "error" in line.lower()]

        ideal = 50 * math.ceil(n / max(1, cold["instances"] * args.concurrency))
        print(f"machine: {machine()}; {n} requests at once; function concurrency {args.concurrency}; keep-alive {keep_alive} s")
        for note in notes:
            print("note:", note)
        print(f"{'':14}{'absorb ms':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'lost':>6}{'cold':>6}{'inst.':>7}{'peak':>6}{'ratio':>8}")
        for label, r in (("plain node", plain_result), ("swell cold", cold), ("swell warm", warm)):
            ratio = r["absorbMs"] / plain_result["absorbMs"]
            peak = "-" if r["peakInstances"] is None else r["peakInstances"]
            cold_starts = "-" if label == "plain node" else r["coldStarts"]
            print(f"{label:14}{r['absorbMs']:>10.1f}{r['p50Ms']:>9.1f}{r['p99Ms']:>9.1f}{r['errors']:>8}{r['lost']:>6}"
                  f"{cold_starts:>6}{r['instances']:>7}{peak:>6}{ratio:>7.2f}x")
        print(f"instances before: {before}; left {keep_alive + 2} s after the last answer: {left}"
              + (f" (zero after {zero_after} s)" if zero_after is not None else ""))
        if cold["initP50Ms"] is not None:
            print(f"cold wave init duration (X-Swell-Init-Duration-Ms of cold answers): p50 {cold['initP50Ms']} ms, max {cold['initMaxMs']} ms")
        print(f"ideal absorb with the instances used: {ideal} ms; server log lines mentioning errors: {len(log_errors)}")
        for line in log_errors[:5]:
            print("  log:", line[:300])
        for label, r in (("swell cold", cold), ("swell warm", warm)):
            if r["errors"] or r["lost"]:
                print(f"{label}: status {r['status']}, function errors {r['functionErrors']}, lost {r['lostMessages']}")
        summary("burst", {
            "requests": n, "functionConcurrency": args.concurrency, "keepAliveS": keep_alive, "notes": notes,
            "plain": {k: plain_result[k] for k in ("absorbMs", "p50Ms", "p99Ms", "errors", "lost")},
            "cold": {k: v for k, v in cold.items() if k not in ("lostMessages",)},
            "warm": {k: v for k, v in warm.items() if k not in ("lostMessages",)},
            "ratioCold": round(cold["absorbMs"] / plain_result["absorbMs"], 2),
            "ratioWarm": round(warm["absorbMs"] / plain_result["absorbMs"], 2),
            "instancesBefore": before, "instancesLeft": left, "zeroAfterS": zero_after, "serverLogErrors": len(log_errors),
        })
    finally:
        server.stop()
        plain.terminate()
        plain.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
