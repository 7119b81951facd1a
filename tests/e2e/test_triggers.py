"""Triggers: timers (fires as idempotent async tasks, pause/resume kept across restarts,
missedFires once vs skip), S3-style object-store notifications, manifest validation, the
triggers API and `swell triggers`. Kafka triggers against a broker are in
test_kafka_trigger.py; here a Kafka trigger only meets an unreachable broker."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import pytest

from swell_e2e import function_info, node_fn, write_files

ECHO = "exports.handler = async (e) => ({ echo: e });"
NS = "default"


# ---- helpers -----------------------------------------------------------------

def ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def tasks_of(client, name: str) -> list[dict]:
    """Every task of `name`, oldest first."""
    r = client.api("GET", f"/v1/namespaces/{NS}/tasks", params={"function": name, "limit": 1000})
    assert r.status_code == 200, r.text
    return sorted(r.json()["tasks"], key=lambda t: (t["createdAt"], t["id"]))


def scheduled(task: dict) -> float:
    """The scheduled time of a timer fire, from its idempotency key `timer:NAME@TIME`."""
    key = task["idempotencyKey"]
    assert key and key.startswith("timer:") and "@" in key, task
    return ts(key.split("@", 1)[1])


def wait_tasks(client, name: str, count: int, timeout: float = 20, since: float | None = None) -> list[dict]:
    """Waits until `name` has `count` tasks (created after `since` when given)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [t for t in tasks_of(client, name) if since is None or ts(t["createdAt"]) >= since]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def trigger(client, name: str, trigger_name: str) -> dict:
    r = client.api("GET", f"/v1/namespaces/{NS}/functions/{name}/triggers/{trigger_name}")
    assert r.status_code == 200, r.text
    return r.json()


def timer_fn(cron: str = "*/1 * * * * *", **timer) -> dict:
    return node_fn(ECHO, triggers=[{"type": "timer", "cron": cron, **timer}])


# ---- timers --------------------------------------------------------------------

def test_timer_fires_tasks_with_its_payload_and_pause_and_resume(make_server, tmp_path, unique):
    srv = make_server()
    c = srv.client()
    name = unique("tick")
    c.deploy(tmp_path / "app", {name: timer_fn(payload={"job": "sweep", "n": 3})})

    fired = wait_tasks(c, name, 3)
    assert len(fired) >= 3, fired
    for t in fired:
        assert t["payload"] == {"job": "sweep", "n": 3}, t
        assert t["qualifier"] == "$LATEST"
        assert t["idempotencyKey"].startswith("timer:timer@"), t
        # Enqueued at (or just after) its scheduled time.
        assert -0.1 <= ts(t["createdAt"]) - scheduled(t) < 3, t
    times = [scheduled(t) for t in fired]
    assert len(set(times)) == len(times), "one task per fire"
    # Every second (a fire enqueued late on a loaded machine may make the timer skip one tick).
    assert all(b - a >= 1 for a, b in zip(times, times[1:])), times
    assert times[-1] - times[0] <= 2 * (len(times) - 1), times
    # The tasks run the function with the payload as the event.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        done = c.api("GET", f"/v1/namespaces/{NS}/tasks/{fired[0]['id']}").json()["task"]
        if done["state"] == "succeeded":
            break
        time.sleep(0.1)
    assert done["state"] == "succeeded" and done["result"] == {"echo": {"job": "sweep", "n": 3}}, done

    # Status: last and next fire, counters.
    status = json.loads(c.cli("triggers", "get", name, "--json").ok().stdout)
    assert status["type"] == "timer" and status["name"] == "timer" and status["state"] == "running", status
    assert status["function"] == name and status["namespace"] == NS and status["qualifier"] == "$LATEST"
    last, nxt = ts(status["timer"]["lastFire"]), ts(status["timer"]["nextFire"])
    assert nxt > last and nxt - time.time() <= 1.5, status
    assert status["counters"]["events"] >= 3 and status["counters"]["invocations"] >= 3, status
    shown = c.cli("triggers", "get", name).ok().stdout
    assert f"trigger   {name}/timer (timer → $LATEST)" in shown, shown
    assert "state     running" in shown and "last fire 20" in shown and "next fire 20" in shown, shown

    # Pause: no fire after it.
    out = c.cli("triggers", "pause", name).ok().stdout
    assert out.strip() == f"{name}/timer paused", out
    paused_at = time.time()
    status = trigger(c, name, "timer")
    assert status["state"] == "paused" and status["timer"].get("nextFire") is None, status
    assert "next fire -" in c.cli("triggers", "get", name).ok().stdout
    time.sleep(3.2)
    during = [t for t in tasks_of(c, name) if scheduled(t) > paused_at]
    assert during == [], during

    # Resume: fires again, and none of the fires due while paused are made up.
    resumed_at = time.time()
    out = c.cli("triggers", "resume", name, "timer").ok().stdout
    assert out.strip() == f"{name}/timer running", out
    after = wait_tasks(c, name, 2, since=resumed_at)
    assert len(after) >= 2, after
    all_times = [scheduled(t) for t in tasks_of(c, name)]
    assert not [s for s in all_times if paused_at < s < resumed_at], all_times


