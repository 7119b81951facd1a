#!/usr/bin/env python3
"""confluent-kafka (librdkafka) side of SwellKafka's interoperability tests.

Every subcommand prints one JSON document on stdout. Run with --broker host:port.
Needs `python3 -m pip install confluent-kafka`.
"""
import argparse
import json
import sys

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def create_topic(args):
    admin = AdminClient({"bootstrap.servers": args.broker})
    futures = admin.create_topics([NewTopic(args.topic, num_partitions=args.partitions, replication_factor=1)])
    for topic, future in futures.items():
        try:
            future.result(timeout=30)
        except Exception as error:  # an existing topic is fine
            if "TOPIC_ALREADY_EXISTS" not in str(error) and "already exists" not in str(error):
                raise
    print(json.dumps({"topic": args.topic, "partitions": args.partitions}))


def produce(args):
    """Reads [{"key": str|null, "value": str, "headers": {k: v}}] from stdin; prints where each landed."""
    records = json.load(sys.stdin)
    producer = Producer({
        "bootstrap.servers": args.broker,
        "acks": "all",
        "compression.type": args.compression,
        "partitioner": "murmur2_random",  # the Java client's partitioner
        "linger.ms": 50,
    })
    delivered = [None] * len(records)

    def report(index):
        def callback(error, message):
            if error is not None:
                raise RuntimeError(str(error))
            delivered[index] = {"partition": message.partition(), "offset": message.offset()}
        return callback

    for index, record in enumerate(records):
        kwargs = {"value": record["value"].encode(), "on_delivery": report(index)}
        if record.get("key") is not None:
            kwargs["key"] = record["key"].encode()
        if "partition" in record:
            kwargs["partition"] = record["partition"]
        if record.get("headers"):
            kwargs["headers"] = [(k, v.encode()) for k, v in record["headers"].items()]
        producer.produce(args.topic, **kwargs)
    if producer.flush(30) != 0:
        raise RuntimeError("messages not delivered")
    print(json.dumps(delivered))


def consume(args):
    """Reads `count` records of one partition from `offset` without joining a group."""
    consumer = Consumer({
        "bootstrap.servers": args.broker,
        "group.id": "swellkafka-tool-reader",
        "enable.auto.commit": False,
    })
    consumer.assign([TopicPartition(args.topic, args.partition, args.offset)])
    out = []
    while len(out) < args.count:
        message = consumer.poll(10)
        if message is None:
            break
        if message.error():
            raise RuntimeError(str(message.error()))
        out.append({
            "offset": message.offset(),
            "key": message.key().decode() if message.key() is not None else None,
            "value": message.value().decode() if message.value() is not None else None,
            "headers": {k: v.decode() for k, v in (message.headers() or [])},
        })
    consumer.close()
    print(json.dumps(out))


def commit(args):
    """Commits partition=offset pairs for a group, without joining it."""
    consumer = Consumer({"bootstrap.servers": args.broker, "group.id": args.group, "enable.auto.commit": False})
    offsets = [TopicPartition(args.topic, int(p), int(o)) for p, o in (pair.split("=") for pair in args.offsets)]
    result = consumer.commit(offsets=offsets, asynchronous=False)
    consumer.close()
    print(json.dumps({str(tp.partition): tp.offset for tp in result}))


def committed(args):
    consumer = Consumer({"bootstrap.servers": args.broker, "group.id": args.group, "enable.auto.commit": False})
    result = consumer.committed([TopicPartition(args.topic, p) for p in args.partitions], timeout=30)
    consumer.close()
    print(json.dumps({str(tp.partition): tp.offset for tp in result}))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--broker", required=True)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("create-topic"); p.add_argument("topic"); p.add_argument("partitions", type=int); p.set_defaults(run=create_topic)
    p = commands.add_parser("produce"); p.add_argument("topic"); p.add_argument("--compression", default="none"); p.set_defaults(run=produce)
    p = commands.add_parser("consume"); p.add_argument("topic"); p.add_argument("partition", type=int); p.add_argument("offset", type=int); p.add_argument("count", type=int); p.set_defaults(run=consume)
    p = commands.add_parser("commit"); p.add_argument("group"); p.add_argument("topic"); p.add_argument("offsets", nargs="+"); p.set_defaults(run=commit)
    p = commands.add_parser("committed"); p.add_argument("group"); p.add_argument("topic"); p.add_argument("partitions", type=int, nargs="+"); p.set_defaults(run=committed)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
