"""Workflows (Amazon States Language) against a real `swell serve` with real functions:
every state type, nested Parallel in Map, a Node TypeError caught by its errorType, a task
timeout, a callback completed through the API and the CLI, unique execution names,
definition validation with the fault's path, and kill -9 during a Map of 2,000 items and
during a 30 s Wait: after a restart every execution ends with the right output and a
complete, ordered history."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from swell_e2e import node_fn, write_app

DOUBLE = "exports.handler = async (e) => ({ value: (e.value || 0) * 2 });"
BOOM = "exports.handler = async (e) => { const o = null; return o.missing; };"
SLOW = "exports.handler = async (e) => { await new Promise(r => setTimeout(r, e.ms)); return 'late'; };"
ECHO = "exports.handler = async (e) => e;"
SQUARE = "exports.handler = async (n) => n * n;"


def put_workflow(swell, name, definition, ns="default"):
    r = swell.api("PUT", f"/v1/namespaces/{ns}/workflows/{name}", json_body={"definition": definition})
    assert r.status_code in (200, 201), r.text
    return r.json()["workflow"]


def start(swell, workflow, input_=None, name=None, wait=False, ns="default"):
    body = {"input": {} if input_ is None else input_}
    if name:
        body["name"] = name
    params = {"wait": "true"} if wait else None
    return swell.api("POST", f"/v1/namespaces/{ns}/workflows/{workflow}/executions", json_body=body, params=params)


def describe(swell, workflow, name, ns="default"):
    r = swell.api("GET", f"/v1/namespaces/{ns}/workflows/{workflow}/executions/{name}")
    assert r.status_code == 200, r.text
    return r.json()["execution"]


def wait_end(swell, workflow, name, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        e = describe(swell, workflow, name)
        if e["status"] != "RUNNING":
            return e
        time.sleep(0.2)
    raise AssertionError(f"execution {workflow}/{name} still running after {timeout}s")


def history(swell, workflow, name, ns="default"):
    events, cursor = [], "0"
    while True:
        r = swell.api("GET", f"/v1/namespaces/{ns}/workflows/{workflow}/executions/{name}/history",
                      params={"cursor": cursor, "limit": 1000})
        assert r.status_code == 200, r.text
        page = r.json()
        events += page["events"]
        if page["nextCursor"] is None:
            return events
        cursor = page["nextCursor"]


def check_history(events, last="ExecutionSucceeded"):
    """Complete and ordered: ids 1..n without a gap, each previous id earlier, one start, one end."""
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert all(e["previousEventId"] < e["id"] for e in events)
    assert events[0]["type"] == "ExecutionStarted"
    assert events[-1]["type"] == last
    ends = [e for e in events if e["type"].startswith("Execution") and e["type"] != "ExecutionStarted"]
    assert len(ends) == 1, ends
    stamps = [e["timestamp"] for e in events]
    assert stamps == sorted(stamps)


ALL_STATES = {
    "StartAt": "Init",
    "States": {
        "Init": {"Type": "Pass", "Parameters": {"value.$": "$.start", "items.$": "$.items"}, "Next": "Double"},
        "Double": {"Type": "Task", "Resource": "swell:function:{double}", "ResultSelector": {"value.$": "$.value"},
                   "ResultPath": "$.doubled", "Next": "Big?"},
        "Big?": {"Type": "Choice", "Choices": [{"Variable": "$.doubled.value", "NumericGreaterThan": 10, "Next": "Pause"}],
                 "Default": "Nope"},
        "Nope": {"Type": "Fail", "Error": "TooSmall", "Cause": "the doubled value is 10 or less"},
        "Pause": {"Type": "Wait", "Seconds": 1, "Next": "Both"},
        "Both": {"Type": "Parallel", "ResultPath": "$.both", "Next": "Each", "Branches": [
            {"StartAt": "Lit", "States": {"Lit": {"Type": "Pass", "Result": "left", "End": True}}},
            {"StartAt": "Call", "States": {"Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                                                    "Parameters": {"FunctionName": "{double}", "Payload": {"value": 100}},
                                                    "OutputPath": "$.Payload", "End": True}}},
        ]},
        "Each": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2, "ResultPath": "$.mapped", "Next": "Done",
                 "ItemSelector": {"value.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index"},
                 "ItemProcessor": {"StartAt": "Inner", "States": {
                     "Inner": {"Type": "Parallel", "End": True, "Branches": [
                         {"StartAt": "D", "States": {"D": {"Type": "Task", "Resource": "swell:function:{double}", "End": True}}},
                         {"StartAt": "I", "States": {"I": {"Type": "Pass", "InputPath": "$.index", "End": True}}},
                     ]}}}},
        "Done": {"Type": "Pass", "Parameters": {"doubled.$": "$.doubled", "both.$": "$.both", "mapped.$": "$.mapped"},
                 "Next": "End"},
        "End": {"Type": "Succeed"},
    },
}


def with_functions(definition, **names):
    return json.loads(json.dumps(definition).replace("{double}", names["double"]))


def test_every_state_type_and_nested_parallel_in_map(swell, app_dir, unique):
    fn, wf = unique("double"), unique("all-states")
    swell.deploy(app_dir, {fn: node_fn(DOUBLE)})
    put_workflow(swell, wf, with_functions(ALL_STATES, double=fn))
    r = start(swell, wf, {"start": 7, "items": [1, 2, 3]}, name="big", wait=True)
    assert r.status_code == 200, r.text
    e = r.json()["execution"]
    assert e["status"] == "SUCCEEDED", e
    assert e["output"] == {"doubled": {"value": 14}, "both": ["left", {"value": 200}],
                           "mapped": [[{"value": 2}, 0], [{"value": 4}, 1], [{"value": 6}, 2]]}
    events = history(swell, wf, "big")
    check_history(events)
    types = {ev["type"] for ev in events}
    for t in ("PassStateEntered", "TaskStateEntered", "TaskScheduled", "TaskSucceeded", "ChoiceStateEntered",
              "WaitStateEntered", "WaitStateExited", "ParallelStateStarted", "ParallelStateSucceeded", "MapStateStarted",
              "MapIterationStarted", "MapIterationSucceeded", "MapStateSucceeded", "SucceedStateEntered"):
        assert t in types, t
    assert sum(ev["type"] == "MapIterationSucceeded" for ev in events) == 3
    # The Fail state: too small.
    r = start(swell, wf, {"start": 2, "items": []}, name="small", wait=True)
    e = r.json()["execution"]
    assert e["status"] == "FAILED" and e["error"] == "TooSmall" and "10 or less" in e["cause"]
    check_history(history(swell, wf, "small"), last="ExecutionFailed")
    # Listing by status, paged.
    page = swell.api("GET", f"/v1/namespaces/default/workflows/{wf}/executions", params={"status": "FAILED"}).json()
    assert [x["name"] for x in page["executions"]] == ["small"]
    page = swell.api("GET", f"/v1/namespaces/default/workflows/{wf}/executions", params={"limit": 1}).json()
    assert len(page["executions"]) == 1 and page["nextCursor"]
    rest = swell.api("GET", f"/v1/namespaces/default/workflows/{wf}/executions",
                     params={"limit": 1, "cursor": page["nextCursor"]}).json()
    assert {page["executions"][0]["name"], rest["executions"][0]["name"]} == {"big", "small"}


def test_a_node_type_error_is_caught_by_its_error_type_and_a_timeout_is_states_timeout(swell, app_dir, unique):
    boom, slow, wf = unique("boom"), unique("slow"), unique("errors")
    swell.deploy(app_dir, {boom: node_fn(BOOM), slow: node_fn(SLOW, timeout=30)})
    put_workflow(swell, wf, {
        "StartAt": "Boom",
        "States": {
            "Boom": {"Type": "Task", "Resource": f"swell:function:{boom}", "Next": "Unreached",
                     "Catch": [{"ErrorEquals": ["RangeError"], "Next": "Unreached"},
                               {"ErrorEquals": ["TypeError"], "ResultPath": "$.typeError", "Next": "Slow"}]},
            "Unreached": {"Type": "Fail", "Error": "Wrong"},
            "Slow": {"Type": "Task", "Resource": f"swell:function:{slow}", "TimeoutSeconds": 1,
                     "Parameters": {"ms": 5000}, "ResultPath": "$.late",
                     "Catch": [{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.timeout", "Next": "Ok"}], "End": True},
            "Ok": {"Type": "Succeed"},
        },
    })
    t0 = time.monotonic()
    e = start(swell, wf, {"x": 1}, name="e1", wait=True).json()["execution"]
    assert e["status"] == "SUCCEEDED", e
    assert e["output"]["typeError"]["Error"] == "TypeError"
    assert "null" in json.loads(e["output"]["typeError"]["Cause"])["errorMessage"]
    assert e["output"]["timeout"]["Error"] == "States.Timeout"
    assert time.monotonic() - t0 < 5, "the timeout did not cut the 5 s task short"
    types = [ev["type"] for ev in history(swell, wf, "e1")]
    assert "TaskFailed" in types and "TaskTimedOut" in types


def test_a_callback_task_completes_through_the_api_and_the_cli(swell, app_dir, unique):
    fn, wf = unique("notify"), unique("callback")
    swell.deploy(app_dir, {fn: node_fn(ECHO)})
    put_workflow(swell, wf, {
        "StartAt": "Ask",
        "States": {"Ask": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                           "Parameters": {"FunctionName": fn, "Payload": {"token.$": "$$.Task.Token", "q": "approve?"}},
                           "HeartbeatSeconds": 60, "ResultPath": "$.answer", "End": True}},
    })
    for name, via_cli in (("api", False), ("cli", True)):
        assert start(swell, wf, {"n": name}, name=name).status_code == 201
        token = None
        deadline = time.monotonic() + 30
        while token is None and time.monotonic() < deadline:
            for ev in history(swell, wf, name):
                if ev["type"] == "TaskSubmitted":
                    token = ev["output"]["token"]
            time.sleep(0.1)
        assert token, "the function was not called with a token"
        assert describe(swell, wf, name)["status"] == "RUNNING"
        hb = swell.api("POST", "/v1/namespaces/default/workflow-tasks/heartbeat", json_body={"taskToken": token})
        assert hb.status_code == 200, hb.text
        if via_cli:
            swell.cli("tasks", "send-success", token, "--output", '{"approved": "cli"}').ok()
        else:
            r = swell.api("POST", "/v1/namespaces/default/workflow-tasks/success",
                          json_body={"taskToken": token, "output": {"approved": "api"}})
            assert r.status_code == 200, r.text
        e = wait_end(swell, wf, name, timeout=30)
        assert e["status"] == "SUCCEEDED" and e["output"] == {"n": name, "answer": {"approved": name}}
        again = swell.api("POST", "/v1/namespaces/default/workflow-tasks/success", json_body={"taskToken": token, "output": {}})
        assert again.status_code == 404
    bad = swell.api("POST", "/v1/namespaces/default/workflow-tasks/success", json_body={"taskToken": "nope"})
    assert bad.status_code == 404


def test_names_are_unique_and_definitions_are_validated_with_their_path(swell, app_dir, unique):
    wf = unique("names")
    put_workflow(swell, wf, {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    first = start(swell, wf, {"a": 1, "b": [1, 2]}, name="once")
    assert first.status_code == 201
    same = start(swell, wf, {"b": [1, 2], "a": 1}, name="once")
    assert same.status_code == 200 and same.json()["execution"]["startDate"] == first.json()["execution"]["startDate"]
    other = start(swell, wf, {"a": 2}, name="once")
    assert other.status_code == 409, other.text
    assert start(swell, "no-such-workflow", {}).status_code == 404
    assert start(swell, wf, {}, name="bad name!").status_code == 400

    bad = swell.api("PUT", f"/v1/namespaces/default/workflows/{wf}", json_body={"definition": {
        "StartAt": "Grade", "States": {"Grade": {"Type": "Pass", "Next": "Grad"}}}})
    assert bad.status_code == 400
    assert bad.json()["error"]["field"] == "definition.States.Grade.Next"
    assert 'definition.States.Grade.Next: no state named "Grad"' in bad.json()["error"]["message"]
    # The stored definition is unchanged.
    got = swell.api("GET", f"/v1/namespaces/default/workflows/{wf}").json()["workflow"]
    assert got["definition"]["States"]["P"]["Type"] == "Pass" and got["revision"] == 1

    # The manifest: workflows: beside functions:, validated with the path, idempotent.
    fn = unique("grader")
    write_app(app_dir, {fn: node_fn(DOUBLE)})
    manifest = json.loads((app_dir / "swell.yaml").read_text())
    manifest["workflows"] = {"grade-set": {"definition": {"StartAt": "Grade", "States": {
        "Grade": {"Type": "Task", "Resource": f"swell:function:{fn}", "Next": "Grad"}, "Done": {"Type": "Succeed"}}}}}
    (app_dir / "swell.yaml").write_text(json.dumps(manifest))
    res = swell.cli("deploy", str(app_dir))
    assert res.code != 0
    assert 'workflows.grade-set.States.Grade.Next: no state named "Grad"' in res.stderr, res.stderr
    assert "workflows.grade-set.States.Done: state is not reachable from StartAt" in res.stderr, res.stderr
    (app_dir / "flow.yaml").write_text(
        f"StartAt: Grade\nStates:\n  Grade:\n    Type: Task\n    Resource: swell:function:{fn}\n    End: true\n")
    manifest["workflows"] = {"grade-set-" + fn: {"definitionFile": "flow.yaml"}}
    (app_dir / "swell.yaml").write_text(json.dumps(manifest))
    first_deploy = swell.cli("deploy", str(app_dir)).ok()
    assert f"workflow grade-set-{fn}: created" in first_deploy.stdout
    assert f"workflow grade-set-{fn}: unchanged" in swell.cli("deploy", str(app_dir)).ok().stdout
    out = swell.cli("start", f"grade-set-{fn}", "--input", '{"value": 4}', "--wait").ok().stdout
    assert json.loads(out) == {"value": 8}
    assert f"grade-set-{fn}" in swell.cli("workflows", "list").ok().stdout
    hist = swell.cli("executions", "list", f"grade-set-{fn}").ok().stdout
    assert "SUCCEEDED" in hist


def test_stop_and_redrive(swell, app_dir, unique):
    fn, wf = unique("flaky"), unique("redrive")
    # Fails until it is redeployed with MODE=ok: the execution fails, a redrive after the fix succeeds.
    src = ("exports.handler = async (e) => { if (process.env.MODE !== 'ok') "
           "{ const err = new Error('not yet'); err.name = 'NotYet'; throw err; } return 'ok'; };")
    swell.deploy(app_dir, {fn: node_fn(src, environment={"MODE": "fail"})})
    put_workflow(swell, wf, {"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Result": 1, "Next": "B"},
        "B": {"Type": "Task", "Resource": f"swell:function:{fn}", "End": True}}})
    e = start(swell, wf, {}, name="r1", wait=True).json()["execution"]
    assert e["status"] == "FAILED" and e["error"] == "NotYet", e
    swell.deploy(app_dir, {fn: node_fn(src, environment={"MODE": "ok"})})
    r = swell.api("POST", f"/v1/namespaces/default/workflows/{wf}/executions/r1/redrive")
    assert r.status_code == 202, r.text
    e = wait_end(swell, wf, "r1", timeout=30)
    assert e["status"] == "SUCCEEDED" and e["redriveCount"] == 1 and e["output"] == "ok", e
    events = history(swell, wf, "r1")
    check_history(events)
    # A pass state before the failure ran once; the failed task ran again.
    assert sum(ev["type"] == "PassStateEntered" for ev in events) == 1
    assert swell.api("POST", f"/v1/namespaces/default/workflows/{wf}/executions/r1/redrive").status_code == 409
    # Stop.
    put_workflow(swell, wf + "-w", {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}})
    assert start(swell, wf + "-w", {}, name="s1").status_code == 201
    r = swell.api("POST", f"/v1/namespaces/default/workflows/{wf}-w/executions/s1/stop", json_body={"error": "Manual", "cause": "test"})
    assert r.status_code == 200 and r.json()["execution"]["status"] == "ABORTED"
    again = swell.api("POST", f"/v1/namespaces/default/workflows/{wf}-w/executions/s1/stop")
    assert again.status_code == 409
    check_history(history(swell, wf + "-w", "s1"), last="ExecutionAborted")
    assert swell.api("DELETE", f"/v1/namespaces/default/workflows/{wf}-w").status_code == 204
    metrics = swell.api("GET", "/v1/metrics").text
    assert "swell_workflow_executions_started_total" in metrics and "swell_workflow_journal_commit_seconds_total" in metrics


def test_kill_9_during_a_map_of_2000_and_a_30s_wait_then_restart(make_server, tmp_path):
    srv = make_server(tmp_path / "data")
    swell = srv.client()
    # The restart cold-starts up to 50 instances at once on 2 cores: the test is about
    # durability, so the function's timeout must not be what a loaded machine trips over.
    # Each square takes 40 ms, so the Map lasts at least 2000 / 50 × 40 ms = 1.6 s: long enough to
    # be killed in the middle of.
    slow_square = "exports.handler = async (n) => { await new Promise(r => setTimeout(r, 40)); return n * n; };"
    swell.deploy(tmp_path / "app", {"square": node_fn(slow_square, timeout=30)})
    put_workflow(swell, "big-map", {"StartAt": "M", "States": {"M": {
        "Type": "Map", "MaxConcurrency": 50, "End": True,
        "ItemProcessor": {"StartAt": "Sq", "States": {"Sq": {"Type": "Task", "Resource": "swell:function:square", "End": True}}}}}})
    put_workflow(swell, "long-wait", {"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 30, "Next": "After"}, "After": {"Type": "Pass", "Result": "woke", "End": True}}})
    items = list(range(2000))
    waited_from = time.monotonic()
    assert start(swell, "long-wait", {}, name="w").status_code == 201
    assert start(swell, "big-map", items, name="m").status_code == 201
    # Kill in the middle of the Map.
    # The history is read on from where the last poll stopped (re-reading thousands of events
    # each time let the whole Map finish between two polls once).
    deadline, done, cursor = time.monotonic() + 120, 0, "0"
    while time.monotonic() < deadline and done < 300:
        page = swell.api("GET", "/v1/namespaces/default/workflows/big-map/executions/m/history",
                         params={"cursor": cursor, "limit": 1000}).json()
        done += sum(e["type"] == "MapIterationSucceeded" for e in page["events"])
        if page["nextCursor"] is not None:
            cursor = page["nextCursor"]
        else:
            cursor = str(page["events"][-1]["id"]) if page["events"] else cursor
            time.sleep(0.05)
    assert 300 <= done < 2000, f"{done} iterations done before the kill"
    os.kill(srv.pid, signal.SIGKILL)
    srv.proc.wait()
    srv.start()
    swell = srv.client()
    m = wait_end(swell, "big-map", "m", timeout=180)
    assert m["status"] == "SUCCEEDED", m
    assert m["output"] == [i * i for i in items]
    events = history(swell, "big-map", "m")
    check_history(events)
    assert sum(e["type"] == "MapIterationSucceeded" for e in events) == 2000
    assert sum(e["type"] == "MapIterationStarted" for e in events) == 2000
    assert sum(e["type"] == "TaskSucceeded" for e in events) == 2000
    w = wait_end(swell, "long-wait", "w", timeout=60)
    assert w["status"] == "SUCCEEDED" and w["output"] == "woke"
    assert time.monotonic() - waited_from >= 29.5
    check_history(history(swell, "long-wait", "w"))


def test_the_homework_grade_set_example(swell, tmp_path):
    """examples/homework's grade-set: Map over the pages, a retried flaky fetch, grading, a summary,
    and the teacher notified of the incomplete pages; `swell start --wait` and the history via the CLI."""
    import shutil
    example = Path(__file__).resolve().parents[2] / "examples" / "homework"
    d = tmp_path / "homework"
    shutil.copytree(example, d, ignore=shutil.ignore_patterns("node_modules", "test"))
    out = swell.cli("deploy", str(d)).ok().stdout
    assert "workflow grade-set:" in out, out
    name = f"7b-{time.monotonic_ns()}"
    res = swell.cli("start", "grade-set", "--input", (d / "class-7b.json").read_text(), "--name", name, "--wait", timeout=300).ok()
    summary = json.loads(res.stdout)
    assert summary["pages"] == 6 and summary["complete"] == 4, summary
    assert summary["incomplete"] == ["ben", "dee"] and summary["notified"]["sent"] is True, summary
    events = history(swell, "grade-set", name)
    check_history(events)
    assert sum(e["type"] == "MapIterationSucceeded" for e in events) == 6
    assert any(e["type"] == "TaskStateEntered" and e["name"] == "NotifyTeacher" for e in events)
    table = swell.cli("executions", "history", "grade-set", name).ok().stdout
    assert "MapIterationStarted" in table and "ExecutionSucceeded" in table


def test_a_graceful_restart_during_a_task_neither_fails_nor_loses_it(make_server, tmp_path):
    """SIGTERM while a task runs: the interrupted invocation is not recorded as a failure; after
    the restart it runs again and the execution succeeds."""
    srv = make_server(tmp_path / "data")
    swell = srv.client()
    swell.deploy(tmp_path / "app", {"slowish": node_fn(
        "exports.handler = async (e) => { await new Promise(r => setTimeout(r, 2000)); return { done: e.n }; };", timeout=10)})
    put_workflow(swell, "restart", {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "swell:function:slowish", "End": True}}})
    assert start(swell, "restart", {"n": 5}, name="r").status_code == 201
    deadline = time.monotonic() + 30
    while not any(e["type"] == "TaskScheduled" for e in history(swell, "restart", "r")):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    srv.stop()
    srv.start()
    swell = srv.client()
    e = wait_end(swell, "restart", "r", timeout=60)
    assert e["status"] == "SUCCEEDED" and e["output"] == {"done": 5}, e
    events = history(swell, "restart", "r")
    check_history(events)
    assert not any(ev["type"] == "TaskFailed" for ev in events), events


def test_versions_and_aliases(swell, unique):
    wf = unique("versioned")
    put_workflow(swell, wf, {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "v1", "End": True}}})
    assert swell.cli("workflows", "publish", wf).ok().stdout.strip() == "1"
    again = swell.api("POST", f"/v1/namespaces/default/workflows/{wf}/versions", json_body={})
    assert again.status_code == 200 and again.json()["version"]["version"] == "1"
    put_workflow(swell, wf, {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "v2", "End": True}}})
    assert swell.cli("workflows", "alias", wf, "live", "1").ok()
    assert json.loads(swell.cli("start", f"{wf}:live", "--wait").ok().stdout) == "v1"
    assert json.loads(swell.cli("start", wf, "--wait").ok().stdout) == "v2"
    r = start(swell, wf, {}, name="pinned", wait=True, ns="default")
    assert r.json()["execution"]["version"] == "$LATEST"
    r = swell.api("POST", f"/v1/namespaces/default/workflows/{wf}/executions", params={"qualifier": "1", "wait": "true"},
                  json_body={"name": "one"})
    assert r.status_code == 200 and r.json()["execution"]["version"] == "1" and r.json()["execution"]["output"] == "v1"
    assert swell.api("POST", f"/v1/namespaces/default/workflows/{wf}/executions", params={"qualifier": "7"}, json_body={}).status_code == 404
    assert swell.api("PUT", f"/v1/namespaces/default/workflows/{wf}/aliases/live", json_body={"version": "9"}).status_code == 400
    versions = swell.api("GET", f"/v1/namespaces/default/workflows/{wf}/versions").json()["versions"]
    assert [v["version"] for v in versions] == ["1"]
    aliases = swell.api("GET", f"/v1/namespaces/default/workflows/{wf}/aliases").json()["aliases"]
    assert aliases == [{"workflow": wf, "name": "live", "version": "1", "additionalVersionWeights": {}}]
    assert swell.api("DELETE", f"/v1/namespaces/default/workflows/{wf}/aliases/live").status_code == 204
    assert swell.api("POST", f"/v1/namespaces/default/workflows/{wf}/executions", params={"qualifier": "live"}, json_body={}).status_code == 404


def test_an_async_destination_starts_a_workflow(swell, app_dir, unique):
    fn, wf = unique("source"), unique("after")
    put_workflow(swell, wf, {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {
        "condition.$": "$.requestContext.condition", "result.$": "$.responsePayload"}, "End": True}}})
    swell.deploy(app_dir, {fn: node_fn("exports.handler = async (e) => ({ got: e.n });", **{"async": {"onSuccess": {"workflow": wf}}})})
    r = swell.api("POST", f"/v1/namespaces/default/functions/{fn}/invoke", params={"mode": "async"}, json_body={"n": 3})
    assert r.status_code == 202, r.text
    deadline = time.monotonic() + 30
    executions = []
    while time.monotonic() < deadline:
        executions = swell.api("GET", f"/v1/namespaces/default/workflows/{wf}/executions").json()["executions"]
        if executions and executions[0]["status"] != "RUNNING":
            break
        time.sleep(0.1)
    assert len(executions) == 1, executions
    e = describe(swell, wf, executions[0]["name"])
    assert e["status"] == "SUCCEEDED" and e["output"] == {"condition": "Success", "result": {"got": 3}}, e


def test_a_task_cannot_reach_a_function_of_another_namespace(swell, tmp_path):
    """A Task's Resource names a function of the workflow's own namespace: an ARN whose account
    is another namespace does not reach that namespace's function."""
    swell.deploy(tmp_path / "other", {"secret": node_fn("exports.handler = async () => 'other-namespace-secret';")}, namespace="wf-other")
    wf = "cross-ns"
    put_workflow(swell, wf, {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:lambda:swell:wf-other:function:secret", "End": True}}})
    r = start(swell, wf, {}, name="try", wait=True)
    assert r.status_code in (200, 202), r.text
    e = wait_end(swell, wf, "try", timeout=60)
    assert e["status"] == "FAILED", e
    assert "other-namespace-secret" not in json.dumps(e)