def test_pause_survives_restarts_and_redeploys(make_server, tmp_path, unique):
    srv = make_server()
    c = srv.client()
    name = unique("sleepy")
    app = tmp_path / "app"
    c.deploy(app, {name: timer_fn(payload={"v": 1})})
    assert len(wait_tasks(c, name, 1)) >= 1
    c.cli("triggers", "pause", name).ok()
    time.sleep(0.5)  # a fire in flight at the pause lands first

    srv.restart()
    c = srv.client()
    assert trigger(c, name, "timer")["state"] == "paused"
    # A redeploy that changes the trigger restarts it, still paused.
    c.deploy(app, {name: timer_fn(payload={"v": 2})})
    time.sleep(1)  # the manager picks up the change within half a second
    status = trigger(c, name, "timer")
    assert status["state"] == "paused" and status["config"]["payload"] == {"v": 2}, status
    quiet_from = time.time()
    time.sleep(2.5)
    assert wait_tasks(c, name, 1, timeout=0, since=quiet_from) == []

    c.cli("triggers", "resume", name).ok()
    resumed = wait_tasks(c, name, 1, since=quiet_from)
    assert resumed and resumed[0]["payload"] == {"v": 2}, resumed

    # enabled: false creates a trigger paused; the API's switch, once set, wins over it.
    other = unique("disabled")
    c.deploy(app, {name: timer_fn(payload={"v": 2}), other: timer_fn(enabled=False)})
    time.sleep(1)
    assert trigger(c, other, "timer")["state"] == "paused"
    assert trigger(c, name, "timer")["state"] == "running"


def test_missed_fires_once_gives_one_catch_up_and_skip_none(make_server, tmp_path, unique):
    srv = make_server()
    c = srv.client()
    once, skip = unique("once"), unique("skip")
    c.deploy(tmp_path / "app", {once: timer_fn("*/2 * * * * *", missedFires="once"),
                                skip: timer_fn("*/2 * * * * *", missedFires="skip")})
    # Both fired before the stop, so both have a stored last fire.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if all(trigger(c, f, "timer").get("timer", {}).get("lastFire") for f in (once, skip)):
            break
        time.sleep(0.2)
    else:
        pytest.fail("the timers did not fire")
    srv.stop()
    stopped_at = time.time()
    time.sleep(7)  # at least three fires are due while the server is down
    restarted_at = time.time()
    srv.start()
    c = srv.client()

    def split(f):
        """(tasks created before the stop, tasks created after the restart)"""
        all_tasks = tasks_of(c, f)
        return ([t for t in all_tasks if ts(t["createdAt"]) < restarted_at],
                [t for t in all_tasks if ts(t["createdAt"]) >= restarted_at])

    # Wait for two regular fires of the skip timer after the restart.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        pre_skip, post_skip = split(skip)
        if len(post_skip) >= 2:
            break
        time.sleep(0.2)
    pre_once, post_once = split(once)
    skip_times = sorted(scheduled(t) for t in post_skip)
    once_times = sorted(scheduled(t) for t in post_once)
    assert pre_skip and pre_once
    last_before = {once: max(scheduled(t) for t in pre_once), skip: max(scheduled(t) for t in pre_skip)}
    assert all(s < stopped_at for s in last_before.values())
    assert len(skip_times) >= 2, post_skip
    first_regular = skip_times[0]
    assert first_regular > restarted_at, (skip_times, restarted_at)
    # skip: the fires due while down are forgotten (there were at least two).
    assert (first_regular - last_before[skip]) / 2 - 1 >= 2, (last_before[skip], skip_times)
    assert all(b - a == 2 for a, b in zip(skip_times, skip_times[1:])), skip_times
    # once: exactly one catch-up task, for the latest fire due while down (the tick right
    # before its own first regular fire), then the regular ones every 2 s. The two timers start
    # at about the same moment after the restart, but on a loaded machine a 2 s tick can fall
    # between their starts, so once's first regular fire is the skip timer's or the one before.
    assert len(once_times) >= 2, post_once
    catch_up, regular = once_times[0], once_times[1:]
    assert all(b - a == 2 for a, b in zip(regular, regular[1:])), once_times
    assert catch_up == regular[0] - 2, (last_before[once], once_times, skip_times)
    assert regular[0] in (first_regular - 2, first_regular), (once_times, skip_times)
    if regular[0] == first_regular:
        # The usual case: the tick before the skip timer's first is once's one catch-up.
        assert [t for t in once_times if t < first_regular] == [first_regular - 2], (once_times, skip_times)
    assert catch_up > last_before[once] + 2, "the catch-up is the latest missed fire, not the first"
    task = next(t for t in post_once if scheduled(t) == catch_up)
    assert ts(task["createdAt"]) >= catch_up and task["payload"] == {}, task


