"""Durable async invocation: 202 + task id, retries, idempotency, delay, stop, re-drive,
destinations (function, webhook, CloudEvents), fair share, and no loss across kill -9."""

from __future__ import annotations

import concurrent.futures
import http.server
import json
import os
import signal
import threading
import time

from swell_e2e import node_fn

ECHO = """
exports.handler = async (e) => {
  if (e.sleep) await new Promise(r => setTimeout(r, e.sleep));
  if (e.fail) throw new Error('asked to fail');
  console.log('task ran', JSON.stringify(e));
  return { echo: e };
};
"""


def enqueue(swell, name, event=None, ns="default", params=None, headers=None):
    h = {"Content-Type": "application/json", **(headers or {})}
    return swell.api("POST", f"/v1/namespaces/{ns}/functions/{name}/invoke", params={"mode": "async", **(params or {})},
                     data=json.dumps(event if event is not None else {}), headers=h)


def task(swell, task_id, ns="default"):
    r = swell.api("GET", f"/v1/namespaces/{ns}/tasks/{task_id}")
    assert r.status_code == 200, r.text
    return r.json()["task"]


def wait_state(swell, task_id, states, timeout=30, ns="default"):
    deadline = time.monotonic() + timeout
    while True:
        t = task(swell, task_id, ns)
        if t["state"] in states or time.monotonic() > deadline:
            return t
        time.sleep(0.05)


def test_async_invoke_commits_a_task_that_runs_and_is_traceable(swell, app_dir, unique):
    name = unique("async")
    swell.deploy(app_dir, {name: node_fn(ECHO)})
    r = enqueue(swell, name, {"n": 1})
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["duplicate"] is False and r.headers["X-Swell-Task-Id"] == body["taskId"]
    t = wait_state(swell, body["taskId"], {"succeeded"})
    assert t["state"] == "succeeded", t
    assert t["result"] == {"echo": {"n": 1}} and t["payload"] == {"n": 1}
    assert len(t["attempts"]) == 1 and t["attempts"][0]["outcome"] == "succeeded"
    assert t["attempts"][0]["queueDelayMs"] >= 0 and t["attempts"][0]["durationMs"] > 0
    deadline = time.monotonic() + 5
    while not any("task ran" in line["message"] for line in t["logs"]) and time.monotonic() < deadline:
        time.sleep(0.1)
        t = task(swell, body["taskId"])
    assert any("task ran" in line["message"] for line in t["logs"]), t["logs"]
    # The AWS header works too.
    r2 = swell.invoke(name, {"n": 2}, headers={"X-Amz-Invocation-Type": "Event"})
    assert r2.status_code == 202 and r2.json()["taskId"]


def test_cli_async_invoke_and_tasks_commands(swell, app_dir, unique):
    name = unique("cliasync")
    swell.deploy(app_dir, {name: node_fn(ECHO)})
    task_id = swell.cli("invoke", name, "--async", "--data", '{"via":"cli"}').ok().stdout.strip()
    assert task_id.startswith("t")
    assert wait_state(swell, task_id, {"succeeded"})["state"] == "succeeded"
    listed = json.loads(swell.cli("tasks", "list", "--function", name, "--state", "succeeded", "--json").ok().stdout)
    assert [t["id"] for t in listed] == [task_id]
    shown = swell.cli("tasks", "get", task_id).ok().stdout
    assert "succeeded" in shown and "attempt 1" in shown
    assert json.loads(swell.cli("tasks", "get", task_id, "--json").ok().stdout)["result"] == {"echo": {"via": "cli"}}
    bad = swell.cli("invoke", name, "--priority", "3")
    assert bad.code != 0 and "--async" in bad.stderr


