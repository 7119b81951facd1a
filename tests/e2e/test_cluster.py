"""Scale-out: three `swell serve` nodes on one PostgreSQL (loopback ports).

- a deploy, an alias change and a key revocation on one node take effect on the others within 1 s;
- every node registers and heartbeats (`GET /v1/nodes`, `swell nodes`); a killed node is dead after 5 s;
- 5,000 async tasks are run by all three nodes, each task once;
- `kill -9` of a node mid-run: every accepted task ends `succeeded`, the dead node's
  running tasks with an `interrupted` attempt;
- a timer fires once per due time across the cluster; an object-store notification posted
  to two nodes is one task.
"""

from __future__ import annotations

import os
import re
import signal
import time

import pytest
import requests

from postgres_e2e import postgres  # noqa: F401  (fixture)
from swell_e2e import node_fn, wait_until

ADMIN_KEY = "swk_e2e_cluster_admin_key_00001"

ECHO = """
exports.handler = async (e) => {
  if (e.sleep) await new Promise(r => setTimeout(r, e.sleep));
  return { echo: e };
};
"""


@pytest.fixture
def cluster(postgres, make_server, tmp_path):
    url = postgres.fresh_database()
    nodes = [make_server(tmp_path / f"node{i}", extra_args=["--store", url, "--memory-budget", "2048"],
                         env={"SWELL_ADMIN_KEY": ADMIN_KEY}) for i in range(3)]
    nodes[0].db = url.rsplit("/", 1)[1]
    return nodes


def metric(server, name, function):
    text = requests.get(server.url + "/v1/metrics", headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=10).text
    m = re.search(rf'^{name}{{namespace="default",function="{re.escape(function)}"}} (\S+)$', text, re.M)
    return float(m.group(1)) if m else 0.0


def summary(client, name):
    r = client.api("GET", "/v1/namespaces/default/tasks/summary", params={"function": name})
    assert r.status_code == 200, r.text
    return r.json()



def test_catalog_changes_reach_every_node_within_a_second(cluster, app_dir, unique):
    a, b, c = (n.client() for n in cluster)
    name = unique("spread")
    a.deploy(app_dir, {name: node_fn(ECHO)})
    deployed = time.monotonic()
    for other in (b, c):
        ok = wait_until(lambda: other.invoke(name, {"x": 1}).status_code == 200, 1.0)
        assert ok, f"{name} not invocable on {other.url} 1 s after the deploy on {a.url}"
    assert time.monotonic() - deployed < 2.5  # both checks together

    # An alias made on b is used on c.
    assert b.cli("publish", name).ok()
    assert b.cli("alias", "set", name, "live", "1").ok()
    assert wait_until(lambda: c.invoke(name, {"y": 2}, qualifier="live").status_code == 200, 1.0)

    # A key created on a works on b; revoked on c, it stops working on a and b within 1 s.
    r = a.api("POST", "/v1/namespaces/default/keys", json_body={"name": "ci", "role": "invoker"})
    assert r.status_code == 201, r.text
    key, key_id = r.json()["key"], r.json()["id"]
    assert wait_until(lambda: b.with_key(key).invoke(name, {}).status_code == 200, 1.0)
    assert c.api("DELETE", f"/v1/namespaces/default/keys/{key_id}").status_code == 204
    for other in (a, b):
        assert wait_until(lambda: other.with_key(key).invoke(name, {}).status_code == 401, 1.0), other.url


