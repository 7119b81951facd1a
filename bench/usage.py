"""GET /v1/usage over a month: how long the API takes to group, merge and price a month of
hourly rows, beside a bare read of the same rows from usage.db in the same run.

    python3 bench/usage.py [--functions 20] [--namespaces 10] [--days 30] [--requests 30]

A server starts on a fresh data directory and stops (so usage.db exists with its schema);
then `namespaces` × `functions` × `days` × 24 hourly rows are written straight into
usage.db (each with a latency histogram of about 20 buckets and a peak), the server starts
again, and each grouping (`by=day`, `by=hour`, `by=function`) of one namespace's month is
requested `requests` times with one client (keep-alive). Reported: client-side p50/p99 per
grouping, and the baseline: the same namespace's rows selected with Python's sqlite3
(p50 over the same number of reads). Target (issue 15): < 50 ms for a month.

The roll-ups Swell keeps beside the version hours (namespace hours, function days) are
computed here the same way and written with them, as the server's own writes would have.

Use SWELL_BIN to point at a debug build (figures then say so); the default is the release build.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import sqlite3
import struct
import subprocess
import tempfile
import time
from pathlib import Path

import requests

from common import free_port, percentile, summary, swell_binary


def histogram_blob(rng: random.Random, invocations: int) -> bytes:
    buckets: dict[int, int] = {}
    left = invocations
    while left > 0:
        b = rng.randint(80, 110)  # about 1 ms to 14 ms, in log buckets (8 per doubling of µs)
        n = min(left, rng.randint(1, max(1, invocations // 10)))
        buckets[b] = buckets.get(b, 0) + n
        left -= n
    lo = int(2 ** (min(buckets) / 8))
    hi = int(2 ** ((max(buckets) + 1) / 8)) - 1
    return encode(lo, hi, buckets)


def decode(blob: bytes) -> tuple[int, int, dict[int, int]]:
    lo, hi = struct.unpack_from("<qq", blob, 1)
    buckets = {}
    for at in range(17, len(blob), 9):
        buckets[blob[at]] = buckets.get(blob[at], 0) + struct.unpack_from("<q", blob, at + 1)[0]
    return lo, hi, buckets


def encode(lo: int, hi: int, buckets: dict[int, int]) -> bytes:
    out = bytes([1]) + struct.pack("<qq", lo, hi)
    for b in sorted(buckets):
        out += bytes([b]) + struct.pack("<q", buckets[b])
    return out


def rollups(rows: list[tuple]) -> tuple[list[tuple], list[tuple]]:
    """The namespace hours and function days Swell keeps beside the version hours (one
    version per function here, so a function's hour peak is its version's)."""
    ns_hours: dict[tuple, list] = {}
    fn_days: dict[tuple, list] = {}
    for (hour, ns, fn, _version, inv, err, cold, billed, mbms, peak, mem, always_on, blob) in rows:
        for table, key, peak_rule in ((ns_hours, (ns, hour), "sum"), (fn_days, (ns, hour - hour % 86400, fn), "max")):
            acc = table.setdefault(key, [0, 0, 0, 0, 0, 0, 0, 0, None])
            for i, v in enumerate((inv, err, cold, billed, mbms)):
                acc[i] += v
            acc[5] = acc[5] + peak if peak_rule == "sum" else max(acc[5], peak)
            acc[6] = max(acc[6], mem)
            acc[7] += always_on
            lo, hi, buckets = decode(blob)
            if acc[8] is None:
                acc[8] = (lo, hi, dict(buckets))
            else:
                plo, phi, pb = acc[8]
                for b, n in buckets.items():
                    pb[b] = pb.get(b, 0) + n
                acc[8] = (min(lo, plo), max(hi, phi), pb)
    hours = [(k[1], k[0], *v[:8], encode(*v[8])) for k, v in ns_hours.items()]
    days = [(k[1], k[0], k[2], *v[:8], encode(*v[8])) for k, v in fn_days.items()]
    return hours, days


def start(binary: str, data: Path, port: int, log) -> subprocess.Popen:
    proc = subprocess.Popen([binary, "serve", "--data-dir", str(data), "--port", str(port), "--log-level", "warning"],
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/v1/health", timeout=1).ok:
                return proc
        except requests.RequestException:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("swell serve did not start")


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--functions", type=int, default=20)
    ap.add_argument("--namespaces", type=int, default=10)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--requests", type=int, default=30)
    args = ap.parse_args()

    binary = swell_binary()
    build = "debug" if "/debug/" in binary else "release"
    work = Path(tempfile.mkdtemp(prefix="swell-bench-usage-"))
    data = work / "data"
    port = free_port()
    log = open(work / "server.log", "w")
    proc = start(binary, data, port, log)
    stop(proc)

    rng = random.Random(7)
    now_hour = int(time.time()) // 3600 * 3600
    first_hour = now_hour - args.days * 24 * 3600
    rows = []
    for n in range(args.namespaces):
        ns = "default" if n == 0 else f"team-{n}"
        for f in range(args.functions):
            memory = [128, 256, 512, 1024][f % 4]
            for h in range(args.days * 24):
                invocations = rng.randint(50, 5000)
                billed = invocations * rng.randint(2, 20)
                peak = rng.randint(1, 12)
                rows.append((first_hour + h * 3600, ns, f"fn-{f:03d}", "$LATEST", invocations, invocations // 100,
                             rng.randint(0, 3), billed, billed * memory, peak, memory, peak * memory,
                             histogram_blob(rng, invocations)))
    db = sqlite3.connect(data / "usage.db")
    columns = "invocations, errors, cold_starts, billed_ms, mb_ms, peak_instances, memory_mb, always_on_mb_hours, latency"
    db.executemany(f"INSERT OR REPLACE INTO usage_hours (hour, namespace, function, version, {columns}) "
                   "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    ns_hours, fn_days = rollups(rows)
    db.executemany(f"INSERT OR REPLACE INTO usage_namespace_hours (hour, namespace, {columns}) VALUES (?,?,?,?,?,?,?,?,?,?,?)", ns_hours)
    db.executemany(f"INSERT OR REPLACE INTO usage_function_days (day, namespace, function, {columns}) "
                   "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", fn_days)
    db.commit()

    # Baseline: the rows of one namespace's month, read with Python's sqlite3.
    baseline = []
    for _ in range(args.requests):
        t = time.perf_counter()
        db.execute("SELECT * FROM usage_hours WHERE hour >= ? AND hour < ? AND namespace = ?",
                   (first_hour, now_hour + 3600, "default")).fetchall()
        baseline.append((time.perf_counter() - t) * 1000)
    db.close()

    proc = start(binary, data, port, log)
    key = (data / "admin.key").read_text().strip()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(first_hour))
    results = {}
    try:
        for by in ("day", "hour", "function"):
            url = f"http://127.0.0.1:{port}/v1/usage?namespace=default&since={since}&by={by}"
            r = session.get(url)
            r.raise_for_status()
            body = r.json()
            expected_rows = {"day": (args.days + 1, args.days + 2), "hour": (args.days * 24, args.days * 24 + 1),
                             "function": (args.functions, args.functions)}[by]
            assert expected_rows[0] - 1 <= len(body["rows"]) <= expected_rows[1], (by, len(body["rows"]))
            times = []
            for _ in range(args.requests):
                t = time.perf_counter()
                session.get(url).raise_for_status()
                times.append((time.perf_counter() - t) * 1000)
            results[by] = {"p50_ms": round(percentile(times, 50), 2), "p99_ms": round(percentile(times, 99), 2),
                           "rows": len(body["rows"])}
            print(f"by={by:<8} rows={len(body['rows']):4d}  p50 {results[by]['p50_ms']:7.2f} ms  "
                  f"p99 {results[by]['p99_ms']:7.2f} ms  ({build} build)")
    finally:
        stop(proc)
        log.close()
        shutil.rmtree(work, ignore_errors=True)
    base = round(percentile(baseline, 50), 2)
    print(f"baseline: sqlite3 read of the same {args.functions * args.days * 24} rows p50 {base:.2f} ms")
    summary("usage", {"build": build, "functions": args.functions, "namespaces": args.namespaces, "days": args.days,
                      "stored_rows": len(rows), "namespace_rows": args.functions * args.days * 24,
                      "results": results, "baseline_sqlite_read_p50_ms": base, "target_ms": 50})


if __name__ == "__main__":
    main()