def test_function_errors_are_retried_then_fail_into_the_dead_letter_list_and_can_be_redriven(swell, app_dir, unique):
    name = unique("flaky")
    swell.deploy(app_dir, {name: node_fn(ECHO, **{"async": {"maxAttempts": 3, "retryDelay": 0}})})
    task_id = enqueue(swell, name, {"fail": True}).json()["taskId"]
    t = wait_state(swell, task_id, {"failed"})
    assert t["state"] == "failed", t
    assert [a["outcome"] for a in t["attempts"]] == ["functionError"] * 3
    assert t["error"]["errorMessage"] == "asked to fail"
    dead = swell.api("GET", "/v1/namespaces/default/tasks", params={"function": name, "state": "failed"}).json()["tasks"]
    assert [d["id"] for d in dead] == [task_id]
    # Re-drive: it runs again (and fails again), attempts keep counting.
    assert swell.cli("tasks", "retry", task_id).ok()
    t = wait_state(swell, task_id, {"failed"}, timeout=30)
    deadline = time.monotonic() + 10
    while len(t["attempts"]) < 6 and time.monotonic() < deadline:
        time.sleep(0.1)
        t = task(swell, task_id)
    assert len(t["attempts"]) == 6 and t["state"] == "failed", t


def test_idempotency_key_returns_the_first_task_and_runs_once(swell, app_dir, unique):
    name = unique("idem")
    swell.deploy(app_dir, {name: node_fn(ECHO)})
    a = enqueue(swell, name, {"k": 1}, headers={"Idempotency-Key": "order-42"}).json()
    b = enqueue(swell, name, {"k": 2}, headers={"Idempotency-Key": "order-42"}).json()
    assert a["taskId"] == b["taskId"] and b["duplicate"] is True and a["duplicate"] is False
    wait_state(swell, a["taskId"], {"succeeded"})
    time.sleep(0.3)
    summary = swell.api("GET", "/v1/namespaces/default/tasks/summary", params={"function": name}).json()
    assert summary["succeeded"] == 1 and sum(summary.values()) == 1


def test_delay_and_priority(swell, app_dir, unique):
    name = unique("later")
    swell.deploy(app_dir, {name: node_fn(ECHO)})
    task_id = enqueue(swell, name, {}, params={"delay": "1.5", "priority": "9"}).json()["taskId"]
    assert task(swell, task_id)["state"] == "queued"
    t = wait_state(swell, task_id, {"succeeded"})
    started = t["attempts"][0]["startedAt"]
    from datetime import datetime
    delay = (datetime.fromisoformat(started.replace("Z", "+00:00")) - datetime.fromisoformat(t["createdAt"].replace("Z", "+00:00"))).total_seconds()
    assert delay >= 1.4, t
    assert t["priority"] == 9


def test_stop_a_queued_and_a_running_task(swell, app_dir, unique):
    name = unique("stoppable")
    swell.deploy(app_dir, {name: node_fn(ECHO, timeout=60)})
    queued = enqueue(swell, name, {}, params={"delay": "60"}).json()["taskId"]
    r = swell.api("POST", f"/v1/namespaces/default/tasks/{queued}/stop")
    assert r.status_code == 200 and r.json()["state"] == "stopped"
    assert task(swell, queued)["state"] == "stopped"
    running = enqueue(swell, name, {"sleep": 30000}).json()["taskId"]
    wait_state(swell, running, {"running"}, timeout=10)
    time.sleep(0.3)
    assert swell.cli("tasks", "stop", running).ok()
    t = wait_state(swell, running, {"stopped"}, timeout=10)
    assert t["state"] == "stopped", t
    assert t["attempts"][-1]["outcome"] == "stopped"
    # A finished task cannot be stopped.
    assert swell.api("POST", f"/v1/namespaces/default/tasks/{running}/stop").status_code == 409


def test_bad_async_requests_name_the_problem(swell, app_dir, unique):
    name = unique("badasync")
    swell.deploy(app_dir, {name: node_fn(ECHO)})
    big = enqueue(swell, name, {"blob": "x" * (256 * 1024)})
    assert big.status_code == 413, big.text
    for params, field in [({"priority": "12"}, "priority"), ({"delay": "-1"}, "delay"), ({"runAt": "tomorrow"}, "runAt"),
                          ({"timeout": "0"}, "timeout")]:
        r = enqueue(swell, name, {}, params=params)
        assert r.status_code == 400 and r.json()["error"]["field"] == field, r.text
    assert enqueue(swell, "no-such-fn", {}).status_code == 404
    r = swell.api("GET", "/v1/namespaces/default/tasks", params={"state": "lost"})
    assert r.status_code == 400 and r.json()["error"]["field"] == "state"
    assert swell.api("GET", "/v1/namespaces/default/tasks/t-nope").status_code == 404


