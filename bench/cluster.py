"""Scale-out: Swell nodes on one PostgreSQL, same machine, same run.

    python3 bench/cluster.py [--tasks 5000] [--sleep-tasks 600] [--sleep-ms 1000] [--node-budget 512] [--parts 1,2,3] [--quick]

1. Async throughput, one node: the SQLite store vs the PostgreSQL store. `tasks` no-op
   tasks are enqueued in batches of 500 (`POST …/functions/noop/tasks`); reported are the
   enqueue rate and the end-to-end rate (until `GET …/tasks/summary` shows them all
   `succeeded`).
2. One node vs three nodes on a sleep-bound function (each task sleeps `sleep-ms`, 1 s;
   each node runs at most 4 instances of it, `scaling.maxInstances` being per node,
   concurrency 1): `sleep-tasks` tasks, all enqueued on the first node (the others claim
   theirs from the database); end-to-end rate.
3. Takeover: three nodes, 150 tasks of 1 s; once the third node runs some, `kill -9` it;
   reported is the time until no task is held by the dead node any more (its leases lapsed
   and the survivors claimed its tasks), and whether every task ended `succeeded`.

PostgreSQL comes from tests/postgres_tools/start_postgres.sh (a throw-away server on a free
loopback port), or SWELL_TEST_POSTGRES_URL. The swell binary is SWELL_BIN (else the release
build); the figures say which.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, free_port, machine, swell_binary  # noqa: E402

KEY = "swk_bench_cluster_admin_key_0001"
TOOLS = ROOT / "tests" / "postgres_tools"
NOOP = "exports.handler = async (e) => (e && e.sleep ? new Promise(r => setTimeout(() => r({}), e.sleep)) : {});\n"


class Postgres:
    def __init__(self):
        self.env = {}
        url = os.environ.get("SWELL_TEST_POSTGRES_URL")
        if url:
            self.url, self.bin = url, os.environ.get("SWELL_TEST_POSTGRES_BIN") or sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1].as_posix()
            return
        out = subprocess.run([str(TOOLS / "start_postgres.sh")], capture_output=True, text=True, check=True)
        self.env = dict(l.removeprefix("export ").split("=", 1) for l in out.stdout.splitlines() if l.startswith("export "))
        self.url, self.bin = self.env["SWELL_TEST_POSTGRES_URL"], self.env["SWELL_TEST_POSTGRES_BIN"]

    def psql(self, sql: str, db: str) -> str:
        host_port = self.url.split("@", 1)[1].split("/", 1)[0]
        host, port = host_port.rsplit(":", 1)
        user = self.url.split("//", 1)[1].split("@", 1)[0]
        return subprocess.run([f"{self.bin}/psql", "-X", "-q", "-t", "-A", "-h", host, "-p", port, "-U", user, "-d", db, "-c", sql],
                              capture_output=True, text=True, check=True).stdout.strip()

    def fresh(self) -> tuple[str, str]:
        name = "swell_bench_" + os.urandom(4).hex()
        self.psql(f"CREATE DATABASE {name}", self.url.rsplit("/", 1)[1])
        return self.url.rsplit("/", 1)[0] + "/" + name, name

    def stop(self):
        if self.env:
            subprocess.run([str(TOOLS / "stop_postgres.sh")], env={**os.environ, **self.env})


class Node:
    def __init__(self, *extra: str):
        self.dir = Path(tempfile.mkdtemp(prefix="swell-bench-cluster-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(self.dir / "server.log", "w")
        self.proc = subprocess.Popen([swell_binary(), "serve", "--data-dir", str(self.dir / "data"), "--port", str(self.port),
                                      "--log-level", "warning", *extra],
                                     stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, "SWELL_ADMIN_KEY": KEY})
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if requests.get(self.url + "/v1/health", timeout=1).ok:
                    return
            except requests.RequestException:
                time.sleep(0.05)
        raise RuntimeError(f"swell serve did not start; see {self.dir}/server.log")

    def api(self, method, path, **kw):
        return requests.request(method, self.url + path, headers={"Authorization": f"Bearer {KEY}"}, timeout=60, **kw)

    def deploy(self, name, **config):
        app = self.dir / "apps" / name
        (app / "code").mkdir(parents=True, exist_ok=True)
        (app / "code" / "index.js").write_text(NOOP)
        manifest = {"functions": {name: {"code": "./code", "runtime": "nodejs20", "handler": "index.handler", **config}}}
        (app / "swell.yaml").write_text(json.dumps(manifest))
        subprocess.run([swell_binary(), "deploy", str(app)], env={**os.environ, "SWELL_URL": self.url, "SWELL_KEY": KEY}, check=True,
                       capture_output=True)

    def stop(self, kill=False):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def wait_ready(nodes, name):
    for n in nodes:
        deadline = time.time() + 10
        while n.api("POST", f"/v1/namespaces/default/functions/{name}/invoke", data="{}").status_code != 200 and time.time() < deadline:
            time.sleep(0.05)


def enqueue(node, name, events):
    r = node.api("POST", f"/v1/namespaces/default/functions/{name}/tasks", json={"tasks": [{"payload": e} for e in events]})
    r.raise_for_status()
    return [t["taskId"] for t in r.json()["tasks"]]


def run_tasks(nodes, name, count, event, batch=500):
    t0 = time.monotonic()
    for i in range(0, count, batch):
        enqueue(nodes[(i // batch) % len(nodes)] if event is None else nodes[0], name, [event or {} for _ in range(min(batch, count - i))])
    enqueued = time.monotonic() - t0
    while True:
        s = nodes[0].api("GET", "/v1/namespaces/default/tasks/summary", params={"function": name}).json()
        if s["succeeded"] + s["failed"] >= count:
            break
        time.sleep(0.1)
    return {"tasks": count, "enqueue_per_s": round(count / enqueued), "end_to_end_per_s": round(count / (time.monotonic() - t0), 1),
            "failed": s["failed"]}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--tasks", type=int, default=5000)
    p.add_argument("--sleep-tasks", type=int, default=600)
    p.add_argument("--sleep-ms", type=int, default=1000)
    p.add_argument("--node-budget", type=int, default=512, help="memory budget (MB) of each node in part 2 (128 MB instances)")
    p.add_argument("--parts", default="1,2,3")
    p.add_argument("--quick", action="store_true")
    a = p.parse_args()
    if a.quick:
        a.tasks, a.sleep_tasks = 1000, 60
    pg = Postgres()
    results = {"machine": machine(), "binary": swell_binary()}
    try:
        parts = set(a.parts.split(","))
        r = results
        # 1. One node: SQLite vs PostgreSQL.
        for store in ("sqlite", "postgres") if "1" in parts else ():
            extra = ["--store", pg.fresh()[0]] if store == "postgres" else []
            node = Node(*extra)
            try:
                node.deploy("noop", concurrency=64, **{"async": {"concurrency": 256}})
                wait_ready([node], "noop")
                results[f"async_one_node_{store}"] = run_tasks([node], "noop", a.tasks, None)
            finally:
                node.stop()
        if "1" in parts:
            r["postgres_vs_sqlite"] = round(r["async_one_node_postgres"]["end_to_end_per_s"] / r["async_one_node_sqlite"]["end_to_end_per_s"], 2)

        # 2. Sleep-bound: 1 node vs 3 nodes (each node's memory budget caps its instances).
        for count in (1, 3) if "2" in parts else ():
            url, _ = pg.fresh()
            nodes = [Node("--store", url, "--memory-budget", str(a.node_budget)) for _ in range(count)]
            try:
                # Each node runs its own instances: at most 4 of this function (its memory budget
                # would allow more on this machine), so the work is bound by sleeping slots.
                nodes[0].deploy("sleepy", memory=128, concurrency=1, timeout=60, scaling={"maxInstances": 4})
                wait_ready(nodes, "sleepy")
                results[f"sleep_bound_{count}_nodes"] = run_tasks(nodes, "sleepy", a.sleep_tasks, {"sleep": a.sleep_ms})
            finally:
                for n in nodes:
                    n.stop()
        if "2" in parts:
            r["sleep_bound"] = {"sleep_ms": a.sleep_ms, "max_instances_per_node": 4, "concurrency": 1}
            r["three_vs_one_node"] = round(r["sleep_bound_3_nodes"]["end_to_end_per_s"] / r["sleep_bound_1_nodes"]["end_to_end_per_s"], 2)
        if "3" not in parts:
            print(json.dumps(results, indent=2))
            return

        # 3. Takeover after kill -9.
        url, db = pg.fresh()
        nodes = [Node("--store", url) for _ in range(3)]
        try:
            nodes[0].deploy("slow", concurrency=10)
            wait_ready(nodes, "slow")
            ids = []
            for i in range(3):
                ids += enqueue(nodes[i], "slow", [{"sleep": 1000} for _ in range(50)])
            victim = nodes[2]
            dead_id = next(n["id"] for n in nodes[0].api("GET", "/v1/nodes").json()["nodes"] if n["address"].endswith(f":{victim.port}"))
            while int(pg.psql(f"SELECT count(*) FROM tasks WHERE lease_owner = '{dead_id}' AND state = 'running'", db) or 0) < 3:
                time.sleep(0.05)
            held = int(pg.psql(f"SELECT count(*) FROM tasks WHERE lease_owner = '{dead_id}' AND state IN ('queued', 'running')", db))
            victim.proc.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            while int(pg.psql(f"SELECT count(*) FROM tasks WHERE lease_owner = '{dead_id}' AND state IN ('queued', 'running')", db)) > 0:
                time.sleep(0.05)
            takeover = time.monotonic() - killed
            while True:
                s = nodes[0].api("GET", "/v1/namespaces/default/tasks/summary", params={"function": "slow"}).json()
                if s["succeeded"] + s["failed"] >= len(ids):
                    break
                time.sleep(0.2)
            results["takeover"] = {"tasks_held_by_killed_node": held, "seconds_until_all_claimed_elsewhere": round(takeover, 2),
                                   "succeeded": s["succeeded"], "failed": s["failed"], "tasks": len(ids)}
        finally:
            for n in nodes:
                n.stop(kill=True)
    finally:
        pg.stop()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
