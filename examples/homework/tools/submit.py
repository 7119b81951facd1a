#!/usr/bin/env python3
"""Submits homework to the `homework` Kafka topic and (with --follow) prints the grades.

    python3 examples/homework/tools/submit.py 100 --follow
    python3 examples/homework/tools/submit.py 20 --invalid 2 --follow --broker 127.0.0.1:19393
    python3 examples/homework/tools/submit.py 0 --follow          # print new results until Ctrl-C (or --timeout s of quiet)

Each message is {"sample": "<random sample>"} keyed `student-K` (K in 1..--students), which
the grade function's Kafka trigger pushes to the function; the results come back on `graded`
keyed by the same student id, with the source offset in the `swell-source-*` headers.
`--invalid N` adds N messages that cannot be graded: after the trigger's attempts they
land on `homework-dlq` (with `swell-error-*` headers) instead of `graded`.

--follow starts reading `graded` (and `homework-dlq`) at their current ends before it
produces, then matches every result to the message it answers by source partition and
offset, and stops when each message is accounted for (or after --timeout seconds: exit 1).

Needs `python3 -m pip install confluent-kafka`. The broker defaults to $KAFKA_BROKER, else
127.0.0.1:19092 (what ./scripts/kafka-up.sh starts and examples/homework/swell.yaml names).
"""
import argparse
import json
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

SAMPLES = Path(__file__).resolve().parent.parent / "grader" / "samples"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("count", type=int, nargs="?", default=10, help="homework messages to produce (default 10)")
    p.add_argument("--broker", default=os.environ.get("KAFKA_BROKER", "127.0.0.1:19092"))
    p.add_argument("--topic", default="homework")
    p.add_argument("--result-topic", default="graded")
    p.add_argument("--dead-letter-topic", default="homework-dlq")
    p.add_argument("--students", type=int, default=20, help="keys student-1..student-N (default 20)")
    p.add_argument("--invalid", type=int, default=0, help="also produce N messages that cannot be graded (they end in the DLQ)")
    p.add_argument("--follow", action="store_true", help="read the results and print them")
    p.add_argument("--timeout", type=float, default=120, help="seconds --follow waits for all results (default 120)")
    p.add_argument("--seed", type=int, help="random seed (samples and students)")
    p.add_argument("--quiet", action="store_true", help="with --follow: only the summary")
    return p.parse_args()


def header(message, name):
    for k, v in message.headers() or []:
        if k == name:
            return v.decode(errors="replace") if v is not None else None
    return None


def end_offsets(consumer, topic):
    """The next offset of every partition of `topic` (where new records will land)."""
    meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
    if meta is None or meta.error is not None:
        raise SystemExit(f"topic {topic} not found on the broker: run ./scripts/kafka-up.sh (it creates it)")
    out = []
    for p in sorted(meta.partitions):
        _, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        out.append(TopicPartition(topic, p, high))
    return out


def produce(args, rng):
    samples = sorted(f.name for f in SAMPLES.glob("*.png"))
    producer = Producer({
        "bootstrap.servers": args.broker,
        "acks": "all",
        "partitioner": "murmur2_random",  # the Java client's partitioner: a student's messages share a partition
        "linger.ms": 5,
    })
    sent = {}  # (partition, offset) -> (key, what)
    failures = []
    messages = [(f"student-{rng.randint(1, args.students)}", {"sample": rng.choice(samples)}) for _ in range(args.count)]
    messages += [(f"student-{rng.randint(1, args.students)}", "not an image") for _ in range(args.invalid)]
    rng.shuffle(messages)

    def report(key, what):
        def callback(error, message):
            if error is not None:
                failures.append(f"{key}: {error}")
            else:
                sent[(message.partition(), message.offset())] = (key, what)
        return callback

    started = time.time()
    for key, value in messages:
        payload = json.dumps(value).encode() if isinstance(value, dict) else value.encode()
        what = value["sample"] if isinstance(value, dict) else repr(value)
        while True:
            try:
                producer.produce(args.topic, key=key.encode(), value=payload, on_delivery=report(key, what))
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    if producer.flush(30) != 0 or failures:
        raise SystemExit(f"not every message was delivered to {args.broker}: {failures[:3]}")
    print(f"produced {len(sent)} messages to {args.topic} on {args.broker} in {time.time() - started:.2f}s "
          f"({args.count} samples, {args.invalid} invalid, keys student-1..{args.students})", file=sys.stderr)
    return sent, started


