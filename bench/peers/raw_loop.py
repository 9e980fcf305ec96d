"""A raw confluent-kafka loop: ``consume(1000)`` batches (``poll()`` one by one when timing
latency, as ``consume`` waits for its batch), the work, then the batch's offsets stored for the
auto-commit: the same at-least-once contract as the frameworks."""

from __future__ import annotations

import json

from confluent_kafka import Consumer, Message, TopicPartition

from bench.peers.common import LIBRDKAFKA, Rows, Tally, arguments


def store(consumer: Consumer, batch: list[Message]) -> None:
    last = {m.partition(): m.offset() for m in batch}
    consumer.store_offsets(offsets=[TopicPartition(batch[0].topic(), p, o + 1) for p, o in last.items()])


def main() -> None:
    args = arguments()
    tally, rows = Tally(args), Rows(args.dsn, "raw")
    consumer = Consumer({"bootstrap.servers": args.bootstrap, "group.id": args.group, "auto.offset.reset": "earliest",
                         "enable.auto.offset.store": False, **LIBRDKAFKA})
    consumer.subscribe([args.topic])
    while True:
        if args.work == "latency":
            message = consumer.poll(1.0)
            batch = [message] if message is not None and message.error() is None else []
        else:
            batch = [m for m in consumer.consume(1000, 1.0) if m.error() is None]
        if not batch:
            continue
        if args.work == "touch":
            for message in batch:
                message.offset()
                message.value()
            tally.done(len(batch))
        elif args.work == "json_pg":
            tally.started()
            rows.write([(m.partition(), m.offset(), json.loads(m.value())) for m in batch])
            tally.done(len(batch))
        else:
            for message in batch:
                tally.timed(message.value(), message.timestamp()[1])
        store(consumer, batch)


if __name__ == "__main__":
    main()
