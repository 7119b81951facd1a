"""Scaling settings: provisioned and scheduled minimums, keep-alive to zero, max instances,
the node's memory budget with LRU eviction, the instances listing and the metrics."""

from __future__ import annotations

import concurrent.futures
import time

from swell_e2e import function_error, node_fn

SLEEPY = "exports.handler = async (e) => { await new Promise(r => setTimeout(r, e.ms || 0)); return { pid: process.pid }; };"


def instances(swell, name: str) -> list[dict]:
    r = swell.api("GET", f"/v1/namespaces/default/functions/{name}/instances")
    assert r.status_code == 200, r.text
    return r.json()["instances"]


def wait_instances(swell, name: str, predicate, timeout: float = 15.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        current = instances(swell, name)
        if predicate(current) or time.monotonic() > deadline:
            return current
        time.sleep(0.1)


def test_min_instances_are_started_without_traffic_and_serve_warm(swell, app_dir, unique):
    name = unique("prov")
    swell.deploy(app_dir, {name: node_fn(SLEEPY, scaling={"minInstances": 2, "keepAlive": 1})})
    ready = wait_instances(swell, name, lambda xs: len([x for x in xs if x["state"] == "idle"]) == 2)
    assert len(ready) == 2 and all(x["provisioned"] for x in ready), ready
    # Past the keep-alive they stay: the minimum is never scaled away.
    time.sleep(2.5)
    assert len([x for x in instances(swell, name) if x["state"] == "idle"]) == 2
    r = swell.invoke(name, {})
    assert r.status_code == 200 and r.headers["X-Swell-Cold-Start"] == "false", r.headers


def test_idle_instances_scale_to_zero_after_keep_alive(swell, app_dir, unique):
    name = unique("zero")
    swell.deploy(app_dir, {name: node_fn(SLEEPY, scaling={"keepAlive": 1})})
    swell.invoke_ok(name, {})
    assert len(instances(swell, name)) == 1
    left = wait_instances(swell, name, lambda xs: not xs, timeout=10)
    assert left == []
    out = swell.cli("instances", name).ok().stdout
    assert "scaled to zero" in out


def test_max_instances_caps_scale_out_and_requests_wait_for_a_slot(swell, app_dir, unique):
    name = unique("capped")
    swell.deploy(app_dir, {name: node_fn(SLEEPY, concurrency=1, scaling={"maxInstances": 2})})
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(swell.invoke, name, {"ms": 400}) for _ in range(6)]
        seen = 0
        while not all(f.done() for f in futures):
            seen = max(seen, len(instances(swell, name)))
            time.sleep(0.05)
        results = [f.result() for f in futures]
    assert all(r.status_code == 200 and not function_error(r) for r in results), [r.text for r in results]
    assert len({r.json()["pid"] for r in results}) <= 2
    assert seen <= 2


def test_scheduled_window_keeps_instances_warm(swell, app_dir, unique):
    name = unique("sched")
    rule = {"cron": "* * * * * *", "timezone": "Asia/Shanghai", "minInstances": 2, "duration": 60}
    swell.deploy(app_dir, {name: node_fn(SLEEPY, scaling={"keepAlive": 1, "schedule": [rule]})})
    got = wait_instances(swell, name, lambda xs: len([x for x in xs if x["state"] == "idle"]) == 2)
    assert len(got) == 2, got
    info = swell.api("GET", f"/v1/namespaces/default/functions/{name}").json()["function"]
    assert info["scaling"]["schedule"] == [rule]


def test_schedule_that_is_not_open_keeps_nothing(swell, app_dir, unique):
    name = unique("closed")
    # Fires on 29 February at 03:00 only: not open now (unless a test runs exactly then).
    rule = {"cron": "0 0 3 29 2 *", "timezone": "UTC", "minInstances": 3, "duration": 60}
    swell.deploy(app_dir, {name: node_fn(SLEEPY, scaling={"schedule": [rule]})})
    time.sleep(2)
    assert instances(swell, name) == []


def test_invalid_scaling_names_the_field(swell, app_dir, unique):
    name = unique("bad")
    cases = [
        ({"minInstances": 5, "maxInstances": 2}, f"functions.{name}.scaling.minInstances", "maxInstances"),
        ({"keepAlive": 0}, f"functions.{name}.scaling.keepAlive", "between"),
        ({"schedule": [{"cron": "0 61 * * * *", "minInstances": 1, "duration": 60}]},
         f"functions.{name}.scaling.schedule[0].cron", "minute"),
        ({"schedule": [{"cron": "0 0 * * * *", "timezone": "Mars/Olympus", "minInstances": 1, "duration": 60}]},
         f"functions.{name}.scaling.schedule[0].timezone", "Mars/Olympus"),
        ({"schedule": [{"cron": "0 0 * * * *", "minInstances": 1}]}, f"functions.{name}.scaling.schedule[0].duration", "required"),
        ({"burst": 3}, f"functions.{name}.scaling.burst", "unknown field"),
    ]
    for scaling, field, words in cases:
        res = swell.deploy(app_dir, {name: node_fn(SLEEPY, scaling=scaling)}, check=False)
        assert res.code != 0, res
        assert field in res.stderr and words in res.stderr, res


def test_metrics_count_cold_starts_and_invocations(swell, app_dir, unique):
    name = unique("metered")
    swell.deploy(app_dir, {name: node_fn(SLEEPY)})
    swell.invoke_ok(name, {})
    swell.invoke_ok(name, {})
    r = swell.api("GET", "/v1/metrics")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    labels = f'{{namespace="default",function="{name}"}}'
    lines = dict(line.rsplit(" ", 1) for line in r.text.splitlines() if not line.startswith("#"))
    assert lines[f"swell_invocations_total{labels}"] == "2"
    assert lines[f"swell_cold_starts_total{labels}"] == "1"
    assert float(lines[f"swell_init_seconds_total{labels}"]) > 0
    assert float(lines[f"swell_instances{labels}"]) == 1
    # Only the admin of `default` reads node-wide metrics.
    assert swell.api("GET", "/v1/metrics", key=None).status_code == 401


def test_memory_budget_evicts_the_least_recently_used_idle_instance(make_server, app_dir, unique):
    server = make_server(extra_args=["--memory-budget", "256"])
    swell = server.client()
    a, b, c = unique("lru-a"), unique("lru-b"), unique("lru-c")
    swell.deploy(app_dir, {n: node_fn(SLEEPY, memory=128) for n in (a, b, c)})
    swell.invoke_ok(a, {})
    swell.invoke_ok(b, {})
    swell.invoke_ok(b, {})  # b is used after a: a is the least recently used
    r = swell.invoke(c, {})
    assert r.status_code == 200 and not function_error(r), r.text
    assert wait_instances(swell, a, lambda xs: not xs, timeout=5) == []
    assert len(instances(swell, b)) == 1
    deadline = time.monotonic() + 5
    while True:  # records are written behind the request, in batches
        lines = swell.logs(a)["lines"]
        if any("evicted" in line["message"] for line in lines) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert any("evicted" in line["message"] for line in lines), lines
