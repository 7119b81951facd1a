"""OpenTelemetry tracing against a real OTLP/HTTP receiver started by the test.

A caller's `traceparent` reaches a function URL; the function sees the trace (its URL
event's `traceparent`, `_X_AMZN_TRACE_ID` from the Runtime API's Lambda-Runtime-Trace-Id),
enqueues a task for a second function with that context, and the receiver must see one
trace whose spans link up: caller → URL request → invocation (queue wait, init, run) and
URL request → async-invoke request → task attempt → second invocation.
"""
from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from swell_e2e import free_port, node_fn, python_fn

KIND_NAMES = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}


def _hex_id(value: str, length: int) -> str:
    """OTLP/JSON ids are hex by the spec; protobuf's JSON mapping writes base64. Accept both."""
    if len(value) == length and all(c in "0123456789abcdefABCDEF" for c in value):
        return value.lower()
    return base64.b64decode(value).hex() if value else ""


def _attr_value(v: dict):
    for k in ("stringValue", "boolValue", "intValue", "doubleValue"):
        if k in v:
            return int(v[k]) if k == "intValue" else v[k]
    return v


class Receiver:
    """An OTLP/HTTP (JSON) trace receiver on a free loopback port."""

    def __init__(self):
        self.spans: list[dict] = []
        self.posts = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                ok = self.path == "/v1/traces" and self.headers.get("Content-Type", "").startswith("application/json")
                if ok:
                    receiver._add(json.loads(body))
                self.send_response(200 if ok else 415)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def _add(self, payload: dict) -> None:
        with self.lock:
            self.posts += 1
            for rs in payload.get("resourceSpans", []):
                service = {a["key"]: _attr_value(a["value"]) for a in rs.get("resource", {}).get("attributes", [])}.get("service.name")
                for ss in rs.get("scopeSpans", []):
                    for s in ss.get("spans", []):
                        kind = s.get("kind", 1)
                        if isinstance(kind, str):
                            kind = kind.replace("SPAN_KIND_", "").lower()
                        else:
                            kind = KIND_NAMES.get(kind, str(kind))
                        self.spans.append({
                            "service": service,
                            "name": s["name"],
                            "kind": kind,
                            "traceId": _hex_id(s.get("traceId", ""), 32),
                            "spanId": _hex_id(s.get("spanId", ""), 16),
                            "parentSpanId": _hex_id(s.get("parentSpanId", ""), 16),
                            "start": int(s.get("startTimeUnixNano", 0)),
                            "end": int(s.get("endTimeUnixNano", 0)),
                            "attributes": {a["key"]: _attr_value(a["value"]) for a in s.get("attributes", [])},
                            "status": s.get("status", {}),
                        })

    def trace(self, trace_id: str) -> list[dict]:
        with self.lock:
            return [s for s in self.spans if s["traceId"] == trace_id]

    def wait_for(self, predicate, timeout: float = 20.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                spans = list(self.spans)
            if predicate(spans) or time.monotonic() > deadline:
                return spans
            time.sleep(0.1)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


FRONT = """
exports.handler = async (event) => {
  const body = JSON.parse(event.body);
  const traceparent = event.headers.traceparent;
  const r = await fetch(body.swell + '/v1/namespaces/default/functions/back/invoke', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Swell-Invocation-Type': 'Event',
               'Authorization': 'Bearer ' + body.key, 'traceparent': traceparent },
    body: JSON.stringify({ from: 'front' }),
  });
  const task = await r.json();
  return { statusCode: 200, body: JSON.stringify({ traceparent, xray: process.env._X_AMZN_TRACE_ID, status: r.status, task }) };
};
"""

BACK = """
import os

def handler(event, context):
    return {"xray": os.environ.get("_X_AMZN_TRACE_ID"), "event": event}
"""


def _xray_parts(header: str) -> dict:
    return dict(part.split("=", 1) for part in header.split(";"))


def test_a_trace_runs_from_a_url_request_through_a_task_to_a_second_function(make_server, app_dir, receiver):
    srv = make_server(env={
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver.port}",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_TRACES_SAMPLER": "parentbased_always_on",
    })
    swell = srv.client()
    swell.deploy(app_dir, {
        "front": node_fn(FRONT, url={"auth": "none"}),
        "back": python_fn(BACK),
    })
    trace_id = secrets.token_hex(16)
    caller_span = secrets.token_hex(8)
    r = requests.post(f"{srv.url}/fn/default/front", json={"swell": srv.url, "key": srv.admin_key},
                      headers={"traceparent": f"00-{trace_id}-{caller_span}-01"}, timeout=60)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["status"] == 202, answer
    task_id = answer["task"]["taskId"]

    # The task runs the second function; its result carries what that function saw.
    deadline = time.monotonic() + 30
    while True:
        task = swell.api("GET", f"/v1/namespaces/default/tasks/{task_id}").json()["task"]
        if task.get("state") == "succeeded" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert task["state"] == "succeeded", task
    back_result = task["result"] if isinstance(task["result"], dict) else json.loads(task["result"])

    def complete(spans):
        names = [s["name"] for s in spans if s["traceId"] == trace_id]
        return "invoke default/back" in names and "task default/back" in names and names.count("run") >= 2
    receiver.wait_for(complete)
    spans = receiver.trace(trace_id)
    by_id = {s["spanId"]: s for s in spans}
    summary = "\n".join(f'{s["name"]} {s["kind"]} {s["spanId"]} <- {s["parentSpanId"]}' for s in spans)
    assert all(s["service"] == "swell" for s in spans), summary

    # The URL request continues the caller's span.
    url_spans = [s for s in spans if s["kind"] == "server" and s["parentSpanId"] == caller_span]
    assert len(url_spans) == 1, summary
    url_span = url_spans[0]
    # Its invocation of `front` is its child, with queue wait and run (and init: a cold start) below.
    invoke_front = [s for s in spans if s["name"] == "invoke default/front"]
    assert len(invoke_front) == 1 and invoke_front[0]["parentSpanId"] == url_span["spanId"], summary
    children = {s["name"] for s in spans if s["parentSpanId"] == invoke_front[0]["spanId"]}
    assert {"run", "init"} <= children, summary
    assert invoke_front[0]["attributes"].get("faas.coldstart") is True
    run = next(s for s in spans if s["name"] == "run" and s["parentSpanId"] == invoke_front[0]["spanId"])
    assert invoke_front[0]["start"] <= run["start"] <= run["end"] <= invoke_front[0]["end"]

    # The function saw the trace: the URL request's span in its event, its invocation's span in the X-Ray header.
    assert answer["traceparent"] == f"00-{trace_id}-{url_span['spanId']}-01"
    xray = _xray_parts(answer["xray"])
    assert xray["Root"] == f"1-{trace_id[:8]}-{trace_id[8:]}" and xray["Parent"] == invoke_front[0]["spanId"], answer["xray"]
    assert xray["Sampled"] == "1"

    # Its async invoke is a request of its own, continuing the same span; the task attempt
    # continues that request's span, and the second invocation is the attempt's child.
    async_request = [s for s in spans if s["kind"] == "server" and s["parentSpanId"] == url_span["spanId"]]
    assert len(async_request) == 1, summary
    attempt = [s for s in spans if s["name"] == "task default/back"]
    assert len(attempt) == 1 and attempt[0]["kind"] == "consumer", summary
    assert attempt[0]["parentSpanId"] == async_request[0]["spanId"], summary
    assert attempt[0]["attributes"]["swell.task_id"] == task_id
    assert attempt[0]["attributes"]["swell.outcome"] == "succeeded"
    invoke_back = [s for s in spans if s["name"] == "invoke default/back"]
    assert len(invoke_back) == 1 and invoke_back[0]["parentSpanId"] == attempt[0]["spanId"], summary
    back_xray = _xray_parts(back_result["xray"])
    assert back_xray["Root"] == xray["Root"] and back_xray["Parent"] == invoke_back[0]["spanId"], back_result
    # Every parent is in the trace (nothing dangles but the caller's own span).
    for s in spans:
        assert s["parentSpanId"] in by_id or s["parentSpanId"] == caller_span, summary


