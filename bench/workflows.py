"""Workflows: durable state transitions per second, a Map of function tasks, and the latency a
one-Task workflow adds over invoking its function directly.

    python3 bench/workflows.py [--chain 1000] [--chains 20] [--items 10000] [--concurrency 100]
                               [--samples 100] [--quick]

- Pass chain: a workflow of `chain` Pass states (S0 → S1 → … → End). First one execution
  alone (`wait=true`), then `chains` executions started at once; transitions/s is
  transitions (the server's `swell_workflow_transitions_total`, states entered) over the
  time from the first start request to the last execution's end. Durable: every applied
  event and its history are journaled (SQLite, `synchronous=FULL`, group commit) before an
  execution's end is reported.
- Map: `items` items over a Node.js no-op function at `MaxConcurrency` `concurrency`;
  function tasks/s is items over the execution's own duration (stopDate - startDate).
- Task overhead: `samples` executions of a one-Task workflow (`wait=true`, one at a time)
  beside `samples` direct invocations of the same function: synchronous
  (`POST …/invoke`) and async (`POST …/invoke?mode=async`, then `GET …/tasks/{id}` every
  1 ms until it succeeded). Reported: p50/p90 of each and the workflow's p50 minus each.
- With `--asl-path DIR`: the same Pass chain (`chains` executions, one after another) through
  `local-workflow-engine` (PyPI; fadams/asl-workflow-engine, an ASL interpreter in Python)
  installed in DIR (`python3 -m pip install --target DIR local-workflow-engine`), in-process:
  its StateEngine driven by an in-memory event queue, its in-memory stores, no HTTP and
  nothing durable — a lower bound of its cost per transition.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Server, api, machine, percentile, summary  # noqa: E402

NOOP = "exports.handler = async (e) => e;"


def chain_definition(n: int) -> dict:
    states = {f"S{i}": {"Type": "Pass", "Next": f"S{i + 1}"} for i in range(n - 1)}
    states[f"S{n - 1}"] = {"Type": "Pass", "End": True}
    return {"StartAt": "S0", "States": states}


def put(server: Server, name: str, definition: dict) -> None:
    r = api(server, "PUT", f"/v1/namespaces/default/workflows/{name}", json={"definition": definition})
    r.raise_for_status()


def start(server: Server, name: str, input_, execution: str | None = None, wait: bool = False) -> dict:
    body = {"input": input_}
    if execution:
        body["name"] = execution
    r = api(server, "POST", f"/v1/namespaces/default/workflows/{name}/executions", json=body,
            params={"wait": "true", "timeout": "300"} if wait else None)
    r.raise_for_status()
    return r.json()["execution"]


def describe(server: Server, name: str, execution: str) -> dict:
    return api(server, "GET", f"/v1/namespaces/default/workflows/{name}/executions/{execution}").json()["execution"]


def seconds(e: dict) -> float:
    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()  # noqa: E731
    return parse(e["stopDate"]) - parse(e["startDate"])


def metric(server: Server, name: str) -> float:
    for line in api(server, "GET", "/v1/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return float("nan")


def pass_chain(server: Server, n: int, parallel: int) -> dict:
    put(server, "chain", chain_definition(n))
    t0 = time.perf_counter()
    one = start(server, "chain", {"x": 1}, "single", wait=True)
    single = time.perf_counter() - t0
    assert one["status"] == "SUCCEEDED", one
    before = metric(server, "swell_workflow_transitions_total")
    commits_before = metric(server, "swell_workflow_journal_commits_total")
    t0 = time.perf_counter()
    names = [f"c{i}" for i in range(parallel)]
    for name in names:
        start(server, "chain", {"x": 1}, name)
    for name in names:
        while describe(server, "chain", name)["status"] == "RUNNING":
            time.sleep(0.005)
    elapsed = time.perf_counter() - t0
    transitions = metric(server, "swell_workflow_transitions_total") - before
    commits = metric(server, "swell_workflow_journal_commits_total") - commits_before
    return {"states": n, "single_execution_s": round(single, 4), "single_transitions_per_s": round(n / single),
            "executions": parallel, "transitions": int(transitions), "seconds": round(elapsed, 3),
            "transitions_per_s": round(transitions / elapsed), "journal_commits": int(commits)}


def big_map(server: Server, items: int, concurrency: int) -> dict:
    put(server, "map", {"StartAt": "M", "States": {"M": {
        "Type": "Map", "MaxConcurrency": concurrency, "End": True,
        "ItemProcessor": {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "swell:function:noop", "End": True}}}}}})
    t0 = time.perf_counter()
    e = start(server, "map", list(range(items)), "m", wait=True)
    wall = time.perf_counter() - t0
    assert e["status"] == "SUCCEEDED", e
    assert len(e["output"]) == items
    d = seconds(e)
    return {"items": items, "max_concurrency": concurrency, "seconds": round(d, 3), "wall_seconds": round(wall, 3),
            "tasks_per_s": round(items / d)}


def overhead(server: Server, samples: int) -> dict:
    put(server, "one", {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "swell:function:noop", "End": True}}})
    session = requests.Session()
    session.headers.update(server.headers)
    base = f"{server.url}/v1/namespaces/default"
    for _ in range(10):  # warm
        session.post(f"{base}/functions/noop/invoke", data="{}").raise_for_status()
        session.post(f"{base}/workflows/one/executions", params={"wait": "true"}, json={"input": {}}).raise_for_status()
    wf, sync, asynchronous = [], [], []
    for _ in range(samples):
        t0 = time.perf_counter()
        r = session.post(f"{base}/workflows/one/executions", params={"wait": "true"}, json={"input": {"a": 1}})
        wf.append((time.perf_counter() - t0) * 1000)
        assert r.json()["execution"]["status"] == "SUCCEEDED", r.text
        t0 = time.perf_counter()
        session.post(f"{base}/functions/noop/invoke", data='{"a":1}').raise_for_status()
        sync.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        task = session.post(f"{base}/functions/noop/invoke", params={"mode": "async"}, data='{"a":1}').json()["taskId"]
        while session.get(f"{base}/tasks/{task}").json()["task"]["state"] != "succeeded":
            time.sleep(0.001)
        asynchronous.append((time.perf_counter() - t0) * 1000)

    def stats(v):
        return {"p50_ms": round(percentile(v, 50), 2), "p90_ms": round(percentile(v, 90), 2)}

    return {"samples": samples, "workflow_wait": stats(wf), "direct_sync": stats(sync), "direct_async_polled": stats(asynchronous),
            "added_p50_ms_over_sync": round(percentile(wf, 50) - percentile(sync, 50), 2),
            "added_p50_ms_over_async": round(percentile(wf, 50) - percentile(asynchronous, 50), 2)}


ASL_ENGINE_HARNESS = r"""
import collections, json, logging, os, sys, tempfile, time
from local_workflow_engine.state_engine import StateEngine
logging.disable(logging.CRITICAL)

