"""Async tasks: Swell's durable task queue beside Celery and Dramatiq (Redis broker), same
machine, same run.

    python3 bench/async_tasks.py [--tasks 20000] [--samples 200] [--clients 4] [--batch 100] [--quick]
                                 [--connections 64] [--redis-modes none,everysec] [--celery-pools prefork:2,threads:8]
                                 [--producers single,batch,conn] [--skip-swell | --swell-only]

Throughput: `tasks` no-op tasks are enqueued by `clients` client processes (Python,
multiprocessing; each with its own client: a requests.Session for Swell, the task library's
own producer for Celery and Dramatiq), all released at once; reported are the enqueue rate
(tasks / time until the last enqueue returned) and the end-to-end rate (tasks / time until
the last completion was recorded). Each system runs with two producers, one row each:
- single: one task per call — Swell `POST …/invoke?mode=async` (one request per task),
  Celery `task.delay()`, Dramatiq `actor.send()`;
- batch: `batch` tasks per call — Swell `POST …/functions/noop/tasks` with `batch` entries
  (one request, one journal commit), Celery `app.send_task` `batch` times inside one
  `app.producer_or_acquire()` (one connection and channel; the Redis transport still sends
  one LPUSH per task), Dramatiq `group(…).run()` (one enqueue script call per message);
- conn (Swell only): one request per task, `POST …/invoke?mode=async`, from one Node.js load
  generator (bench/loadgen.js, keep-alive) with `connections` requests in flight: what many
  concurrent clients send (the Python clients above cannot, on a small machine, without
  taking the server's CPU).
Each tool's figure for the ratios is its best row.

Completion signal:
- Swell: `GET /v1/namespaces/default/tasks/summary?function=noop` shows `succeeded == tasks`
  (polled every 100 ms; each task's completion is recorded by the server).
- Celery and Dramatiq: the task body's last statement is one Redis INCR of a counter
  (polled every 10 ms); the task's result is also stored in the Redis result backend
  (Celery's backend, Dramatiq's Results middleware), as "completion recorded" requires,
  and the number of stored results is checked afterwards.

Latency: `samples` tasks one at a time with idle workers: enqueue → start (the task's own
start time for Celery and Dramatiq, client clock before the enqueue call; Swell: the
attempt's `startedAt` on the same clock, and the server-measured `queueDelayMs`) and enqueue
→ completion seen by the client (Celery `AsyncResult.get`, Dramatiq `get_result(block=True)`,
Swell: polling `GET …/tasks/{id}` every 1 ms).

Durability: Swell writes every task to SQLite with `synchronous=FULL` (fsync). Redis runs
as its users typically run it as a broker (`--save "" --appendonly no`: nothing survives a
crash) and, with `--redis-modes everysec`, with an append-only file fsynced every second
(`always` is accepted too). Workers: Celery `-P prefork -c 2` and `-P threads -c 8`
(--without-heartbeat --without-gossip --without-mingle); the best of them is Celery's figure
for the ratio. Dramatiq `-p 2 -t 8`. Swell: a Node.js no-op (`exports.handler = async () =>
({})`), `concurrency: 64` per instance, `async: {concurrency: 256}`.

Installs what it lacks: `apt-get install -y redis-server` (after `apt-get update` if that
fails) and `python3 -m pip install celery dramatiq[redis] redis`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import multiprocessing as mp
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import requests

from common import Server, children, cpu_seconds, free_port, loadgen, machine, percentile, summary, try_deploy

NOOP = "exports.handler = async () => ({});\n"

CELERY_APP = '''
import os, time
import redis
from celery import Celery

URL = os.environ["BENCH_REDIS_URL"]
app = Celery("bench_celery", broker=URL, backend=URL)
app.conf.update(broker_connection_retry_on_startup=True, task_serializer="json", result_serializer="json",
                accept_content=["json"], worker_hijack_root_logger=False)
_r = None


def counter():
    global _r
    if _r is None:
        _r = redis.Redis.from_url(URL)
    return _r


@app.task(name="noop")
def noop(t0=None):
    start = time.time()
    counter().incr("bench:done")
    return {"start": start}
'''

DRAMATIQ_APP = '''
import os, time
import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.results import Results
from dramatiq.results.backends import RedisBackend

URL = os.environ["BENCH_REDIS_URL"]
broker = RedisBroker(url=URL)
broker.add_middleware(Results(backend=RedisBackend(url=URL, use_namespace_prefix_keys=True)))
dramatiq.set_broker(broker)
_r = None


def counter():
    global _r
    if _r is None:
        _r = redis.Redis.from_url(URL)
    return _r


@dramatiq.actor(store_results=True, max_retries=0, queue_name="bench")
def noop(t0=None):
    start = time.time()
    counter().incr("bench:done")
    return {"start": start}
'''


# --- installation -------------------------------------------------------------------------

def ensure_dependencies() -> None:
    if not shutil.which("redis-server"):
        print("installing redis-server (apt-get)", flush=True)
        if subprocess.run(["apt-get", "install", "-y", "redis-server"], capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update"], capture_output=True)
            subprocess.run(["apt-get", "install", "-y", "redis-server"], check=True, capture_output=True)
    try:
        import celery  # noqa: F401
        import dramatiq  # noqa: F401
        import redis  # noqa: F401
    except ImportError:
        print("installing celery, dramatiq[redis], redis (pip)", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "celery", "dramatiq[redis]", "redis"], check=True)
        importlib.invalidate_caches()


# --- processes ------------------------------------------------------------------------------

class Proc:
    """A process started in its own session, stopped with its group by its PID."""

    def __init__(self, cmd: list[str], log: Path, **kw):
        self.log = open(log, "w")
        self.p = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True, **kw)

    def stop(self) -> None:
        try:
            os.killpg(self.p.pid, signal.SIGTERM)
            self.p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.p.pid, signal.SIGKILL)
            self.p.wait()
        except ProcessLookupError:
            pass
        self.log.close()


def start_redis(work: Path, mode: str) -> tuple[Proc, str]:
    port = free_port()
    d = work / f"redis-{mode}"
    d.mkdir()
    persistence = ["--appendonly", "no"] if mode == "none" else ["--appendonly", "yes", "--appendfsync", mode]
    proc = Proc(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(d), *persistence],
                work / f"redis-{mode}.log")
    import redis
    r = redis.Redis(port=port)
    for _ in range(200):
        try:
            r.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    return proc, f"redis://127.0.0.1:{port}/0"


# --- client processes -----------------------------------------------------------------------

def client_main(tool: str, target: dict, n: int, ready, go, results) -> None:
    """One enqueuing client (runs in a spawned process). `send(k)` enqueues k tasks in one call."""
    batch = target.get("batch", 1)
    try:
        if tool == "swell":
            session = requests.Session()
            headers = target["headers"]
            if batch > 1:
                url = target["batch_url"]
                bodies = {}

                def send(k: int) -> None:
                    if k not in bodies:
                        bodies[k] = json.dumps({"tasks": [{"payload": {}}] * k})
                    r = session.post(url, headers={**headers, "Content-Type": "application/json"}, data=bodies[k])
                    if r.status_code != 202 or len(r.json()["tasks"]) != k:
                        raise RuntimeError(f"batch enqueue answered {r.status_code}: {r.text[:200]}")
            else:
                url = target["url"]

                def send(k: int) -> None:
                    r = session.post(url, headers=headers, data="{}")
                    if r.status_code != 202:
                        raise RuntimeError(f"enqueue answered {r.status_code}: {r.text[:200]}")
        else:
            os.environ["BENCH_REDIS_URL"] = target["redis"]
            sys.path.insert(0, target["dir"])
            module = importlib.import_module(f"{tool}_app")
            if tool == "celery":
                module.app.connection_for_write().ensure_connection()
                if batch > 1:
                    app = module.app

                    def send(k: int) -> None:
                        # One producer (connection and channel) for the batch: the fastest
                        # of .delay, group(...).apply_async() and this, measured on this machine.
                        with app.producer_or_acquire() as producer:
                            for _ in range(k):
                                app.send_task("noop", args=[None], producer=producer)
                else:
                    def send(k: int) -> None:
                        module.noop.delay(None)
            else:
                if batch > 1:
                    import dramatiq

                    def send(k: int) -> None:
                        dramatiq.group(module.noop.message(None) for _ in range(k)).run()
                else:
                    def send(k: int) -> None:
                        module.noop.send(None)
        ready.put(os.getpid())
        go.wait()
        errors = 0
        left = n
        while left > 0:
            k = min(batch, left)
            try:
                send(k)
            except Exception:  # noqa: BLE001 - counted and reported
                errors += k
            left -= k
        results.put({"finished": time.time(), "errors": errors})
    except Exception as e:  # noqa: BLE001
        ready.put(os.getpid())
        results.put({"finished": time.time(), "errors": n, "exception": repr(e)})


def run_enqueue(tool: str, target: dict, total: int, clients: int, done_count, timeout: float = 900) -> dict:
    ctx = mp.get_context("spawn")
    ready, results, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    shares = [total // clients + (1 if i < total % clients else 0) for i in range(clients)]
    procs = [ctx.Process(target=client_main, args=(tool, target, n, ready, go, results)) for n in shares]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=120)
    start = time.time()
    go.set()
    outs = [results.get(timeout=timeout) for _ in procs]
    for p in procs:
        p.join()
    enqueue_s = max(o["finished"] for o in outs) - start
    errors = sum(o["errors"] for o in outs)
    exceptions = [o["exception"] for o in outs if "exception" in o]
    deadline = start + timeout
    done = 0
    while time.time() < deadline:
        done = done_count()
        if done >= total - errors:
            break
        time.sleep(0.01 if tool != "swell" else 0.1)
    e2e_s = time.time() - start
    return {"tasks": total, "enqueueErrors": errors, "exceptions": exceptions, "completed": done,
            "enqueueSeconds": round(enqueue_s, 3), "endToEndSeconds": round(e2e_s, 3),
            "enqueuePerSecond": round(total / enqueue_s), "endToEndPerSecond": round(done / e2e_s)}


def run_connections(target: dict, total: int, connections: int, done_count, timeout: float = 900) -> dict:
    """One request per task from bench/loadgen.js with `connections` requests in flight."""
    start = time.time()
    r = loadgen({"url": target["url"], "total": total, "concurrency": connections, "headers": target["headers"], "body": "{}"},
                timeout=timeout)
    enqueue_s = r["wallMs"] / 1000
    accepted = int(r["status"].get("202", 0))
    errors = total - accepted
    deadline = start + timeout
    done = 0
    while time.time() < deadline:
        done = done_count()
        if done >= accepted:
            break
        time.sleep(0.1)
    e2e_s = time.time() - start
    lat = r["latencies"]
    return {"tasks": total, "connections": connections, "enqueueErrors": errors,
            "exceptions": [f"status {r['status']}"] + r["lostMessages"] if errors else [], "completed": done,
            "enqueueSeconds": round(enqueue_s, 3), "endToEndSeconds": round(e2e_s, 3),
            "enqueuePerSecond": round(accepted / enqueue_s), "endToEndPerSecond": round(done / e2e_s),
            "enqueueP50Ms": round(percentile(lat, 50), 2), "enqueueP99Ms": round(percentile(lat, 99), 2)}


def latency_stats(starts: list[float], completions: list[float], extra: dict | None = None) -> dict:
    out = {"samples": len(completions),
           "startP50Ms": round(percentile(starts, 50), 3), "startP99Ms": round(percentile(starts, 99), 3),
           "completionP50Ms": round(percentile(completions, 50), 3), "completionP99Ms": round(percentile(completions, 99), 3)}
    out.update(extra or {})
    return out


# --- Celery and Dramatiq ---------------------------------------------------------------------

def run_python_tool(tool: str, pool: str, work: Path, redis_url: str, args) -> dict:
    import redis
    r = redis.Redis.from_url(redis_url)
    r.flushall()
    env = dict(os.environ, BENCH_REDIS_URL=redis_url, PYTHONPATH=str(work))
    if tool == "celery":
        kind, n = pool.split(":")
        cmd = [sys.executable, "-m", "celery", "-A", "celery_app", "worker", "-P", kind, "-c", n, "--loglevel", "WARNING",
               "--without-heartbeat", "--without-gossip", "--without-mingle"]
    else:
        procs_, threads = pool.split(":")
        cmd = [sys.executable, "-m", "dramatiq", "dramatiq_app", "-p", procs_, "-t", threads, "-Q", "bench"]
    worker = Proc(cmd, work / f"{tool}-{pool.replace(':', '-')}.log", cwd=str(work), env=env)
    os.environ["BENCH_REDIS_URL"] = redis_url
    sys.path.insert(0, str(work))
    module = importlib.import_module(f"{tool}_app")
    module = importlib.reload(module)  # a new Redis URL per mode
    try:
        def run_one():
            t0 = time.time()
            if tool == "celery":
                result = module.noop.delay(t0).get(timeout=60)
            else:
                result = module.noop.send(t0).get_result(block=True, timeout=60_000)
            return t0, result["start"], time.time()

        for _ in range(5):  # the worker is up and warm
            run_one()
        starts, completions = [], []
        for _ in range(args.samples):
            t0, started, finished = run_one()
            starts.append((started - t0) * 1000)
            completions.append((finished - t0) * 1000)
            time.sleep(0.01)
        latency = latency_stats(starts, completions)

        pattern = "celery-task-meta-*" if tool == "celery" else "dramatiq-results:*"
        out = {}
        for producer in args.producers.split(","):
            if producer == "conn":
                continue  # Swell only
            stored_before = sum(1 for _ in r.scan_iter(match=pattern, count=5000))
            r.set("bench:done", 0)
            target = {"redis": redis_url, "dir": str(work), "batch": args.batch if producer == "batch" else 1}
            throughput = run_enqueue(tool, target, args.tasks, args.clients, lambda: int(r.get("bench:done") or 0))
            time.sleep(0.5)
            # results stored by this throughput run
            throughput["resultsStored"] = sum(1 for _ in r.scan_iter(match=pattern, count=5000)) - stored_before
            throughput["producer"] = producer
            out[producer] = {"latency": latency, "throughput": throughput}
        return out
    finally:
        worker.stop()
        sys.path.remove(str(work))


# --- Swell ------------------------------------------------------------------------------------

class SwellMissing(Exception):
    pass


def parse_time(text: str) -> float | None:
    """An RFC 3339 time as epoch seconds; None unless it has a sub-second part."""
    if "." not in text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def run_swell(args) -> dict:
    server = Server()
    try:
        ok, err = try_deploy(server, "noop", {"index.js": NOOP}, runtime="nodejs20", handler="index.handler",
                             concurrency=64, **{"async": {"concurrency": 256}})
        if not ok:
            if "async" in err:
                raise SwellMissing(f"the manifest's `async` block ({err})")
            raise SystemExit(f"deploy failed: {err}")
        # For a profiler attached during the runs (`perf record -p PID`).
        print(f"swell serve pid {server.proc.pid}", file=sys.stderr, flush=True)
        base = f"{server.url}/v1/namespaces/default"
        url = f"{base}/functions/noop/invoke?mode=async"
        session = requests.Session()
        session.headers.update(server.headers)
        probe = session.post(url, data="{}")
        if probe.status_code != 202 or "taskId" not in probe.text:
            raise SwellMissing(f"async invoke (POST …/invoke?mode=async answered {probe.status_code}, expected 202 with a taskId)")
        if session.get(f"{base}/tasks/summary", params={"function": "noop"}).status_code == 404:
            raise SwellMissing("GET …/tasks/summary (404)")

        def run_one() -> tuple[float, dict, float]:
            t0 = time.time()
            r = session.post(url, data="{}")
            if r.status_code != 202:
                raise RuntimeError(f"enqueue answered {r.status_code}: {r.text[:200]}")
            task_id = r.json()["taskId"]
            deadline = time.time() + 60
            while time.time() < deadline:
                g = session.get(f"{base}/tasks/{task_id}")
                if g.status_code == 404:
                    raise SwellMissing(f"GET …/tasks/{{id}} (404 for the task just enqueued: {g.text[:200]})")
                g.raise_for_status()
                task = g.json()["task"]
                if task["state"] in ("succeeded", "failed", "stopped", "expired"):
                    finished = time.time()
                    if task["state"] != "succeeded":
                        raise RuntimeError(f"task {task_id} ended {task['state']}: {task.get('error')}")
                    return t0, task, finished
                time.sleep(0.001)
            raise RuntimeError(f"task {task_id} did not finish within 60 s")

        for _ in range(5):
            run_one()
        starts, completions, delays = [], [], []
        for _ in range(args.samples):
            t0, task, finished = run_one()
            attempt = task["attempts"][0]
            delays.append(float(attempt["queueDelayMs"]))
            started = parse_time(attempt["startedAt"])
            if started is not None:
                starts.append((started - t0) * 1000)
            completions.append((finished - t0) * 1000)
            time.sleep(0.01)
        if len(starts) < len(completions):  # startedAt without sub-second precision: the server's figure instead
            starts = delays
        latency = latency_stats(starts, completions, {"queueDelayP50Ms": round(percentile(delays, 50), 3),
                                                      "queueDelayP99Ms": round(percentile(delays, 99), 3)})

        def succeeded() -> int:
            s = session.get(f"{base}/tasks/summary", params={"function": "noop"}).json()
            return int(s.get("succeeded", 0)) + int(s.get("failed", 0))

        def metric(name: str) -> float | None:
            text = session.get(f"{server.url}/v1/metrics").text
            for line in text.splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[-1])
            return None

        out = {}
        for producer in args.producers.split(","):
            already = succeeded()
            commits0, tasks0 = metric("swell_task_journal_commit_tasks_count"), metric("swell_task_journal_commit_tasks_sum")
            all0, busy0 = metric("swell_task_journal_commits_total"), metric("swell_task_journal_commit_seconds_total")
            target = {"url": url, "batch_url": f"{base}/functions/noop/tasks", "headers": server.headers,
                      "batch": args.batch if producer == "batch" else 1}
            if producer == "batch":
                probe = session.post(target["batch_url"], json={"tasks": [{"payload": {}}]})
                if probe.status_code != 202:
                    raise SwellMissing(f"batch enqueue (POST …/functions/{{name}}/tasks answered {probe.status_code})")
                already += 1
                deadline = time.time() + 10
                while succeeded() < already and time.time() < deadline:
                    time.sleep(0.05)
            cpu0 = cpu_seconds([server.proc.pid])
            instances0 = {pid: cpu_seconds([pid]) for pid in children(server.proc.pid)}
            if producer == "conn":
                throughput = run_connections(target, args.tasks, args.connections, lambda: succeeded() - already)
            else:
                throughput = run_enqueue("swell", target, args.tasks, args.clients, lambda: succeeded() - already)
            # CPU per task run end to end (enqueue, dispatch, journal, HTTP): the server process's
            # and its children's (the instances; a child started during the run counts whole).
            cpu1 = cpu_seconds([server.proc.pid])
            instances1 = sum(cpu_seconds([pid]) - instances0.get(pid, 0) for pid in children(server.proc.pid))
            if throughput["completed"]:
                throughput["serverCpuUsPerTask"] = round((cpu1 - cpu0) / throughput["completed"] * 1e6)
                throughput["instanceCpuUsPerTask"] = round(instances1 / throughput["completed"] * 1e6)
            throughput["summary"] = session.get(f"{base}/tasks/summary", params={"function": "noop"}).json()
            throughput["producer"] = producer
            commits1, tasks1 = metric("swell_task_journal_commit_tasks_count"), metric("swell_task_journal_commit_tasks_sum")
            if None not in (commits0, commits1, tasks0, tasks1) and commits1 > commits0:
                throughput["tasksPerEnqueueCommit"] = round((tasks1 - tasks0) / (commits1 - commits0), 1)
            all1, busy1 = metric("swell_task_journal_commits_total"), metric("swell_task_journal_commit_seconds_total")
            if None not in (all0, all1, busy0, busy1):
                # Every journal transaction (inserts, starts, finishes) and the writer's time in them.
                throughput["journalCommits"] = int(all1 - all0)
                throughput["journalBusySeconds"] = round(busy1 - busy0, 3)
            out[producer] = {"latency": latency, "throughput": throughput}
        return out
    finally:
        server.stop()


# --- main ---------------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=20000)
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--clients", type=int, default=4, help="enqueuing client processes")
    ap.add_argument("--batch", type=int, default=100, help="tasks per call of the batch producers")
    ap.add_argument("--producers", default="single,batch,conn",
                    help="single (one task per call), batch (--batch per call), conn (Swell: one request per task, --connections in flight)")
    ap.add_argument("--connections", type=int, default=64, help="requests in flight of the conn producer")
    ap.add_argument("--redis-modes", default="none,everysec", help="Redis persistence: none, everysec, always")
    ap.add_argument("--celery-pools", default="prefork:2,threads:8")
    ap.add_argument("--dramatiq-pool", default="2:8", help="processes:threads")
    ap.add_argument("--skip-swell", action="store_true")
    ap.add_argument("--swell-only", action="store_true")
    ap.add_argument("--quick", action="store_true", help="2,000 tasks, 30 samples, Redis without persistence only")
    args = ap.parse_args()
    if args.quick:
        args.tasks, args.samples, args.redis_modes = 2000, 30, "none"

    work = Path(tempfile.mkdtemp(prefix="swell-async-"))
    (work / "celery_app.py").write_text(CELERY_APP)
    (work / "dramatiq_app.py").write_text(DRAMATIQ_APP)
    results: dict[str, dict] = {}
    swell_missing = None
    try:
        if not args.skip_swell:
            try:
                for producer, r in run_swell(args).items():
                    results[f"swell [{producer}]"] = r
            except SwellMissing as e:
                swell_missing = f"this swell binary does not support {e}"
                print(f"error: {swell_missing}; the Swell figures are TBD", file=sys.stderr, flush=True)
                if args.swell_only:
                    raise SystemExit(2)
        if not args.swell_only:
            ensure_dependencies()
            for mode in args.redis_modes.split(","):
                redis_proc, redis_url = start_redis(work, mode)
                try:
                    for pool in args.celery_pools.split(","):
                        for producer, r in run_python_tool("celery", pool, work, redis_url, args).items():
                            results[f"celery {pool} redis:{mode} [{producer}]"] = r
                    for producer, r in run_python_tool("dramatiq", args.dramatiq_pool, work, redis_url, args).items():
                        results[f"dramatiq {args.dramatiq_pool} redis:{mode} [{producer}]"] = r
                finally:
                    redis_proc.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"machine: {machine()}; {args.tasks} tasks by {args.clients} client processes; batch producers: {args.batch} tasks per call;"
          f" {args.samples} one-at-a-time samples")
    print(f"{'':44}{'enqueue/s':>10}{'e2e/s':>8}{'done':>7}{'start p50':>10}{'p99':>8}{'done p50':>9}{'p99':>8}  (ms)")
    for label, r in results.items():
        t, lat = r["throughput"], r["latency"]
        print(f"{label:44}{t['enqueuePerSecond']:>10}{t['endToEndPerSecond']:>8}{t['completed']:>7}"
              f"{lat['startP50Ms']:>10.2f}{lat['startP99Ms']:>8.2f}{lat['completionP50Ms']:>9.2f}{lat['completionP99Ms']:>8.2f}")
        if t["enqueueErrors"] or t["exceptions"]:
            print(f"  {label}: enqueue errors {t['enqueueErrors']} {t['exceptions'][:2]}")
        if "enqueueP50Ms" in t:
            print(f"  {label}: {t['connections']} connections, enqueue latency p50 {t['enqueueP50Ms']} ms, p99 {t['enqueueP99Ms']} ms")
        if "tasksPerEnqueueCommit" in t:
            print(f"  {label}: {t['tasksPerEnqueueCommit']} tasks per enqueue commit (fsync)")
        if "serverCpuUsPerTask" in t:
            print(f"  {label}: CPU per task: server {t['serverCpuUsPerTask']} µs, instances {t['instanceCpuUsPerTask']} µs")
        if "journalCommits" in t:
            print(f"  {label}: {t['journalCommits']} journal commits in all, writer busy {t['journalBusySeconds']} s"
                  f" of {t['endToEndSeconds']} s")
    swell_rows = {k: r for k, r in results.items() if k.startswith("swell")}
    if swell_rows:
        lat = next(iter(swell_rows.values()))["latency"]
        print(f"swell server-measured queueDelayMs p50 {lat['queueDelayP50Ms']} p99 {lat['queueDelayP99Ms']}")

    def best(prefix: str, producer: str | None = None) -> int | None:
        rates = [r["throughput"]["endToEndPerSecond"] for k, r in results.items()
                 if k.startswith(prefix) and ("redis:" not in k or "redis:none" in k) and (producer is None or k.endswith(f"[{producer}]"))]
        return max(rates) if rates else None

    ratios = {}
    swell_best, celery_best, dramatiq_best = best("swell"), best("celery"), best("dramatiq")
    if swell_best and celery_best:
        ratios["swellBestVsCeleryBest"] = round(swell_best / celery_best, 2)
    if swell_best and dramatiq_best:
        ratios["swellBestVsDramatiqBest"] = round(swell_best / dramatiq_best, 2)
    swell_single, celery_single = best("swell", "single"), best("celery", "single")
    if swell_single and celery_single:
        ratios["swellSingleVsCelerySingle"] = round(swell_single / celery_single, 2)
    if ratios:
        print("end-to-end throughput ratios, each tool's best row (Redis without persistence):",
              ", ".join(f"{k} {v}x" for k, v in ratios.items()))
    if swell_missing:
        print(f"Swell: TBD — {swell_missing}")
    summary("async_tasks", {"tasks": args.tasks, "clients": args.clients, "batch": args.batch, "samples": args.samples, "results": results,
                            "ratios": ratios, "swellMissing": swell_missing})
    if swell_missing:
        raise SystemExit(2)


if __name__ == "__main__":
    main()