def test_a_function_error_marks_its_span_and_a_call_without_traceparent_starts_a_trace(make_server, app_dir, receiver):
    srv = make_server(env={
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"http://127.0.0.1:{receiver.port}/v1/traces",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    })
    swell = srv.client()
    swell.deploy(app_dir, {"broken": node_fn("exports.handler = async () => { null.x; };")})
    r = swell.invoke("broken", {})
    assert r.headers.get("X-Swell-Function-Error") == "Unhandled"
    spans = receiver.wait_for(lambda s: any(x["name"] == "invoke default/broken" for x in s))
    inv = next(s for s in spans if s["name"] == "invoke default/broken")
    assert inv["attributes"]["error.type"] == "TypeError"
    assert inv["status"].get("code") in (2, "STATUS_CODE_ERROR"), inv["status"]
    root = next(s for s in spans if s["spanId"] == inv["parentSpanId"])
    assert root["kind"] == "server" and root["parentSpanId"] == "", root
    assert root["traceId"] == inv["traceId"]


def test_tracing_is_off_without_an_endpoint(make_server, app_dir, receiver):
    # The receiver listens, but nothing names it: Swell exports nothing and passes a caller's X-Ray header on as is.
    srv = make_server(env={"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json", "OTEL_BSP_SCHEDULE_DELAY": "100"})
    swell = srv.client()
    swell.deploy(app_dir, {"plain": python_fn(BACK)})
    header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    out = swell.invoke_ok("plain", {}, headers={"X-Amzn-Trace-Id": header})
    assert out["xray"] == header
    time.sleep(1.0)
    assert receiver.posts == 0 and receiver.spans == []
    assert "exporting traces" not in srv.log()


