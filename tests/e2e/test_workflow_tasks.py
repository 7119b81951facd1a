"""Workflow Task states run through the async task machinery: a namespace's async rate limit
throttles its workflows' Map, while another namespace's async tasks run meanwhile."""

from __future__ import annotations

import concurrent.futures
import json
import time

from swell_e2e import node_fn

ECHO = "exports.handler = async (e) => e;"


def test_an_async_rate_limit_throttles_a_workflow_map_while_another_namespace_runs(swell, tmp_path, unique):
    limited, other = unique("wfrate"), unique("wfother")
    swell.deploy(tmp_path / "limited", {"square": node_fn("exports.handler = async (n) => n * n;")}, namespace=limited)
    swell.deploy(tmp_path / "other", {"echo": node_fn(ECHO)}, namespace=other)
    # 5 task starts a second, a burst of 2: a Map of 30 items needs at least (30 - 2) / 5 = 5.6 s
    # (unthrottled, 30 no-op tasks at MaxConcurrency 10 take well under a second).
    r = swell.api("PUT", f"/v1/namespaces/{limited}/async-limits", json_body={"ratePerSecond": 5, "burst": 2})
    assert r.status_code == 200, r.text
    r = swell.api("PUT", f"/v1/namespaces/{limited}/workflows/squares", json_body={"definition": {
        "StartAt": "M", "States": {"M": {
            "Type": "Map", "MaxConcurrency": 10, "End": True,
            "ItemProcessor": {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "swell:function:square", "End": True}}}}}}})
    assert r.status_code in (200, 201), r.text

    t0 = time.monotonic()
    r = swell.api("POST", f"/v1/namespaces/{limited}/workflows/squares/executions", json_body={"input": list(range(30)), "name": "m"})
    assert r.status_code in (200, 201, 202), r.text

    # Meanwhile the other namespace's 40 async tasks all run.
    def enqueue(i):
        r = swell.api("POST", f"/v1/namespaces/{other}/functions/echo/invoke", params={"mode": "async"}, data=json.dumps({"i": i}),
                      headers={"Content-Type": "application/json"})
        assert r.status_code == 202, r.text
        return r.json()["taskId"]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(enqueue, range(40)))
    deadline = time.monotonic() + 30
    while True:
        summary = swell.api("GET", f"/v1/namespaces/{other}/tasks/summary", params={"function": "echo"}).json()
        if summary.get("succeeded") == 40 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    others_done = time.monotonic() - t0
    assert summary.get("succeeded") == 40, summary
    execution = swell.api("GET", f"/v1/namespaces/{limited}/workflows/squares/executions/m").json()["execution"]
    # The other namespace finished while the throttled Map still ran.
    assert execution["status"] == "RUNNING", (execution["status"], others_done)

    deadline = time.monotonic() + 60
    while execution["status"] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.2)
        execution = swell.api("GET", f"/v1/namespaces/{limited}/workflows/squares/executions/m").json()["execution"]
    elapsed = time.monotonic() - t0
    assert execution["status"] == "SUCCEEDED", execution
    assert execution["output"] == [n * n for n in range(30)]
    # Throttled to the namespace's rate (lower bound only: a busy machine may take longer).
    assert elapsed >= 4.5, elapsed
    assert others_done < elapsed, (others_done, elapsed)


def test_a_task_timeout_takes_a_throttled_task_out_of_the_queue(swell, tmp_path, unique):
    """A Task state whose TimeoutSeconds passes while it waits for the namespace's rate limit
    ends in States.Timeout (caught), and the function never ran for it."""
    ns = unique("wfwait")
    swell.deploy(tmp_path / "app", {"count": node_fn(
        "exports.handler = async (e) => { console.log('ran', JSON.stringify(e)); return e; };")}, namespace=ns)
    r = swell.api("PUT", f"/v1/namespaces/{ns}/async-limits", json_body={"ratePerSecond": 0.2, "burst": 1})
    assert r.status_code == 200, r.text
    r = swell.api("PUT", f"/v1/namespaces/{ns}/workflows/two", json_body={"definition": {
        "StartAt": "First", "States": {
            "First": {"Type": "Task", "Resource": "swell:function:count", "Parameters": {"step": 1}, "ResultPath": "$.first",
                      "Next": "Second"},
            # The bucket's only token went to First: Second waits about 5 s for the next one.
            "Second": {"Type": "Task", "Resource": "swell:function:count", "Parameters": {"step": 2}, "TimeoutSeconds": 1,
                       "Catch": [{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.caught", "Next": "Done"}], "Next": "Done"},
            "Done": {"Type": "Succeed"}}}})
    assert r.status_code in (200, 201), r.text
    r = swell.api("POST", f"/v1/namespaces/{ns}/workflows/two/executions", json_body={"input": {}, "name": "e"},
                  params={"wait": "true"})
    assert r.status_code in (200, 201, 202), r.text
    deadline = time.monotonic() + 30
    while True:
        execution = swell.api("GET", f"/v1/namespaces/{ns}/workflows/two/executions/e").json()["execution"]
        if execution["status"] != "RUNNING" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert execution["status"] == "SUCCEEDED", execution
    assert execution["output"]["caught"]["Error"] == "States.Timeout", execution
    assert execution["output"]["first"] == {"step": 1}
    # The cancelled wait did not run the function later either (the next token came at ~5 s).
    time.sleep(6)
    messages = [line["message"] for line in swell.logs("count", ns=ns, limit=1000)["lines"]]
    assert any('"step":1' in m for m in messages), messages
    assert not any('"step":2' in m for m in messages), messages
