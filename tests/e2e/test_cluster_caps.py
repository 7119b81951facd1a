"""Scale-out: a function's explicit `async.concurrency` cap holds across the cluster, also
when it is smaller than the number of nodes (claims count the function's leased tasks in
PostgreSQL). Three `swell serve` nodes on one PostgreSQL, cap 1: never two at once.

Needs PostgreSQL (SWELL_TEST_POSTGRES_URL, else the installed server that postgres_e2e starts).
"""

from __future__ import annotations

import glob
import os
import time

import pytest

from postgres_e2e import postgres  # noqa: F401  (fixture)
from swell_e2e import node_fn
from test_cluster import ADMIN_KEY, enqueue_batch, metric, summary, wait_until

pytestmark = pytest.mark.skipif(
    not os.environ.get("SWELL_TEST_POSTGRES_URL") and not glob.glob("/usr/lib/postgresql/*/bin/initdb"),
    reason="no PostgreSQL: SWELL_TEST_POSTGRES_URL not set and no server installed")

TIMED = """
exports.handler = async (e) => {
  const start = Date.now();
  await new Promise(r => setTimeout(r, e.sleep));
  return { i: e.i, start, end: Date.now(), pid: process.pid };
};
"""


def test_a_cap_of_one_holds_across_three_nodes(postgres, make_server, tmp_path, app_dir, unique):
    url = postgres.fresh_database()
    nodes = [make_server(tmp_path / f"node{i}", extra_args=["--store", url, "--memory-budget", "2048"],
                         env={"SWELL_ADMIN_KEY": ADMIN_KEY}) for i in range(3)]
    clients = [n.client() for n in nodes]
    name = unique("capped")
    clients[0].deploy(app_dir, {name: {**node_fn(TIMED, concurrency=4), "async": {"concurrency": 1}}})
    for c in clients[1:]:
        assert wait_until(lambda: c.invoke(name, {"sleep": 0}).status_code == 200, 5)
    # Every node registered (the claims split the cap by the live nodes they see).
    assert wait_until(lambda: sum(n["alive"] for n in clients[0].api("GET", "/v1/nodes").json()["nodes"]) == 3, 10, 0.2)
    ids = []
    for i in range(3):  # to every node: each one has tasks of its own to claim
        ids += enqueue_batch(clients[i], name, [{"sleep": 150, "i": i * 6 + j} for j in range(6)])
    assert wait_until(lambda: summary(clients[0], name)["succeeded"] == len(ids), 120, 0.25), summary(clients[0], name)
    runs = []
    for task_id in ids:
        r = clients[0].api("GET", f"/v1/namespaces/default/tasks/{task_id}")
        assert r.status_code == 200, r.text
        task = r.json()["task"]
        assert task["state"] == "succeeded", task
        runs.append(task["result"])
    runs.sort(key=lambda r: r["start"])
    overlaps = [(a, b) for a, b in zip(runs, runs[1:]) if b["start"] < a["end"]]
    assert not overlaps, f"{len(overlaps)} tasks ran while another one did: {overlaps[:3]}"
    per_node = [metric(n, "swell_tasks_succeeded_total", name) for n in nodes]
    assert sum(per_node) == len(ids), per_node
    print(f"cap 1 over 3 nodes: {len(ids)} tasks, one at a time; per node {per_node}; "
          f"{(runs[-1]['end'] - runs[0]['start']) / 1000:.1f} s in all")