class Queue:  # the engine's event dispatcher, in memory
    def __init__(self, engine):
        self.q, self.n, self.engine = collections.deque(), 0, engine
        engine.event_dispatcher = self
    def publish(self, event, threadsafe=False, start_execution=False): self.q.append(event)
    def acknowledge(self, id): pass
    def broadcast(self, *a, **k): pass
    def set_timeout(self, callback, delay): raise RuntimeError("no timers in a Pass chain")
    def clear_timeout(self, t): pass
    def run(self):
        while self.q:
            self.n += 1
            self.engine.notify(self.q.popleft(), self.n)

n, runs = int(sys.argv[1]), int(sys.argv[2])
store = os.path.join(tempfile.mkdtemp(), "asl_store.json")
engine = StateEngine({"state_engine": {"store_url": store, "execution_ttl": 86400}, "event_queue": {}})
queue = Queue(engine)
states = {f"S{i}": {"Type": "Pass", "Next": f"S{i + 1}"} for i in range(n - 1)}
states[f"S{n - 1}"] = {"Type": "Pass", "End": True}
arn = "arn:aws:states:local:0123456789:stateMachine:chain"
engine.asl_store[arn] = {"creationDate": 0, "definition": {"StartAt": "S0", "States": states}, "name": "chain",
                         "roleArn": "arn:aws:iam:::role/x", "stateMachineArn": arn, "updateDate": 0, "status": "ACTIVE", "type": "STANDARD"}
t0 = time.perf_counter()
for r in range(runs):
    execution = f"arn:aws:states:local:0123456789:execution:chain:r{r}"
    context = {"Execution": {"Id": execution, "Input": {"x": 1}, "Name": f"r{r}", "RoleArn": "x", "StartTime": "2026-01-01T00:00:00Z"},
               "State": {"EnteredTime": "2026-01-01T00:00:00Z", "Name": ""}, "StateMachine": {"Id": arn, "Name": "chain"}}
    queue.publish({"data": {"x": 1}, "context": context})
    queue.run()
    assert engine.executions[execution]["status"] == "SUCCEEDED"
elapsed = time.perf_counter() - t0
print(json.dumps({"states": n, "executions": runs, "seconds": round(elapsed, 3), "transitions_per_s": round(n * runs / elapsed),
                  "history_events_per_execution": len(engine.execution_history[f"arn:aws:states:local:0123456789:execution:chain:r0"])}))
"""


def asl_engine_chain(path: str, n: int, runs: int) -> dict:
    import json as _json
    import os
    import subprocess
    env = dict(os.environ, PYTHONPATH=path, LOG_LEVEL="ERROR")
    out = subprocess.run([sys.executable, "-c", ASL_ENGINE_HARNESS, str(n), str(runs)], env=env, capture_output=True, text=True, check=True)
    return {"interpreter": "local-workflow-engine 1.0.4 (in-process, in memory, not durable)", **_json.loads(out.stdout.strip().splitlines()[-1])}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--chain", type=int, default=1000)
    p.add_argument("--chains", type=int, default=20)
    p.add_argument("--items", type=int, default=10000)
    p.add_argument("--concurrency", type=int, default=100)
    p.add_argument("--samples", type=int, default=100)
    p.add_argument("--quick", action="store_true", help="small sizes, to check the benchmark runs")
    p.add_argument("--asl-path", help="a directory where local-workflow-engine is installed (pip install --target DIR)")
    a = p.parse_args()
    if a.quick:
        a.chain, a.chains, a.items, a.samples = 200, 4, 500, 10
    print(f"machine: {machine()}")
    server = Server()
    try:
        server.deploy("noop", {"index.js": NOOP}, runtime="nodejs20", handler="index.handler", concurrency=64)
        chain = pass_chain(server, a.chain, a.chains)
        print(f"pass chain: {chain}")
        other = None
        if a.asl_path:
            other = asl_engine_chain(a.asl_path, a.chain, a.chains)
            print(f"pass chain, {other['interpreter']}: {other}")
            chain["vs_local_workflow_engine"] = round(chain["transitions_per_s"] / other["transitions_per_s"], 2)
        mapped = big_map(server, a.items, a.concurrency)
        print(f"map: {mapped}")
        over = overhead(server, a.samples)
        print(f"task overhead: {over}")
        summary("workflows", {"pass_chain": chain, "local_workflow_engine": other, "map": mapped, "task_overhead": over})
    finally:
        server.stop()


if __name__ == "__main__":
    main()