def follow(args, consumer, sent, started):
    pending = dict(sent)
    verdicts = Counter()
    dead = 0
    deadline = time.time() + args.timeout
    last_progress = time.time()
    while (pending or not sent) and time.time() < deadline:
        message = consumer.poll(0.5)
        if message is None:
            if sent and time.time() - last_progress > 10:
                print(f"... waiting: {len(pending)} of {len(sent)} not answered yet (swell triggers get grade kafka)", file=sys.stderr)
                last_progress = time.time()
            continue
        if message.error():
            raise KafkaException(message.error())
        if not sent:
            deadline = time.time() + args.timeout  # following forever (count 0): no deadline while results arrive
        src = (header(message, "swell-source-partition"), header(message, "swell-source-offset"))
        where = f"{header(message, 'swell-source-topic')}-{src[0]}@{src[1]}"
        key = message.key().decode(errors="replace") if message.key() is not None else "-"
        matched = pending.pop((int(src[0]), int(src[1])), None) if None not in src else None
        if sent and matched is None:
            continue  # an answer to somebody else's message
        last_progress = time.time()
        if message.topic() == args.dead_letter_topic:
            dead += 1
            if not args.quiet:
                print(f"DLQ     {key:<12} {where:<16} {header(message, 'swell-error-type')}: {header(message, 'swell-error-message')}")
            continue
        try:
            result = json.loads(message.value())
        except ValueError:
            result = {"verdict": "?", "raw": message.value()[:80]}
        verdicts[result.get("verdict", "?")] += 1
        if not args.quiet:
            regions = "".join("x" if r.get("answered") else "." for r in result.get("regions", []))
            print(f"graded  {key:<12} {where:<16} {result.get('source', '-'):<26} {result.get('verdict', '?'):<9} "
                  f"{result.get('answeredRegions', '?')}/{result.get('totalRegions', '?')} [{regions}] "
                  f"{result.get('decodeMs', 0) + result.get('gradeMs', 0):.1f} ms")
    elapsed = time.time() - started
    answered = len(sent) - len(pending)
    summary = ", ".join(f"{v} {n}" for v, n in sorted(verdicts.items()))
    print(f"{answered}/{len(sent)} answered in {elapsed:.2f}s: {sum(verdicts.values())} on {args.result_topic} ({summary or 'none'}), "
          f"{dead} on {args.dead_letter_topic}", file=sys.stderr)
    if pending:
        missing = sorted(pending)[:5]
        print(f"{len(pending)} not answered within {args.timeout:.0f}s, e.g. " +
              ", ".join(f"{args.topic}-{p}@{o}" for p, o in missing) +
              ": is `swell serve` running with the example, and its trigger's broker this one? (swell triggers get grade kafka)",
              file=sys.stderr)
        return 1
    return 0


def main():
    args = parse_args()
    rng = random.Random(args.seed)
    consumer = None
    if args.follow:
        consumer = Consumer({
            "bootstrap.servers": args.broker,
            "group.id": f"homework-submit-{os.getpid()}",  # never committed: offsets are assigned
            "enable.auto.commit": False,
        })
        # Start at the current ends, before producing, so that no result is missed.
        consumer.assign(end_offsets(consumer, args.result_topic) + end_offsets(consumer, args.dead_letter_topic))
    sent, started = produce(args, rng) if args.count + args.invalid > 0 else ({}, time.time())
    if consumer is None:
        return 0
    try:
        return follow(args, consumer, sent, started)
    except KeyboardInterrupt:
        return 130
    finally:
        consumer.close()


if __name__ == "__main__":
    sys.exit(main())
