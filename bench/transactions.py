"""Consume-transform-produce with and without Kafka transactions (``./bench/run transactions``).

The same consumer (``benchapp.Deriver``: one derived message per input, every delivery waited
for) runs as a plain route (at-least-once) and as a ``transactional`` route (exactly once for
``read_committed`` readers), with batches of 100 and of 1,000 messages. Beside them, in the same
run, a raw confluent-kafka loop does what a transactional route does with one consumer and one
transactional producer: consume a batch, produce, send the offsets, commit.
"""

from __future__ import annotations

import statistics
import time
import uuid
from typing import TYPE_CHECKING, Any

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import NewTopic

if TYPE_CHECKING:
    from bench.bench import Bench

TOTAL, PARTITIONS, CONCURRENCY = 12_000, 6, 4
ROUNDS = 3


def transactions(bench: Bench) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for batch in (100, 1000):
        rates: dict[str, list[float]] = {"plain": [], "transactional": [], "raw_transactional": []}
        for _ in range(ROUNDS):
            for mode in ("plain", "transactional"):
                topic = _topics(bench)
                rates[mode].append(bench.framework_rate("Deriver", topic, TOTAL, concurrency=CONCURRENCY,
                                                        max_messages=batch, transactional=mode == "transactional"))
            rates["raw_transactional"].append(_raw_transactional_rate(bench, _topics(bench), batch))
        plain, transactional, raw = (statistics.median(rates[mode]) for mode in rates)
        results[f"batch_{batch}"] = {
            "plain_msgs_per_s": round(plain), "transactional_msgs_per_s": round(transactional),
            "raw_transactional_msgs_per_s": round(raw), "transactional_vs_plain": round(transactional / plain, 2),
            "transactional_vs_raw_transactional": round(transactional / raw, 2),
        }
    return {**results, "messages": TOTAL, "partitions": PARTITIONS, "concurrency": CONCURRENCY, "rounds": ROUNDS}


def _topics(bench: Bench) -> str:
    """A filled input topic and its empty output topic (``<input>.out``)."""
    topic = bench.topic("ctp", PARTITIONS, TOTAL)
    for future in bench.admin.create_topics([NewTopic(f"{topic}.out", PARTITIONS, 1)]).values():
        future.result(15)
    return topic


def _raw_transactional_rate(bench: Bench, topic: str, batch: int) -> float:
    """Messages/s of one consumer and one transactional producer: a transaction per batch."""
    servers = bench.broker.bootstrap_servers
    consumer = Consumer({"bootstrap.servers": servers, "group.id": f"raw-tx-{uuid.uuid4().hex[:8]}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False, "session.timeout.ms": 6000,
                         "fetch.queue.backoff.ms": 10})
    producer = Producer({"bootstrap.servers": servers, "transactional.id": f"raw-tx-{uuid.uuid4().hex[:8]}"})
    producer.init_transactions(30)
    consumer.subscribe([topic])
    target, seen, first, last = f"{topic}.out", 0, 0.0, 0.0
    try:
        while seen < TOTAL:
            messages = consumer.consume(batch, 0.5)
            if not messages:
                continue
            producer.begin_transaction()
            for message in messages:
                producer.produce(target, message.value(), key=message.key())
            producer.send_offsets_to_transaction(consumer.position(consumer.assignment()),
                                                 consumer.consumer_group_metadata(), 30)
            producer.commit_transaction(30)
            now = time.perf_counter()
            first, last, seen = first or now, now, seen + len(messages)
    finally:
        consumer.close()
    return seen / (last - first)
