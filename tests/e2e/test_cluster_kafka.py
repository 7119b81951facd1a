"""Scale-out with Kafka: three `swell serve` nodes on one PostgreSQL run one Kafka trigger
(the function is deployed once; every node runs its triggers) on a 4-partition topic. The
consumer group splits the partitions across the nodes; a node killed with SIGKILL mid-run
hands its partitions to the survivors; every record is processed and per-key order holds.

Needs a Kafka-compatible broker (SWELL_KAFKA_BROKER, as test_kafka_trigger.py) and a
PostgreSQL (SWELL_TEST_POSTGRES_URL, else the installed server started by postgres_e2e);
skipped when either is missing. scripts/test.sh provides both.
"""

from __future__ import annotations

import glob
import os
import signal
import time
from collections import defaultdict

import pytest

from postgres_e2e import postgres  # noqa: F401  (fixture)
from test_kafka_groups import assigned, per_key_order_problems
from test_kafka_trigger import (BROKER, committed, create_topic, delete_function, distinct_done, kafka_fn, keyed, produce,
                                rec_dir, records_of, status, wait_until)  # noqa: F401 (rec_dir: a fixture)

ADMIN_KEY = "swk_e2e_cluster_kafka_admin_key_1"

pytestmark = [
    pytest.mark.skipif(not BROKER, reason="SWELL_KAFKA_BROKER not set (scripts/test.sh starts tansu and sets it)"),
    pytest.mark.skipif(not os.environ.get("SWELL_TEST_POSTGRES_URL") and not glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                       reason="no PostgreSQL: SWELL_TEST_POSTGRES_URL not set and no server installed"),
]


def test_three_postgres_nodes_split_a_topic_and_take_over_a_killed_nodes_partitions(postgres, make_server, tmp_path, unique,
                                                                                   rec_dir):
    url = postgres.fresh_database()
    nodes = [make_server(tmp_path / f"node{i}", extra_args=["--store", url, "--memory-budget", "2048"],
                         env={"SWELL_ADMIN_KEY": ADMIN_KEY}) for i in range(3)]
    clients = [n.client() for n in nodes]
    topic = create_topic(unique("t-cluster"))
    fn = unique("kcluster")
    group = f"g-{fn}"
    # 40 ms per record, per-key order, 8 in flight per node: the 1,500 records produced once the
    # partitions are split take several seconds, so the kill lands while records are running.
    config = kafka_fn(rec_dir, [topic], delay_ms=40, ordering="key", concurrency=8, batchSize=1, groupId=group)
    try:
        # Deployed once: the catalog reaches the other nodes, and every node runs the trigger.
        clients[0].deploy(tmp_path / "app", {fn: config})

        def split():
            parts = [assigned(c, fn) for c in clients]
            union = set().union(*parts)
            return (all(parts) and sum(len(p) for p in parts) == 4 and union == {0, 1, 2, 3}) and parts

        parts = wait_until(split, 60, 0.3)
        assert parts, f"partitions per node: {[assigned(c, fn) for c in clients]} (want all four split over the three nodes)"
        assert sorted(len(p) for p in parts) == [1, 1, 2], parts  # range assignor: 4 over 3 members
        first = produce(topic, keyed(1500, 40))

        # Every node processes its own partitions (the records are written by instance processes
        # of the node that owns the partition).
        def on_every_node():
            done = {p for p, _ in distinct_done(rec_dir)}
            return len(distinct_done(rec_dir)) >= 60 and all(done & p for p in parts)
        assert wait_until(on_every_node, 60, 0.1), f"{len(distinct_done(rec_dir))} done, partitions {parts}"
        # Kill the node with two partitions (the most work to take over) while records are running.
        victim_index = max(range(3), key=lambda i: len(parts[i]))
        victim, victim_parts = nodes[victim_index], parts[victim_index]
        survivors = [c for i, c in enumerate(clients) if i != victim_index]
        assert wait_until(lambda: (status(clients[victim_index], fn).get("kafka") or {}).get("inFlight", 0) >= 1, 20, 0.05), \
            status(clients[victim_index], fn)
        done_before = len(distinct_done(rec_dir))
        assert done_before < len(first), "everything was processed before the kill: the test proves nothing"
        os.kill(victim.pid, signal.SIGKILL)
        victim.proc.wait()
        killed = time.monotonic()
        killed_ms = time.time() * 1000

        def taken_over():
            now = [assigned(c, fn) for c in survivors]
            return set().union(*now) == {0, 1, 2, 3} and all(now) and now

        after = wait_until(taken_over, 45, 0.2)
        takeover = time.monotonic() - killed
        assert after, f"the survivors read {[assigned(c, fn) for c in survivors]} {takeover:.0f} s after the kill of " \
                      f"the node reading {sorted(victim_parts)}"
        assert all(len(p) == 2 for p in after), after
        # The victim's partitions now run on the survivors; more records arrive after the takeover.
        more = produce(topic, keyed(200, 30, extra=lambda i: {"late": True}))
        want = set(first) | set(more)
        assert wait_until(lambda: distinct_done(rec_dir) >= want, 180, 0.25), \
            f"{len(want - distinct_done(rec_dir))} records never processed; survivors: {[status(c, fn) for c in survivors]}"
        runs = records_of(rec_dir)
        problems = per_key_order_problems([o for o in runs if not (o["v"] or {}).get("late")]) + \
            per_key_order_problems([o for o in runs if (o["v"] or {}).get("late")])
        assert not problems, f"{len(problems)} per-key order problems, e.g. {problems[:5]}"
        # The victim's partitions saw records finish after its death (taken over, not just done before).
        late_on_victim = [o for o in runs if o["partition"] in victim_parts and o["start"] > killed_ms]
        assert late_on_victim, f"no record of partitions {sorted(victim_parts)} ran after the kill"
        # Everything is committed in the end, by the survivors' generation.
        per_partition = defaultdict(int)
        for p, _ in list(first) + list(more):
            per_partition[p] += 1
        assert wait_until(lambda: committed(group, topic) == dict(per_partition), 30, 0.5), \
            f"committed {committed(group, topic)}, want {dict(per_partition)}"
        dupes = len(runs) - len(want)
        print(f"3 PostgreSQL nodes: takeover of {sorted(victim_parts)} {takeover:.1f} s after kill -9; "
              f"{done_before} of {len(first)} done at the kill; {dupes} records processed twice")
        assert takeover < 30, f"takeover took {takeover:.1f} s"
    finally:
        for n, c in zip(nodes, clients):
            if n.alive():
                delete_function(c, fn)
                break