def test_nodes_register_heartbeat_and_die(cluster, tmp_path):
    a = cluster[0].client()
    def alive():
        found = [n for n in a.api("GET", "/v1/nodes").json()["nodes"] if n["alive"]]
        return found if len(found) == 3 else None
    nodes = wait_until(alive, 5, step=0.2)
    assert nodes and len(nodes) == 3, a.api("GET", "/v1/nodes").json()
    assert sorted(n["address"] for n in nodes) == sorted(f"127.0.0.1:{s.port}" for s in cluster)
    assert all(n["version"] and n["startedAt"] and n["memoryBudgetMB"] == 2048 for n in nodes), nodes
    out = a.cli("nodes").ok().stdout
    assert out.count(" alive ") == 3, out
    # Only the platform admin may look.
    r = a.api("POST", "/v1/namespaces/default/keys", json_body={"name": "dev", "role": "developer"})
    assert a.with_key(r.json()["key"]).api("GET", "/v1/nodes").status_code == 403
    # kill -9: dead within 5 s of its last heartbeat (and alive ones stay alive).
    victim = cluster[2]
    os.kill(victim.pid, signal.SIGKILL)
    victim.proc.wait()
    killed = time.monotonic()

    def states():
        return {n["address"]: n["alive"] for n in a.api("GET", "/v1/nodes").json()["nodes"]}
    dead = wait_until(lambda: states().get(f"127.0.0.1:{victim.port}") is False, 8, step=0.2)
    assert dead, states()
    assert time.monotonic() - killed <= 7.5
    assert sum(states().values()) == 2
    # A node stopping gracefully leaves the registry.
    cluster[1].stop()
    assert wait_until(lambda: f"127.0.0.1:{cluster[1].port}" not in states(), 3, step=0.2)


def enqueue_batch(client, name, events):
    r = client.api("POST", f"/v1/namespaces/default/functions/{name}/tasks", json_body={"tasks": [{"payload": e} for e in events]})
    assert r.status_code == 202, r.text
    return [t["taskId"] for t in r.json()["tasks"]]


def test_five_thousand_tasks_run_on_every_node_once(cluster, app_dir, unique, postgres):
    clients = [n.client() for n in cluster]
    name = unique("bulk")
    clients[0].deploy(app_dir, {name: node_fn(ECHO, concurrency=16)})
    for c in clients[1:]:
        assert wait_until(lambda: c.invoke(name, {}).status_code == 200, 2)
    ids = []
    for i in range(10):  # 10 batches of 500, to every node in turn
        ids += enqueue_batch(clients[i % 3], name, [{"i": i * 500 + j} for j in range(500)])
    assert len(set(ids)) == 5000
    done = wait_until(lambda: summary(clients[0], name)["succeeded"] == 5000, 240, step=0.5)
    assert done, summary(clients[0], name)
    per_node = [metric(n, "swell_tasks_succeeded_total", name) for n in cluster]
    assert sum(per_node) == 5000, per_node  # each task ran once
    assert all(n > 0 for n in per_node), per_node
    db = cluster[0].db
    assert postgres.psql(f"SELECT count(*) FROM task_attempts a JOIN tasks t ON t.id = a.task_id WHERE t.function = '{name}'", db) == "5000"


def test_kill_9_of_a_node_mid_run_loses_no_task(cluster, app_dir, unique, postgres):
    clients = [n.client() for n in cluster]
    name = unique("takeover")
    clients[0].deploy(app_dir, {name: node_fn(ECHO, concurrency=10)})
    for c in clients[1:]:
        assert wait_until(lambda: c.invoke(name, {}).status_code == 200, 2)
    accepted = []
    for i in range(6):
        accepted += enqueue_batch(clients[i % 3], name, [{"sleep": 1500, "i": i * 50 + j} for j in range(50)])
    victim = cluster[2]
    assert wait_until(lambda: metric(victim, "swell_tasks_running", name) >= 5, 20, step=0.1)
    os.kill(victim.pid, signal.SIGKILL)
    victim.proc.wait()
    killed = time.monotonic()
    survivors = clients[:2]
    done = wait_until(lambda: summary(survivors[0], name)["succeeded"] == len(accepted), 120, step=0.5)
    s = summary(survivors[0], name)
    assert done, s
    assert s["failed"] == 0 and s["queued"] == 0 and s["running"] == 0, s
    db = cluster[0].db
    interrupted = int(postgres.psql(
        f"SELECT count(DISTINCT task_id) FROM task_attempts a JOIN tasks t ON t.id = a.task_id "
        f"WHERE t.function = '{name}' AND a.outcome = 'interrupted'", db))
    assert interrupted >= 5, interrupted
    # Every interrupted task ran again to success elsewhere, after its lease lapsed (≤ 10 s).
    sample = postgres.psql(
        f"SELECT task_id FROM task_attempts a JOIN tasks t ON t.id = a.task_id WHERE t.function = '{name}' "
        f"AND a.outcome = 'interrupted' LIMIT 1", db)
    attempts = clients[0].api("GET", f"/v1/namespaces/default/tasks/{sample}").json()["task"]["attempts"]
    assert [a["outcome"] for a in attempts][-1] == "succeeded" and attempts[0]["outcome"] == "interrupted", attempts
    assert time.monotonic() - killed < 120