# ---- object store ----------------------------------------------------------------

def s3_record(bucket, key, event="s3:ObjectCreated:Put", sequencer="0055AED6DCD90281E5", etag="d41d8cd98f00b204e9800998ecf8427e"):
    return {
        "eventVersion": "2.0", "eventSource": "minio:s3", "awsRegion": "", "eventTime": "2026-11-21T20:00:00.000Z",
        "eventName": event, "userIdentity": {"principalId": "minioadmin"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"}, "responseElements": {"x-amz-request-id": "17F2A1B3C4D5E6F7"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "Config",
               "bucket": {"name": bucket, "ownerIdentity": {"principalId": "minioadmin"}, "arn": f"arn:aws:s3:::{bucket}"},
               "object": {"key": key, "size": 1024, "eTag": etag, "contentType": "image/png", "sequencer": sequencer}},
    }


def notify(client, records, key=None, ns=NS):
    body = {"EventName": records[0]["eventName"] if records else "", "Key": "", "Records": records}
    kw = {} if key is None else {"key": key}
    return client.api("POST", f"/v1/namespaces/{ns}/object-events", json_body=body, **kw)


def test_object_store_notifications_become_tasks(swell, app_dir, unique):
    name = unique("thumbs")
    bucket = unique("photos")
    swell.deploy(app_dir, {name: node_fn(ECHO, triggers=[
        {"type": "object-store", "bucket": bucket, "prefix": "uploads/", "suffix": ".png"}])})

    rec = s3_record(bucket, "uploads/cat.png")
    r = notify(swell, [rec])
    assert r.status_code == 202, r.text
    out = r.json()
    assert out["received"] == 1 and out["matched"] == 1 and len(out["tasks"]) == 1 and out["errors"] == [], out
    task = swell.api("GET", f"/v1/namespaces/{NS}/tasks/{out['tasks'][0]}").json()["task"]
    assert task["function"] == name and task["payload"] == {"Records": [rec]}, task
    assert task["idempotencyKey"].startswith(f"object-store:object-store:{bucket}/uploads/cat.png:s3:ObjectCreated:Put:"), task

    # The same notification again (a redelivery) is the same task.
    again = notify(swell, [rec]).json()
    assert again["tasks"] == out["tasks"], again
    assert len(tasks_of(swell, name)) == 1

    # Records that do not match: bucket, prefix, suffix, event type.
    for miss in [s3_record("other-bucket", "uploads/cat.png"), s3_record(bucket, "downloads/cat.png"),
                 s3_record(bucket, "uploads/cat.jpg"), s3_record(bucket, "uploads/cat.png", event="s3:ObjectRemoved:Delete")]:
        r = notify(swell, [miss])
        assert r.status_code == 202 and r.json() == {"received": 1, "matched": 0, "tasks": [], "errors": []}, (miss, r.text)
    # AWS's event names (no "s3:") match too; keys arrive URL-encoded and are matched decoded.
    aws = s3_record(bucket, "uploads%2Fmy+dog.png", event="ObjectCreated:CompleteMultipartUpload", sequencer="0055AED6DCD90281E6")
    r = notify(swell, [aws, s3_record(bucket, "elsewhere.png")])
    assert r.status_code == 202 and r.json()["received"] == 2 and r.json()["matched"] == 1, r.text
    task = swell.api("GET", f"/v1/namespaces/{NS}/tasks/{r.json()['tasks'][0]}").json()["task"]
    assert task["payload"]["Records"][0]["s3"]["object"]["key"] == "uploads%2Fmy+dog.png"
    assert "uploads/my dog.png" in task["idempotencyKey"], task
    # The S3 test event holds no records.
    r = swell.api("POST", f"/v1/namespaces/{NS}/object-events", json_body={"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": bucket})
    assert r.status_code == 202 and r.json()["received"] == 0, r.text
    assert len(tasks_of(swell, name)) == 2

    # Paused: received, not matched.
    swell.cli("triggers", "pause", name).ok()
    r = notify(swell, [s3_record(bucket, "uploads/new.png", sequencer="1")])
    assert r.status_code == 202 and r.json()["received"] == 1 and r.json()["matched"] == 0, r.text
    swell.cli("triggers", "resume", name).ok()
    r = notify(swell, [s3_record(bucket, "uploads/new.png", sequencer="1")])
    assert r.json()["matched"] == 1, r.text
    status = trigger(swell, name, "object-store")
    assert status["state"] == "running" and status["counters"]["events"] >= 3 and status["counters"]["invocations"] >= 3, status
    assert status["config"] == {"type": "object-store", "name": "object-store", "qualifier": "$LATEST", "enabled": True,
                                "bucket": bucket, "events": ["s3:ObjectCreated:*"], "prefix": "uploads/", "suffix": ".png"}


