"""Noisy neighbour: latency of a light function while another function spins the CPU,
beside the same experiment with a plain Node.js server and raw busy-looping processes.

    python3 bench/noisy_neighbour.py [--duration 10] [--spinners 6] [--quick]

The light function (Node.js echo, `concurrency: 1`) is invoked back to back through the
invoke API by bench/loadgen.js (one keep-alive connection) for `duration` seconds: first
alone, then while a spinner function (busy-loops 2 s per invocation, `memory: 128`,
`concurrency: 1`) is kept busy by `spinners` concurrent invocations in a loop (so
`spinners` instances spin on the machine's cores). Reported: p50/p99 alone and with noise,
ratio p99 noise / p99 alone. Baseline, same run: a plain Node.js `http` echo server,
alone and beside `spinners` raw `node` processes busy-looping; its ratio is what the
operating system alone gives, so Swell's ratio should be read against it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import requests

from common import start_plain_node, NODE_BIN, Server, loadgen, loadgen_background, machine, percentile, summary, try_deploy

LIGHT = "exports.handler = async (event) => event;\n"
SPINNER = """exports.handler = async (event) => {
  const end = Date.now() + (event.spinMs || 2000);
  let x = 0;
  while (Date.now() < end) x += Math.sqrt(x + 1);
  return { x };
};
"""
PLAIN_SERVER = """
const http = require('http');
http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(Buffer.concat(chunks));
  });
}).listen(Number(process.argv[2]), '127.0.0.1');
"""
RAW_SPINNER = "for (;;) { const end = Date.now() + 2000; let x = 0; while (Date.now() < end) x += Math.sqrt(x + 1); }"


def measure(url: str, headers: dict, duration: int) -> dict:
    r = loadgen({"url": url, "duration": duration, "concurrency": 1, "headers": headers, "body": '{"ping":1}',
                 "capture": ["x-swell-function-error"]})
    lat = r["latencies"]
    errors = (len(lat) - r["status"].get("200", 0)) + sum(v for k, v in r["captured"]["x-swell-function-error"].items() if k != "(none)")
    return {"requests": len(lat), "p50Ms": round(percentile(lat, 50), 3), "p99Ms": round(percentile(lat, 99), 3),
            "maxMs": round(max(lat), 3) if lat else None, "errors": errors, "lost": r["lost"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--spinners", type=int, default=6)
    ap.add_argument("--quick", action="store_true", help="3 s per measurement")
    args = ap.parse_args()
    duration = 3 if args.quick else args.duration

    work = Path(tempfile.mkdtemp(prefix="swell-noisy-"))
    plain, plain_port = start_plain_node(work, PLAIN_SERVER)
    server = Server()
    spinners: list[subprocess.Popen] = []
    try:
        for name, code, extra in (("light", LIGHT, {}), ("spinner", SPINNER, {"memory": 128, "timeout": 10})):
            ok, err = try_deploy(server, name, {"index.js": code}, runtime="nodejs20", handler="index.handler", concurrency=1, **extra)
            if not ok:
                raise SystemExit(f"deploy failed: {err}")
        plain_url = f"http://127.0.0.1:{plain_port}/"
        for _ in range(100):
            try:
                requests.get(plain_url, timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.05)
        light_url = f"{server.url}/v1/namespaces/default/functions/light/invoke"
        spin_url = f"{server.url}/v1/namespaces/default/functions/spinner/invoke"
        measure(plain_url, {}, 1)  # warm-up
        measure(light_url, server.headers, 1)  # the cold start happens here

        plain_alone = measure(plain_url, {}, duration)
        swell_alone = measure(light_url, server.headers, duration)

        spinners = [subprocess.Popen([NODE_BIN, "-e", RAW_SPINNER]) for _ in range(args.spinners)]
        time.sleep(1)
        plain_noise = measure(plain_url, {}, duration)
        for p in spinners:
            p.terminate()
        for p in spinners:
            p.wait()
        spinners = []
        time.sleep(1)

        noise = loadgen_background({"url": spin_url, "duration": duration + 5, "concurrency": args.spinners,
                                    "headers": server.headers, "body": '{"spinMs":2000}', "capture": ["x-swell-function-error"]})
        time.sleep(3)  # the spinner instances start and begin spinning
        swell_noise = measure(light_url, server.headers, duration)
        out, err = noise.communicate(timeout=duration + 60)
        if noise.returncode != 0:
            raise SystemExit(f"spinner load failed: {err[-1000:]}")
        spin = json.loads(out)
        spin_info = {"invocations": len(spin["latencies"]), "status": spin["status"],
                     "functionErrors": spin["captured"]["x-swell-function-error"], "lost": spin["lost"],
                     "p50Ms": round(percentile(spin["latencies"], 50), 1)}

        print(f"machine: {machine()}; {duration} s per measurement, one request at a time; {args.spinners} spinners")
        print(f"{'':22}{'requests':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}")
        for label, r in (("plain alone", plain_alone), ("plain + raw spinners", plain_noise),
                         ("swell alone", swell_alone), ("swell + spinner fn", swell_noise)):
            print(f"{label:22}{r['requests']:>9}{r['p50Ms']:>9.3f}{r['p99Ms']:>9.3f}{r['maxMs']:>9.1f}{r['errors'] + r['lost']:>8}")
        ratio_swell = swell_noise["p99Ms"] / swell_alone["p99Ms"]
        ratio_plain = plain_noise["p99Ms"] / plain_alone["p99Ms"]
        print(f"p99 noise/alone: swell {ratio_swell:.2f}x, plain {ratio_plain:.2f}x; "
              f"p99 with noise swell/plain {swell_noise['p99Ms'] / plain_noise['p99Ms']:.2f}x; "
              f"spinner invocations {spin_info['invocations']} (p50 {spin_info['p50Ms']} ms, status {spin_info['status']})")
        summary("noisy_neighbour", {
            "durationS": duration, "spinners": args.spinners,
            "plainAlone": plain_alone, "plainNoise": plain_noise, "swellAlone": swell_alone, "swellNoise": swell_noise,
            "ratioP99Swell": round(ratio_swell, 2), "ratioP99Plain": round(ratio_plain, 2),
            "ratioP99NoiseSwellVsPlain": round(swell_noise["p99Ms"] / plain_noise["p99Ms"], 2),
            "ratioP50Swell": round(swell_noise["p50Ms"] / swell_alone["p50Ms"], 2),
            "ratioP50Plain": round(plain_noise["p50Ms"] / plain_alone["p50Ms"], 2),
            "spinner": spin_info,
        })
    finally:
        for p in spinners:
            p.terminate()
        server.stop()
        plain.terminate()
        plain.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