class Recorder(http.server.BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Recorder.received.append((dict(self.headers), json.loads(body)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_destinations_function_and_webhook_with_cloudevents(swell, app_dir, unique):
    hook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    try:
        archive, worker = unique("archive"), unique("worker")
        url = f"http://127.0.0.1:{hook.server_address[1]}/failed"
        swell.deploy(app_dir, {
            archive: node_fn(ECHO),
            worker: node_fn(ECHO, **{"async": {"maxAttempts": 2, "retryDelay": 0, "onSuccess": {"function": archive},
                                               "onFailure": {"webhook": url, "format": "cloudevents"}}}),
        })
        ok_id = enqueue(swell, worker, {"good": True}).json()["taskId"]
        bad_id = enqueue(swell, worker, {"fail": True}).json()["taskId"]
        wait_state(swell, bad_id, {"failed"})
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            archived = swell.api("GET", "/v1/namespaces/default/tasks", params={"function": archive, "state": "succeeded"}).json()["tasks"]
            if archived and Recorder.received:
                break
            time.sleep(0.1)
        record = task(swell, archived[0]["id"])["payload"]
        assert record["requestContext"]["taskId"] == ok_id and record["requestContext"]["condition"] == "Success"
        assert record["requestPayload"] == {"good": True} and record["responsePayload"] == {"echo": {"good": True}}
        headers, body = Recorder.received[0]
        lower = {k.lower(): v for k, v in headers.items()}
        assert lower["ce-specversion"] == "1.0" and lower["ce-type"] == "dev.swell.task.failed" and lower["ce-id"] == bad_id
        assert body["requestContext"]["condition"] == "RetriesExhausted"
        assert body["requestContext"]["approximateInvokeCount"] == 2 and len(body["attempts"]) == 2
        assert body["responsePayload"]["errorMessage"] == "asked to fail"
    finally:
        hook.shutdown()


def test_a_flooding_namespace_does_not_starve_another(swell, app_dir, unique, tmp_path):
    slow, quick = unique("flood"), unique("quick")
    swell.deploy(app_dir, {slow: node_fn(ECHO, concurrency=1, scaling={"maxInstances": 1})}, namespace="flooder")
    swell.deploy(tmp_path / "other", {quick: node_fn(ECHO, concurrency=1, scaling={"maxInstances": 1})}, namespace="quiet")
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: enqueue(swell, slow, {"sleep": 20}, ns="flooder"), range(200)))
    t0 = time.monotonic()
    quick_id = enqueue(swell, quick, {}, ns="quiet").json()["taskId"]
    t = wait_state(swell, quick_id, {"succeeded"}, ns="quiet", timeout=30)
    assert t["state"] == "succeeded"
    waited = time.monotonic() - t0
    backlog = swell.api("GET", "/v1/namespaces/flooder/tasks/summary", params={"function": slow}).json()
    # The quiet namespace's task ran while most of the flood still waited.
    assert backlog["queued"] > 50, (backlog, waited)


def wait_drained(swell, name, timeout=120.0) -> dict:
    """The function's task summary once nothing is queued or running (or at the deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        summary = swell.api("GET", "/v1/namespaces/default/tasks/summary", params={"function": name}).json()
        if (summary["queued"] == 0 and summary["running"] == 0) or time.monotonic() > deadline:
            return summary
        time.sleep(0.25)


def test_no_accepted_task_is_lost_across_kill_9(make_server, app_dir, unique):
    server = make_server()
    swell = server.client()
    name = unique("durable")
    swell.deploy(app_dir, {name: node_fn(ECHO, concurrency=8, **{"async": {"maxAttempts": 3}})})
    accepted: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def producer(worker):
        i = 0
        while not stop.is_set():
            try:
                r = enqueue(swell, name, {"worker": worker, "i": i, "sleep": 5})
            except Exception:
                return  # the server died under us: anything not acknowledged is not ours to keep
            if r.status_code == 202:
                with lock:
                    accepted.append(r.json()["taskId"])
            i += 1

    threads = [threading.Thread(target=producer, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    while len(accepted) < 2000:
        time.sleep(0.05)
    os.kill(server.pid, signal.SIGKILL)
    stop.set()
    for t in threads:
        t.join()
    server.proc.wait()
    server.start()
    summary = wait_drained(swell, name)
    assert summary["failed"] == 0 and summary["expired"] == 0, summary
    states = {}
    for task_id in accepted:
        states[task_id] = task(swell, task_id)["state"]
    lost = [i for i, s in states.items() if s != "succeeded"]
    assert not lost, f"{len(lost)} of {len(accepted)} accepted tasks did not succeed: {lost[:5]}"
    assert summary["succeeded"] >= len(accepted)


def test_concurrent_enqueues_share_commits_and_survive_kill_9(make_server, app_dir, unique):
    """64 clients enqueue at once (one request per task, half with an idempotency key); the
    server is killed with SIGKILL the moment the last 202 arrives. Every answered task is
    there after the restart and runs, every key still answers its first task, and the
    journal folded concurrent enqueues into shared commits (tasks per commit above 1)."""
    server = make_server()
    swell = server.client()
    name = unique("concurrent")
    swell.deploy(app_dir, {name: node_fn(ECHO, concurrency=16)})
    clients, per_client = 64, 8
    barrier = threading.Barrier(clients)

    def client(c):
        out = []
        barrier.wait()
        for i in range(per_client):
            headers = {"Idempotency-Key": f"k-{c}-{i}"} if i % 2 == 0 else None
            r = enqueue(swell, name, {"client": c, "i": i, "sleep": 20}, headers=headers)
            assert r.status_code == 202, r.text
            out.append((headers and headers["Idempotency-Key"], r.json()["taskId"]))
        return out

    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        answered = [t for ts in pool.map(client, range(clients)) for t in ts]
    text = swell.api("GET", "/v1/metrics").text
    os.kill(server.pid, signal.SIGKILL)
    server.proc.wait()

    def metric(line_start):
        line = next(l for l in text.splitlines() if l.startswith(line_start + " "))
        return float(line.split()[-1])
    tasks, commits = metric("swell_task_journal_commit_tasks_sum"), metric("swell_task_journal_commit_tasks_count")
    assert tasks >= clients * per_client and commits < tasks, (tasks, commits)

    ids = [task_id for _, task_id in answered]
    assert len(set(ids)) == len(ids) == clients * per_client
    server.start()
    for key, task_id in answered:
        if key:
            r = enqueue(swell, name, {"again": True}, headers={"Idempotency-Key": key})
            assert r.status_code == 202 and r.json() == {"taskId": task_id, "duplicate": True}, (key, r.text)
    summary = wait_drained(swell, name)
    assert summary.get("succeeded") == len(ids) and summary.get("failed", 0) == 0, summary
    lost = [i for i in ids if task(swell, i)["state"] != "succeeded"]
    assert not lost, f"{len(lost)} of {len(ids)} answered tasks did not succeed: {lost[:5]}"


# --- batch enqueue: POST …/functions/{name}/tasks ---------------------------------------------

def enqueue_batch(swell, name, entries, ns="default", params=None):
    return swell.api("POST", f"/v1/namespaces/{ns}/functions/{name}/tasks", params=params, json_body={"tasks": entries})


def summary_of(swell, name, ns="default"):
    r = swell.api("GET", f"/v1/namespaces/{ns}/tasks/summary", params={"function": name})
    assert r.status_code == 200, r.text
    return r.json()


def test_batch_enqueue_commits_every_task_in_order(swell, app_dir, unique):
    name = unique("batch")
    swell.deploy(app_dir, {name: node_fn(ECHO)})
    entries = [{"payload": {"i": i}} for i in range(5)]
    entries[1]["priority"] = 9
    entries[2]["delay"] = 0.5
    entries[3]["timeout"] = 30
    entries[4]["payload"] = [1, "two", None]  # any JSON value is an event
    r = enqueue_batch(swell, name, entries)
    assert r.status_code == 202, r.text
    answers = r.json()["tasks"]
    assert len(answers) == 5 and all(a["duplicate"] is False for a in answers)
    assert len({a["taskId"] for a in answers}) == 5
    for i, a in enumerate(answers):
        t = wait_state(swell, a["taskId"], {"succeeded"})
        assert t["state"] == "succeeded", t
        assert t["payload"] == entries[i]["payload"] and t["result"] == {"echo": entries[i]["payload"]}
    assert task(swell, answers[1]["taskId"])["priority"] == 9
    assert task(swell, answers[3]["taskId"])["timeout"] == 30
    delayed = task(swell, answers[2]["taskId"])
    from datetime import datetime
    waited = (datetime.fromisoformat(delayed["runAt"].replace("Z", "+00:00"))
              - datetime.fromisoformat(delayed["createdAt"].replace("Z", "+00:00"))).total_seconds()
    assert waited >= 0.45, delayed
    # A qualifier as for invoke; an entry without a payload is the event {}.
    r = enqueue_batch(swell, name, [{}], params={"qualifier": "$LATEST"})
    assert r.status_code == 202, r.text
    assert wait_state(swell, r.json()["tasks"][0]["taskId"], {"succeeded"})["payload"] == {}
    # `swell invoke --async` is untouched.
    assert swell.cli("invoke", name, "--async").ok().stdout.strip().startswith("t")


def test_batch_enqueue_rejects_a_bad_entry_and_enqueues_none(swell, app_dir, unique):
    name = unique("badbatch")
    swell.deploy(app_dir, {name: node_fn(ECHO)})
    good = {"payload": {"ok": True}}
    cases = [
        ([good, good, {"payload": {}, "priority": 12}], "tasks[2].priority"),
        ([good, {"payload": {}, "delay": -1}], "tasks[1].delay"),
        ([{"payload": {}, "runAt": "tomorrow"}], "tasks[0].runAt"),
        ([good, {"payload": {}, "delay": 1, "runAt": "2030-01-01T00:00:00Z"}], "tasks[1].runAt"),
        ([good, {"payload": {}, "timeout": 0}], "tasks[1].timeout"),
        ([good, {"payload": {}, "idempotencyKey": ""}], "tasks[1].idempotencyKey"),
        ([good, {"payload": {}, "idempotencyKey": 7}], "tasks[1].idempotencyKey"),
        ([good, {"payload": {}, "payloda": {}}], "tasks[1].payloda"),
        ([good, "not an object"], "tasks[1]"),
        ([], "tasks"),
        ([good] * 501, "tasks"),
    ]
    for entries, field in cases:
        r = enqueue_batch(swell, name, entries)
        assert r.status_code == 400, (field, r.status_code, r.text)
        assert r.json()["error"]["code"] == "invalid_field" and r.json()["error"]["field"] == field, r.text
        assert field in r.json()["error"]["message"], r.text
    for body, field in [({"tasks": {"a": 1}}, "tasks"), ({}, "tasks"), ({"tasks": [good], "extra": 1}, "extra")]:
        r = swell.api("POST", f"/v1/namespaces/default/functions/{name}/tasks", json_body=body)
        assert r.status_code == 400 and r.json()["error"]["field"] == field, r.text
    r = swell.api("POST", f"/v1/namespaces/default/functions/{name}/tasks", data="{\"tasks\": [",
                  headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json", r.text
    assert enqueue_batch(swell, "no-such-fn", [good]).status_code == 404
    assert enqueue_batch(swell, name, [good], params={"qualifier": "7"}).status_code == 404
    # 413: one payload over 256 KB names its entry; a body over 6 MB is refused whole.
    big = {"payload": {"blob": "x" * (256 * 1024)}}
    r = enqueue_batch(swell, name, [good, good, good, big])
    assert r.status_code == 413, r.text
    assert r.json()["error"]["code"] == "payload_too_large" and r.json()["error"]["field"] == "tasks[3].payload", r.text
    almost = {"payload": {"blob": "x" * (250 * 1024)}}
    r = enqueue_batch(swell, name, [almost] * 25)
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large", r.text
    time.sleep(0.3)
    s = summary_of(swell, name)
    assert sum(s.values()) == 0, s


def test_batch_idempotency_keys_within_and_across_batches(swell, app_dir, unique):
    name = unique("idembatch")
    swell.deploy(app_dir, {name: node_fn(ECHO)})
    first = enqueue_batch(swell, name, [
        {"payload": {"n": 1}, "idempotencyKey": "a"},
        {"payload": {"n": 2}, "idempotencyKey": "b"},
        {"payload": {"n": 3}, "idempotencyKey": "a"},
        {"payload": {"n": 4}},
    ])
    assert first.status_code == 202, first.text
    a = first.json()["tasks"]
    assert [t["duplicate"] for t in a] == [False, False, True, False]
    assert a[2]["taskId"] == a[0]["taskId"]
    second = enqueue_batch(swell, name, [{"payload": {"n": 5}, "idempotencyKey": "b"}, {"payload": {"n": 6}, "idempotencyKey": "c"}])
    b = second.json()["tasks"]
    assert b[0] == {"taskId": a[1]["taskId"], "duplicate": True} and b[1]["duplicate"] is False
    # The single-task invoke shares the keys.
    single = enqueue(swell, name, {"n": 7}, headers={"Idempotency-Key": "c"}).json()
    assert single == {"taskId": b[1]["taskId"], "duplicate": True}
    for t in (a[0], a[1], a[3], b[1]):
        assert wait_state(swell, t["taskId"], {"succeeded"})["state"] == "succeeded"
    time.sleep(0.3)
    s = summary_of(swell, name)
    assert s["succeeded"] == 4 and sum(s.values()) == 4, s
    assert task(swell, a[0]["taskId"])["payload"] == {"n": 1}


def test_tasks_for_a_version_use_that_versions_async_settings(swell, app_dir, unique):
    name = unique("verasync")
    failing = "exports.handler = async () => { throw new Error('no'); };\n"
    swell.deploy(app_dir, {name: node_fn(failing, **{"async": {"maxAttempts": 1, "retryDelay": 0}})})
    assert swell.cli("publish", name).ok().stdout.strip() == "1"
    swell.deploy(app_dir, {name: node_fn(failing, **{"async": {"maxAttempts": 3, "retryDelay": 0}})})
    swell.cli("alias", "set", name, "live", "1").ok()
    on_latest = enqueue(swell, name, {}).json()["taskId"]
    on_version = enqueue(swell, name, {}, params={"qualifier": "1"}).json()["taskId"]
    on_alias = enqueue_batch(swell, name, [{}], params={"qualifier": "live"}).json()["tasks"][0]["taskId"]
    assert len(wait_state(swell, on_latest, {"failed"})["attempts"]) == 3
    assert len(wait_state(swell, on_version, {"failed"})["attempts"]) == 1
    assert len(wait_state(swell, on_alias, {"failed"})["attempts"]) == 1


def test_queue_metrics(swell, app_dir, unique):
    name = unique("qmetrics")
    swell.deploy(app_dir, {name: node_fn(ECHO)})
    r = enqueue_batch(swell, name, [{"payload": {}}, {"payload": {"fail": True}}, {"payload": {}, "delay": 60}])
    ids = [t["taskId"] for t in r.json()["tasks"]]
    wait_state(swell, ids[0], {"succeeded"})
    wait_state(swell, ids[1], {"failed"}, timeout=60)
    text = swell.api("GET", "/v1/metrics").text
    labels = f'{{namespace="default",function="{name}"}}'
    def value(metric):
        line = next((l for l in text.splitlines() if l.startswith(metric + labels + " ")), None)
        assert line is not None, (metric, text)
        return float(line.split()[-1])
    assert value("swell_tasks_accepted_total") == 3
    assert value("swell_tasks_succeeded_total") == 1
    assert value("swell_tasks_failed_total") == 1
    assert value("swell_tasks_queued") == 1
    assert value("swell_tasks_running") == 0
    commits = [l for l in text.splitlines() if l.startswith("swell_task_journal_commits_total ")]
    assert commits and float(commits[0].split()[-1]) >= 1, text
    assert "swell_task_journal_commit_tasks_bucket" in text and "swell_task_journal_commit_tasks_sum" in text