def test_object_events_errors_and_auth(swell, unique):
    url = f"/v1/namespaces/{NS}/object-events"
    good = s3_record(unique("b"), "k")
    for records, field in [
        ([{**good, "eventName": None}], "Records[0].eventName"),
        ([good, {k: v for k, v in good.items() if k != "s3"}], "Records[1].s3"),
        ([{**good, "s3": {"object": {"key": "k"}}}], "Records[0].s3.bucket.name"),
        ([{**good, "s3": {"bucket": {"name": "b"}, "object": {}}}], "Records[0].s3.object.key"),
        ([7], "Records[0]"),
    ]:
        r = swell.api("POST", url, json_body={"Records": records})
        assert r.status_code == 400, r.text
        err = r.json()["error"]
        assert err["code"] == "invalid_field" and err["field"] == field, (field, err)
    r = swell.api("POST", url, json_body={"records": []})
    assert r.status_code == 400 and r.json()["error"]["field"] == "Records", r.text
    r = swell.api("POST", url, data="{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json", r.text
    r = swell.api("POST", url, data=json.dumps({"Records": [], "pad": "x" * (1 << 20)}), headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text

    # The store authenticates with a Bearer key of the namespace: invoker is enough.
    created = swell.api("POST", f"/v1/namespaces/{NS}/keys", json_body={"role": "invoker", "name": unique("minio")})
    assert created.status_code == 201, created.text
    invoker = created.json()["key"]
    assert swell.api("POST", url, key=invoker, json_body={"Records": []}).status_code == 202
    assert swell.api("POST", url, key=None, json_body={"Records": []}).status_code == 401
    # Reading and pausing triggers needs a developer key.
    assert swell.api("GET", f"/v1/namespaces/{NS}/triggers", key=invoker).status_code == 403


# ---- manifest validation --------------------------------------------------------

@pytest.mark.parametrize("triggers, field, words", [
    ([{"type": "timer", "cron": "61 * * * * *"}], "triggers[0].cron", ["cron:"]),
    ([{"type": "timer", "cron": "* * *"}], "triggers[0].cron", ["cron:", "6 fields"]),
    ([{"type": "timer", "cron": "* * * * * *", "timezone": "Mars/Olympus"}], "triggers[0].timezone", ["Mars/Olympus"]),
    ([{"type": "timer", "cron": "* * * * * *", "missedFires": "always"}], "triggers[0].missedFires", ["skip or once"]),
    ([{"type": "timer"}], "triggers[0].cron", ["required"]),
    ([{"type": "sqs"}], "triggers[0].type", ["kafka, timer, object-store"]),
    ([{"type": "kafka", "brokers": ["k:9092"], "topics": ["t"], "ordering": "strict"}], "triggers[0].ordering", ["none, key or partition"]),
    ([{"type": "kafka", "brokers": ["k:9092"], "topics": ["t"], "startPosition": "beginning"}], "triggers[0].startPosition", ["earliest or latest"]),
    ([{"type": "kafka", "brokers": ["localhost"], "topics": ["t"]}], "triggers[0].brokers[0]", ["host:port"]),
    ([{"type": "kafka", "brokers": ["k:9092"], "topics": []}], "triggers[0].topics", ["non-empty"]),
    ([{"type": "kafka", "brokers": ["k:9092"], "topics": ["a b"]}], "triggers[0].topics[0]", ["topic"]),
    ([{"type": "kafka", "brokers": ["k:9092"], "topics": ["t"], "resultTopic": "t"}], "triggers[0].resultTopic", ["source topics"]),
    ([{"type": "kafka", "brokers": ["k:9092"], "topics": ["t"], "maxWait": 301}], "triggers[0].maxWait", ["300"]),
    ([{"type": "kafka", "brokers": ["k:9092"], "topic": "t"}], "triggers[0].topic", ["unknown field"]),
    ([{"type": "object-store"}], "triggers[0].bucket", ["required"]),
    ([{"type": "object-store", "bucket": "b", "events": ["ObjectCreated:*"]}], "triggers[0].events[0]", ["s3:"]),
    ([{"type": "timer", "cron": "* * * * * *", "name": "t"}, {"type": "object-store", "bucket": "b", "name": "t"}],
     "triggers[1].name", ["already named"]),
    ({"type": "timer"}, "triggers", ["list"]),
])
def test_manifest_trigger_errors_name_the_field(swell, app_dir, unique, triggers, field, words):
    name = unique("badtrig")
    res = swell.deploy(app_dir, {name: node_fn(ECHO, triggers=triggers)}, check=False)
    assert res.code != 0, res
    assert f"functions.{name}.{field}" in res.stderr, res
    for w in words:
        assert w in res.stderr, res
    assert swell.api("GET", f"/v1/namespaces/{NS}/functions/{name}").status_code == 404
    # The deploy API answers 400 naming the same field (before looking at the code).
    spec = {"runtime": "nodejs20", "handler": "index.handler", "codeSha256": "0" * 64, "triggers": triggers}
    r = swell.api("POST", f"/v1/namespaces/{NS}/deploy", json_body={"functions": {name: spec}})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "invalid_field" and r.json()["error"]["field"] == f"functions.{name}.{field}", r.text
    # PUT of one function names the field without the functions.NAME prefix.
    r = swell.api("PUT", f"/v1/namespaces/{NS}/functions/{name}", json_body=spec)
    assert r.status_code == 400 and r.json()["error"]["field"] == field, r.text


def test_yaml_manifest_with_triggers(swell, app_dir, unique):
    name = unique("yamltrig")
    write_files(app_dir / "fn", {"index.js": ECHO})
    (app_dir / "swell.yaml").write_text(f"""functions:
  {name}:
    runtime: nodejs20
    handler: index.handler
    code: ./fn
    triggers:
      - type: timer
        name: nightly
        cron: "0 30 2 * * MON-FRI"
        timezone: Asia/Shanghai
        payload: {{job: sweep}}
        missedFires: once
      - type: object-store
        bucket: {name}-bucket
        events: ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]
""")
    swell.cli("deploy", str(app_dir)).ok()
    info = function_info(swell.api("GET", f"/v1/namespaces/{NS}/functions/{name}").json())
    assert info["triggers"] == [
        {"type": "timer", "name": "nightly", "qualifier": "$LATEST", "enabled": True, "cron": "0 30 2 * * MON-FRI",
         "timezone": "Asia/Shanghai", "payload": {"job": "sweep"}, "missedFires": "once"},
        {"type": "object-store", "name": "object-store", "qualifier": "$LATEST", "enabled": True, "bucket": f"{name}-bucket",
         "events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"], "prefix": "", "suffix": ""},
    ], info["triggers"]
    deadline = time.monotonic() + 10
    while (status := trigger(swell, name, "nightly"))["timer"].get("nextFire") is None and time.monotonic() < deadline:
        time.sleep(0.1)
    next_fire = datetime.fromisoformat(status["timer"]["nextFire"].replace("Z", "+00:00"))
    # 02:30 in Shanghai is 18:30 UTC, on the evening before a weekday there.
    assert (next_fire.hour, next_fire.minute, next_fire.second) == (18, 30, 0), status
    assert next_fire.astimezone(timezone.utc).weekday() in (6, 0, 1, 2, 3), status
    swell.api("DELETE", f"/v1/namespaces/{NS}/functions/{name}")


# ---- API and CLI ------------------------------------------------------------------

def test_triggers_api_and_cli(swell, app_dir, unique):
    name, single = unique("multi"), unique("single")
    bucket = unique("docs")
    swell.deploy(app_dir, {
        name: node_fn(ECHO, triggers=[
            {"type": "kafka", "brokers": ["127.0.0.1:1"], "topics": ["homework"], "concurrency": 4, "ordering": "key"},
            {"type": "timer", "cron": "0 0 0 1 1 *", "name": "yearly"},
            {"type": "object-store", "bucket": bucket, "suffix": ".pdf"},
        ]),
        single: node_fn(ECHO, triggers=[{"type": "object-store", "bucket": bucket}]),
    })
    try:
        # GET …/functions/NAME shows the triggers config, every setting spelled out.
        info = function_info(swell.api("GET", f"/v1/namespaces/{NS}/functions/{name}").json())
        assert [t["name"] for t in info["triggers"]] == ["kafka", "yearly", "object-store"]
        assert info["triggers"][0] == {
            "type": "kafka", "name": "kafka", "qualifier": "$LATEST", "enabled": True, "brokers": ["127.0.0.1:1"], "topics": ["homework"],
            "startPosition": "latest", "concurrency": 4, "ordering": "key", "batchSize": 1, "maxWait": 0.05, "resultTopic": None,
            "deadLetterTopic": None, "maxAttempts": 3, "retryDelay": 1, "maxRetryDelay": 60, "groupId": None}, info["triggers"][0]

        r = swell.api("GET", f"/v1/namespaces/{NS}/triggers", params={"function": name})
        assert r.status_code == 200, r.text
        listed = r.json()["triggers"]
        assert [(t["function"], t["name"], t["type"]) for t in listed] == [
            (name, "kafka", "kafka"), (name, "object-store", "object-store"), (name, "yearly", "timer")], listed
        everything = swell.api("GET", f"/v1/namespaces/{NS}/triggers").json()["triggers"]
        assert {(name, "yearly"), (single, "object-store")} <= {(t["function"], t["name"]) for t in everything}

        # The Kafka trigger cannot reach its broker: failing, with the reason.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            k = trigger(swell, name, "kafka")
            if k["state"] == "failing":
                break
            time.sleep(0.2)
        assert k["state"] == "failing" and "127.0.0.1:1" in k["error"] and k["errorAt"], k
        assert k["kafka"]["groupId"] == f"swell-{NS}-{name}-kafka" and k["kafka"]["lag"] == 0 and k["kafka"]["inFlight"] == 0, k

        # CLI list: one line per trigger.
        out = swell.cli("triggers", "list", "--function", name).ok().stdout
        lines = out.splitlines()
        assert lines[0].split()[:6] == ["FUNCTION", "NAME", "TYPE", "STATE", "EVENTS", "DETAIL"], out
        by_name = {line.split()[1]: line for line in lines[1:]}
        assert set(by_name) == {"kafka", "object-store", "yearly"}, out
        assert "failing" in by_name["kafka"] and "homework" in by_name["kafka"] and "error:" in by_name["kafka"], out
        assert "running" in by_name["yearly"] and "0 0 0 1 1 * UTC" in by_name["yearly"] and "next 20" in by_name["yearly"], out
        assert f"{bucket}/*.pdf" in by_name["object-store"], out
        as_json = json.loads(swell.cli("triggers", "list", "--function", name, "--json").ok().stdout)
        assert [t["name"] for t in as_json] == ["kafka", "object-store", "yearly"]

        # CLI get: a function with several triggers needs the name.
        res = swell.cli("triggers", "get", name)
        assert res.code != 0 and "has 3 triggers" in res.stderr and "name one" in res.stderr, res
        shown = swell.cli("triggers", "get", name, "kafka").ok().stdout
        assert "state     failing" in shown and "error     " in shown and f"group     swell-{NS}-{name}-kafka" in shown, shown
        shown = swell.cli("triggers", "get", single).ok().stdout
        assert f"trigger   {single}/object-store (object-store → $LATEST)" in shown and "state     running" in shown, shown

        # Pause and resume through the API answer the new status.
        r = swell.api("POST", f"/v1/namespaces/{NS}/functions/{name}/triggers/kafka/pause")
        assert r.status_code == 200 and r.json()["state"] == "paused", r.text
        assert trigger(swell, name, "kafka")["state"] == "paused"
        r = swell.api("POST", f"/v1/namespaces/{NS}/functions/{name}/triggers/kafka/resume")
        assert r.status_code == 200 and r.json()["state"] in ("running", "failing"), r.text

        # Unknown functions and triggers: 404 saying what exists.
        r = swell.api("GET", f"/v1/namespaces/{NS}/functions/{name}/triggers/nope")
        assert r.status_code == 404 and "kafka, object-store, yearly" in r.json()["error"]["message"], r.text
        assert swell.api("GET", f"/v1/namespaces/{NS}/functions/{unique('ghost')}/triggers/kafka").status_code == 404
        assert swell.api("POST", f"/v1/namespaces/{NS}/functions/{name}/triggers/nope/pause").status_code == 404
        res = swell.cli("triggers", "pause", name, "nope")
        assert res.code != 0 and "no trigger nope" in res.stderr, res
        res = swell.cli("triggers", "get", unique("ghost"))
        assert res.code != 0 and "has no triggers" in res.stderr, res

        # Removing a trigger from the manifest stops it.
        swell.deploy(app_dir, {name: node_fn(ECHO, triggers=[{"type": "timer", "cron": "0 0 0 1 1 *", "name": "yearly"}]),
                               single: node_fn(ECHO, triggers=[{"type": "object-store", "bucket": bucket}])})
        listed = swell.api("GET", f"/v1/namespaces/{NS}/triggers", params={"function": name}).json()["triggers"]
        assert [t["name"] for t in listed] == ["yearly"], listed
    finally:
        for f in (name, single):
            swell.api("DELETE", f"/v1/namespaces/{NS}/functions/{f}")
    assert swell.api("GET", f"/v1/namespaces/{NS}/triggers", params={"function": name}).json()["triggers"] == []


def test_a_deleted_trigger_forgets_its_pause_switch(make_server, tmp_path, unique):
    srv = make_server()  # a server of its own: no other triggers
    c = srv.client()
    name = unique("reborn")
    app = tmp_path / "app"
    spec = node_fn(ECHO, triggers=[{"type": "timer", "cron": "0 0 0 1 1 *"}])
    c.deploy(app, {name: spec})
    c.cli("triggers", "pause", name).ok()
    assert c.api("DELETE", f"/v1/namespaces/{NS}/functions/{name}").status_code == 204
    time.sleep(1.5)  # the manager stops the trigger (and should forget it)
    c.deploy(app, {name: spec})
    assert trigger(c, name, "timer")["state"] == "running"


def test_a_trigger_qualifier_must_exist_at_deploy(swell, app_dir, unique):
    name = unique("qualtrig")
    triggers = [{"type": "timer", "cron": "0 0 0 1 1 *", "qualifier": "live"}]
    res = swell.deploy(app_dir, {name: node_fn(ECHO, triggers=triggers)}, check=False)
    assert res.code != 0, res
    assert f"functions.{name}.triggers[0].qualifier" in res.stderr and "alias live does not exist" in res.stderr, res
    triggers = [{"type": "timer", "cron": "0 0 0 1 1 *", "qualifier": "7"}]
    res = swell.deploy(app_dir, {name: node_fn(ECHO, triggers=triggers)}, check=False)
    assert res.code != 0 and "version 7 does not exist" in res.stderr, res