def test_a_workflow_execution_is_one_trace_with_a_span_per_task_state(make_server, app_dir, receiver):
    import hashlib
    srv = make_server(env={
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver.port}",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    })
    swell = srv.client()
    swell.deploy(app_dir, {"double": node_fn("exports.handler = async (e) => ({ n: e.n * 2 });")})
    definition = {"StartAt": "One", "States": {
        "One": {"Type": "Task", "Resource": "swell:function:double", "Next": "Two"},
        "Two": {"Type": "Task", "Resource": "swell:function:double", "End": True}}}
    r = swell.api("PUT", "/v1/namespaces/default/workflows/twice", json_body={"definition": definition})
    assert r.status_code in (200, 201), r.text
    r = swell.api("POST", "/v1/namespaces/default/workflows/twice/executions", params={"wait": "true"},
                  json_body={"name": "traced", "input": {"n": 3}})
    assert r.status_code in (200, 201), r.text
    assert r.json()["execution"]["output"] == {"n": 12}, r.text
    trace_id = hashlib.sha256(b"default/twice/traced").hexdigest()[:32]
    spans = receiver.wait_for(lambda s: sum(1 for x in s if x["traceId"] == trace_id and x["name"] == "run") >= 2)
    mine = [s for s in spans if s["traceId"] == trace_id]
    states = [s for s in mine if s["name"].startswith("workflow state ")]
    assert sorted(s["name"] for s in states) == ["workflow state One", "workflow state Two"], mine
    assert all(s["attributes"]["swell.execution"] == "default/twice/traced" for s in states)
    invokes = [s for s in mine if s["name"] == "invoke default/double"]
    assert sorted(s["parentSpanId"] for s in invokes) == sorted(s["spanId"] for s in states)
