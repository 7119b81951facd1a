"""Triggers that start workflows: a timer and an object-store trigger declared under
`workflows.NAME.triggers` start executions with the event as input; a fire or a
notification delivered twice starts one execution (the name derives from the event's
identity); pause and resume work as for functions' triggers; deploy validates the triggers
with their path."""

from __future__ import annotations

import json
import time

from swell_e2e import node_fn, write_app

ECHO = "exports.handler = async (e) => e;"
NS = "default"


def executions(client, wf):
    r = client.api("GET", f"/v1/namespaces/{NS}/workflows/{wf}/executions", params={"limit": 1000})
    assert r.status_code == 200, r.text
    return r.json()["executions"]


def describe(client, wf, name):
    r = client.api("GET", f"/v1/namespaces/{NS}/workflows/{wf}/executions/{name}")
    assert r.status_code == 200, r.text
    return r.json()["execution"]


def wait_executions(client, wf, count, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        found = executions(client, wf)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def deploy_with_workflow(client, app_dir, fn, wf, triggers, check=True):
    write_app(app_dir, {fn: node_fn(ECHO)})
    manifest = json.loads((app_dir / "swell.yaml").read_text())
    manifest["workflows"] = {wf: {
        "definition": {"StartAt": "Echo", "States": {"Echo": {"Type": "Task", "Resource": f"swell:function:{fn}", "End": True}}},
        "triggers": triggers}}
    (app_dir / "swell.yaml").write_text(json.dumps(manifest))
    res = client.cli("deploy", str(app_dir))
    return res.ok() if check else res


def test_a_timer_starts_executions_and_pauses(swell, app_dir, unique):
    fn, wf = unique("echo"), unique("tick")
    deploy_with_workflow(swell, app_dir, fn, wf, [{"type": "timer", "cron": "*/1 * * * * *", "payload": {"job": "sweep"}}])
    got = swell.api("GET", f"/v1/namespaces/{NS}/workflows/{wf}").json()["workflow"]
    assert got["triggers"][0]["type"] == "timer" and got["triggers"][0]["name"] == "timer", got

    started = wait_executions(swell, wf, 2)
    assert len(started) >= 2, started
    names = [e["name"] for e in started]
    assert len(set(names)) == len(names), names
    assert all(n.startswith("timer-timer-20") for n in names), names
    # Each execution runs the workflow with the timer's payload as input.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        e = describe(swell, wf, names[-1])
        if e["status"] != "RUNNING":
            break
        time.sleep(0.2)
    assert e["status"] == "SUCCEEDED" and e["output"] == {"job": "sweep"} and e["input"] == {"job": "sweep"}, e

    # The trigger's status names the workflow; pause and resume as a function's (API and CLI).
    r = swell.api("GET", f"/v1/namespaces/{NS}/workflows/{wf}/triggers/timer")
    assert r.status_code == 200, r.text
    status = r.json()
    assert status["workflow"] == wf and status["function"] is None and status["state"] == "running", status
    assert status["counters"]["invocations"] >= 2, status
    listed = swell.api("GET", f"/v1/namespaces/{NS}/triggers", params={"workflow": wf}).json()["triggers"]
    assert [t["name"] for t in listed] == ["timer"], listed
    out = swell.cli("triggers", "pause", wf, "--workflow").ok().stdout
    assert out.strip() == f"{wf}/timer paused", out
    time.sleep(0.5)  # a start under way when the pause came may still land
    count = len(executions(swell, wf))
    time.sleep(2.5)
    assert len(executions(swell, wf)) == count, "no execution while paused"
    assert "workflow:" + wf in swell.cli("triggers", "list").ok().stdout
    out = swell.cli("triggers", "resume", wf, "timer", "--workflow").ok().stdout
    assert out.strip() == f"{wf}/timer running", out
    assert len(wait_executions(swell, wf, count + 1)) > count

    # Removing the trigger (redeploy without it) stops it.
    deploy_with_workflow(swell, app_dir, fn, wf, [])
    time.sleep(1.5)
    count = len(executions(swell, wf))
    time.sleep(2.0)
    assert len(executions(swell, wf)) == count
    r = swell.api("GET", f"/v1/namespaces/{NS}/workflows/{wf}/triggers/timer")
    assert r.status_code == 404, r.text


def s3_record(bucket, key, sequencer="0055AED6DCD90281E5"):
    return {
        "eventVersion": "2.0", "eventSource": "minio:s3", "eventTime": "2026-11-21T20:00:00.000Z",
        "eventName": "s3:ObjectCreated:Put",
        "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 1024, "eTag": "d41d8", "sequencer": sequencer}},
    }


def test_an_object_notification_starts_one_execution_however_often_delivered(swell, app_dir, unique):
    fn, wf, bucket = unique("echo"), unique("pages"), unique("scans")
    deploy_with_workflow(swell, app_dir, fn, wf, [{"type": "object-store", "bucket": bucket, "prefix": "in/"}])
    time.sleep(1.0)  # the trigger manager picks the new trigger up within half a second
    rec = s3_record(bucket, "in/page-1.png")
    r = swell.api("POST", f"/v1/namespaces/{NS}/object-events", json_body={"Records": [rec]})
    assert r.status_code == 202, r.text
    out = r.json()
    assert out["matched"] == 1 and len(out["tasks"]) == 1 and out["errors"] == [], out
    # Delivered again (S3 retries a webhook): the same execution, no second one.
    again = swell.api("POST", f"/v1/namespaces/{NS}/object-events", json_body={"Records": [rec]}).json()
    assert again["tasks"] == out["tasks"], again
    listed = executions(swell, wf)
    assert len(listed) == 1, listed
    name = listed[0]["name"]
    assert name.startswith("object-store-object-store-"), name
    deadline = time.monotonic() + 30
    while (e := describe(swell, wf, name))["status"] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert e["status"] == "SUCCEEDED" and e["output"] == {"Records": [rec]}, e
    # Another object: another execution; a record that does not match: none.
    swell.api("POST", f"/v1/namespaces/{NS}/object-events", json_body={"Records": [s3_record(bucket, "in/page-2.png", "0055AED6DCD90281E6")]})
    miss = swell.api("POST", f"/v1/namespaces/{NS}/object-events", json_body={"Records": [s3_record(bucket, "out/x.png")]}).json()
    assert miss["matched"] == 0, miss
    assert len(executions(swell, wf)) == 2


def test_deploy_validates_workflow_triggers_with_their_path(swell, app_dir, unique):
    fn, wf = unique("echo"), unique("bad")
    res = deploy_with_workflow(swell, app_dir, fn, wf, [{"type": "timer", "cron": "61 * * * * *"}], check=False)
    assert res.code != 0 and f"workflows.{wf}.triggers[0].cron" in res.stderr, res.stderr
    res = deploy_with_workflow(swell, app_dir, fn, wf, [
        {"type": "kafka", "brokers": ["127.0.0.1:9"], "topics": ["t"], "resultTopic": "out"}], check=False)
    assert res.code != 0 and f"workflows.{wf}.triggers[0].resultTopic" in res.stderr, res.stderr
    # Through the API: the field is named, an unknown qualifier is refused.
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    r = swell.api("PUT", f"/v1/namespaces/{NS}/workflows/{wf}", json_body={
        "definition": definition, "triggers": [{"type": "timer", "cron": "0 0 0 1 1 *", "qualifier": "live"}]})
    assert r.status_code == 400 and r.json()["error"]["field"] == "triggers[0].qualifier", r.text
    r = swell.api("PUT", f"/v1/namespaces/{NS}/workflows/{wf}", json_body={"definition": definition, "triggers": "timer"})
    assert r.status_code == 400 and r.json()["error"]["field"] == "triggers", r.text
    r = swell.api("PUT", f"/v1/namespaces/{NS}/workflows/{wf}", json_body={
        "definition": definition, "triggers": [{"type": "timer", "cron": "0 0 0 1 1 *"}]})
    assert r.status_code == 201, r.text
    # The same again is unchanged; other triggers are a change of the same revision.
    r = swell.api("PUT", f"/v1/namespaces/{NS}/workflows/{wf}", json_body={
        "definition": definition, "triggers": [{"type": "timer", "cron": "0 0 0 1 1 *"}]})
    assert r.status_code == 200 and r.json()["workflow"]["changed"] is False, r.text
    r = swell.api("PUT", f"/v1/namespaces/{NS}/workflows/{wf}", json_body={"definition": definition})
    assert r.json()["workflow"]["changed"] is True and r.json()["workflow"]["revision"] == 1, r.text
    assert "triggers" not in swell.api("GET", f"/v1/namespaces/{NS}/workflows/{wf}").json()["workflow"]
