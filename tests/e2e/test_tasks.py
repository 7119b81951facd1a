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
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        summary = swell.api("GET", "/v1/namespaces/default/tasks/summary", params={"function": name}).json()
        if summary["queued"] == 0 and summary["running"] == 0:
            break
        time.sleep(0.25)
    assert summary["failed"] == 0 and summary["expired"] == 0, summary
    states = {}
    for task_id in accepted:
        states[task_id] = task(swell, task_id)["state"]
    lost = [i for i, s in states.items() if s != "succeeded"]
    assert not lost, f"{len(lost)} of {len(accepted)} accepted tasks did not succeed: {lost[:5]}"
    assert summary["succeeded"] >= len(accepted)
