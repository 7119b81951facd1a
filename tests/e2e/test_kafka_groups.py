"""Kafka triggers across nodes: the consumer group protocol splits a topic's partitions
between the `swell serve` processes running the same trigger (and any other consumer of the
group), a node killed with -9 hands its partitions over, every record is processed, per-key
order is kept, and a confluent-kafka consumer in the same group shares the partitions.

Needs a Kafka-compatible broker: SWELL_KAFKA_BROKER=host:port (scripts/test.sh starts tansu
and exports it) and confluent-kafka; skipped otherwise. The helpers are those of
test_kafka_trigger.py (the recorder function, producing, reading committed offsets).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import defaultdict

import pytest

from test_kafka_trigger import (BROKER, NS, committed, committed_sum, create_topic, delete_function, distinct_done,
                                kafka_fn, keyed, produce, rec_dir, records_of, status, wait_until)  # noqa: F401 (rec_dir: a fixture)

pytestmark = pytest.mark.skipif(not BROKER, reason="SWELL_KAFKA_BROKER not set (scripts/test.sh starts tansu and sets it)")
if BROKER:
    from confluent_kafka import Consumer


def assigned(swell, fn: str) -> set[int]:
    """The partitions this node reads now (its trigger status lists only those)."""
    try:
        st = status(swell, fn)
    except Exception:  # noqa: BLE001 - the node is gone
        return set()
    return {p["partition"] for p in (st.get("kafka") or {}).get("partitions", [])}


def per_key_order_problems(runs: list[dict]) -> list[str]:
    """Per key, the last run of each record (by start) must come in sequence order, each
    starting after the previous one ended (runs abandoned or cut by a kill may repeat)."""
    by_key: dict[str, dict[int, tuple[int, int]]] = defaultdict(dict)
    for o in sorted(runs, key=lambda o: o["start"]):
        by_key[o["v"]["key"]][o["v"]["seq"]] = (o["start"], o["end"])
    problems = []
    for key, seqs in by_key.items():
        order = sorted(seqs)
        for a, b in zip(order, order[1:]):
            if seqs[b][0] < seqs[a][1]:
                problems.append(f"{key}: seq {b} started at {seqs[b][0]} before seq {a} ended at {seqs[a][1]}")
    return problems


def test_two_nodes_split_the_partitions_and_a_killed_nodes_are_taken_over(make_server, tmp_path, unique, rec_dir):
    topic = create_topic(unique("t-split"))
    fn = unique("ksplit")
    group = f"g-{fn}"
    a, b = make_server(), make_server()
    ca, cb = a.client(), b.client()
    config = kafka_fn(rec_dir, [topic], delay_ms=20, ordering="key", concurrency=8, batchSize=1, groupId=group)
    first = produce(topic, keyed(400, 40))
    try:
        ca.deploy(tmp_path / "app-a", {fn: config})
        cb.deploy(tmp_path / "app-b", {fn: config})

        def split():
            pa, pb = assigned(ca, fn), assigned(cb, fn)
            return len(pa) == 2 and len(pb) == 2 and pa | pb == {0, 1, 2, 3} and (pa, pb)

        both = wait_until(split, 40, 0.3)
        assert both, f"A reads {assigned(ca, fn)}, B reads {assigned(cb, fn)}: want 2 partitions each"
        pa, pb = both
        # Both nodes process records from their own partitions (B's first records can come a
        # while after A's: its instances cold-start after the join).
        def by_node():
            nodes = defaultdict(set)
            for o in records_of(rec_dir):
                nodes[o["partition"] in pa].add(o["partition"])
            return nodes

        assert wait_until(lambda: len(distinct_done(rec_dir)) >= 150 and by_node()[True] and by_node()[False], 60, 0.25), \
            f"{len(distinct_done(rec_dir))} done; partitions seen by node (True: A): {dict(by_node())}"

        # kill -9 of B mid-stream: A takes B's partitions over within the session timeout and a join.
        os.kill(b.pid, signal.SIGKILL)
        b.proc.wait()
        killed = time.monotonic()
        assert wait_until(lambda: assigned(ca, fn) == {0, 1, 2, 3}, 30, 0.2), f"A reads {assigned(ca, fn)} after B died"
        takeover = time.monotonic() - killed
        more = produce(topic, keyed(200, 40, extra=lambda i: {"late": True}))
        want = set(first) | set(more)
        assert wait_until(lambda: distinct_done(rec_dir) >= want, 120, 0.25), \
            f"{len(want - distinct_done(rec_dir))} records never processed; status {status(ca, fn)}"
        runs = records_of(rec_dir)
        problems = per_key_order_problems([o for o in runs if not (o["v"] or {}).get("late")]) + \
            per_key_order_problems([o for o in runs if (o["v"] or {}).get("late")])
        assert not problems, f"{len(problems)} per-key order problems, e.g. {problems[:5]}"
        # Everything committed, with A's generation (a commit of another generation would be refused).
        per_partition = defaultdict(int)
        for p, _ in list(first) + list(more):
            per_partition[p] += 1
        assert wait_until(lambda: committed(group, topic) == dict(per_partition), 20, 0.5), \
            f"committed {committed(group, topic)}, want {dict(per_partition)}"
        dupes = len(runs) - len(want)
        print(f"takeover after kill -9: {takeover:.1f} s; {dupes} records processed twice")
        assert takeover < 20, f"takeover took {takeover:.1f} s"
    finally:
        if a.alive():
            delete_function(ca, fn)


def test_a_swell_node_and_a_confluent_consumer_share_the_group(swell, app_dir, unique, rec_dir):
    topic = create_topic(unique("t-mixed"))
    fn = unique("kmixed")
    group = f"g-{fn}"
    consumer = Consumer({"bootstrap.servers": BROKER, "group.id": group, "enable.auto.commit": False,
                         "auto.offset.reset": "earliest", "partition.assignment.strategy": "range",
                         "session.timeout.ms": 6000, "heartbeat.interval.ms": 1000})
    theirs: set[int] = set()
    consumed: list[tuple[int, int]] = []
    stop = threading.Event()
    lock = threading.Lock()

    def on_assign(c, partitions):
        with lock:
            theirs.clear()
            theirs.update(p.partition for p in partitions)

    def on_revoke(c, partitions):
        with lock:
            theirs.clear()

    consumer.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)

    def poll():
        while not stop.is_set():
            m = consumer.poll(0.2)
            if m is None or m.error():
                continue
            with lock:
                consumed.append((m.partition(), m.offset()))
            consumer.commit(message=m, asynchronous=False)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    closed = False
    try:
        assert wait_until(lambda: len(theirs) == 4, 30, 0.2), f"the confluent consumer alone has {theirs}"
        swell.deploy(app_dir, {fn: kafka_fn(rec_dir, [topic], concurrency=8, groupId=group)})

        def split():
            ours = assigned(swell, fn)
            with lock:
                t = set(theirs)
            return len(ours) == 2 and len(t) == 2 and ours | t == {0, 1, 2, 3} and (ours, t)

        both = wait_until(split, 40, 0.3)
        assert both, f"Swell reads {assigned(swell, fn)}, the confluent consumer {theirs}: want 2 partitions each"
        ours, t = both
        delivered = produce(topic, keyed(200, 20))
        want_ours = {d for d in delivered if d[0] in ours}
        want_theirs = {d for d in delivered if d[0] in t}
        assert want_ours and want_theirs
        assert wait_until(lambda: distinct_done(rec_dir) >= want_ours, 60, 0.25), \
            f"Swell processed {len(distinct_done(rec_dir) & want_ours)} of {len(want_ours)}"
        assert wait_until(lambda: set(consumed) >= want_theirs, 60, 0.25), \
            f"the confluent consumer got {len(set(consumed) & want_theirs)} of {len(want_theirs)}"
        # Each side read only its own partitions.
        assert {p for p, _ in distinct_done(rec_dir)} <= ours, distinct_done(rec_dir)
        with lock:
            assert {p for p, _ in consumed} <= t, consumed
        # The consumer leaves the group: Swell takes every partition and reads on from its commits.
        stop.set()
        thread.join(timeout=10)
        consumer.close()
        closed = True
        assert wait_until(lambda: assigned(swell, fn) == {0, 1, 2, 3}, 30, 0.2), f"Swell reads {assigned(swell, fn)}"
        later = produce(topic, keyed(100, 20, extra=lambda i: {"later": True}))
        assert wait_until(lambda: distinct_done(rec_dir) >= set(later), 60, 0.25)
        # Swell did not re-read what the confluent consumer had committed.
        rerun = distinct_done(rec_dir) & want_theirs
        assert not rerun, f"Swell re-processed {len(rerun)} records the other member had committed"
        per_partition = defaultdict(int)
        for p, _ in delivered + later:
            per_partition[p] += 1
        assert wait_until(lambda: committed(group, topic) == dict(per_partition), 20, 0.5), committed(group, topic)
    finally:
        stop.set()
        if not closed:
            thread.join(timeout=10)
            consumer.close()
        delete_function(swell, fn)


def test_a_rebalance_never_commits_past_records_still_running(make_server, tmp_path, unique, rec_dir):
    """Records that take longer (10 s) than the 4 s revoke grace are abandoned at a rebalance: the
    offsets committed (sampled all along) never pass a record not yet done, and every record
    is processed in the end."""
    topic = create_topic(unique("t-revoke"))
    fn = unique("krevoke")
    group = f"g-{fn}"
    delivered = produce(topic, keyed(8, 8))
    config = kafka_fn(rec_dir, [topic], delay_ms=10000, ordering="partition", concurrency=4, batchSize=1, groupId=group)
    config["timeout"] = 30
    from test_kafka_trigger import Committed
    samples: list[tuple[float, dict[int, int]]] = []
    stop = threading.Event()

    def sampler():
        c = Committed(group, topic)
        try:
            while not stop.is_set():
                try:
                    samples.append((time.time() * 1000, c.get()))
                except Exception:  # noqa: BLE001 - a slow answer: next sample
                    continue
                time.sleep(0.1)
        finally:
            c.close()

    a = make_server()
    ca = a.client()
    thread = threading.Thread(target=sampler, daemon=True)
    thread.start()
    b = None
    try:
        ca.deploy(tmp_path / "app-a", {fn: config})
        assert wait_until(lambda: assigned(ca, fn) == {0, 1, 2, 3} and status(ca, fn)["kafka"]["inFlight"] >= 1, 30, 0.2), \
            status(ca, fn)
        time.sleep(1)  # A's first records are a second into their 10 s
        b = make_server()
        cb = b.client()
        cb.deploy(tmp_path / "app-b", {fn: config})
        assert wait_until(lambda: len(assigned(ca, fn)) == 2 and len(assigned(cb, fn)) == 2, 40, 0.2), \
            (assigned(ca, fn), assigned(cb, fn))
        assert wait_until(lambda: distinct_done(rec_dir) >= set(delivered), 120, 0.25), \
            f"{len(set(delivered) - distinct_done(rec_dir))} records never processed"
        want = {p: sum(1 for q, _ in delivered if q == p) for p in range(4)}
        assert wait_until(lambda: samples and {p: max(c, 0) for p, c in samples[-1][1].items()} == want, 20, 0.2), \
            (samples[-1:], want)
    finally:
        stop.set()
        thread.join(timeout=15)
        for server, client in ((a, ca), (b, b.client() if b else None)):
            if server and server.alive() and client:
                delete_function(client, fn)
    completed_at: dict[tuple[int, int], float] = {}
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
    assert len(samples) >= 20, f"only {len(samples)} samples"
    assert not violations, f"{len(violations)} samples committed past unfinished records: {violations[:5]}"
    dupes = len(records_of(rec_dir)) - len(delivered)
    assert dupes >= 1, "no record was abandoned and run again: the rebalance did not cut into running work"
    print(f"rebalance during 10 s records: {dupes} records run twice, {len(samples)} commit samples, no commit past running work")