def test_a_timer_fires_once_per_due_time_across_the_cluster(cluster, app_dir, unique, postgres):
    a = cluster[0].client()
    name = unique("tick")
    a.deploy(app_dir, {name: node_fn(ECHO, triggers=[{"type": "timer", "cron": "* * * * * *"}])})
    time.sleep(6)
    db = cluster[0].db
    rows = postgres.psql(f"SELECT idempotency_key FROM tasks WHERE function = '{name}' ORDER BY created_at", db).splitlines()
    assert len(rows) >= 3, rows
    assert len(rows) == len(set(rows)), f"a due time fired twice: {rows}"
    # Consecutive seconds: no due time skipped while the three nodes compete.
    seconds = sorted(int(time.mktime(time.strptime(k.split("@")[1][:19], "%Y-%m-%dT%H:%M:%S"))) for k in rows)
    assert seconds[-1] - seconds[0] == len(seconds) - 1, rows


def test_an_object_store_notification_sent_to_two_nodes_is_one_task(cluster, app_dir, unique):
    a, b = cluster[0].client(), cluster[1].client()
    name, bucket = unique("thumbs"), unique("photos")
    a.deploy(app_dir, {name: node_fn(ECHO, triggers=[{"type": "object-store", "bucket": bucket}])})
    record = {
        "eventVersion": "2.0", "eventSource": "minio:s3", "awsRegion": "", "eventTime": "2026-11-21T20:00:00.000Z",
        "eventName": "s3:ObjectCreated:Put", "userIdentity": {"principalId": "minioadmin"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"}, "responseElements": {"x-amz-request-id": "17F2A1B3C4D5E6F7"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "Config",
               "bucket": {"name": bucket, "ownerIdentity": {"principalId": "minioadmin"}, "arn": f"arn:aws:s3:::{bucket}"},
               "object": {"key": "cat.png", "size": 1024, "eTag": "d41d8cd98f00b204e9800998ecf8427e", "contentType": "image/png",
                          "sequencer": "0055AED6DCD90281E5"}},
    }
    body = {"EventName": "s3:ObjectCreated:Put", "Key": "", "Records": [record]}
    assert wait_until(lambda: b.invoke(name, {}).status_code == 200, 2)
    first = a.api("POST", "/v1/namespaces/default/object-events", json_body=body).json()
    second = b.api("POST", "/v1/namespaces/default/object-events", json_body=body).json()
    assert len(first["tasks"]) == 1 and second["tasks"] == first["tasks"], (first, second)
    s = summary(a, name)
    assert sum(s.values()) == 1, s


def instances(server, name):
    r = requests.get(f"{server.url}/v1/namespaces/default/functions/{name}/instances",
                     headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=10)
    return len(r.json()["instances"]) if r.status_code == 200 else -1


def test_minimum_instances_are_split_across_live_nodes(cluster, app_dir, unique):
    a = cluster[0].client()
    name = unique("warm")
    a.deploy(app_dir, {name: node_fn(ECHO, scaling={"minInstances": 4})})
    # 4 over 3 nodes: 2, 1, 1 (the first node in the registry's order takes the remainder).
    # Instances above a node's share are not stopped at once (they idle out after their
    # keep-alive), so a moment when a node's view of the registry lagged (a loaded machine)
    # may leave more on one node: every node runs its part, none is missing.
    def spread():
        counts = [instances(n, name) for n in cluster]
        return counts if min(counts) >= 1 and sum(counts) >= 4 else None
    assert wait_until(spread, 20, step=0.25), [instances(n, name) for n in cluster]
    # A node dies: the survivors run its share once the registry sees it dead (2 each).
    os.kill(cluster[2].pid, signal.SIGKILL)
    cluster[2].proc.wait()
    taken = wait_until(lambda: min(instances(n, name) for n in cluster[:2]) >= 2, 20, step=0.25)
    assert taken, [instances(n, name) for n in cluster[:2]]
