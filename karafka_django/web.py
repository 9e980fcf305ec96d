"""What the admin pages read from Kafka (reports, errors, any topic) and the commands they send.

Reads assign partitions directly (no consumer group, nothing committed) and read to the end
of each partition rather than trusting a ListOffsets answer, so they are exact on any broker.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from .conf import KarafkaConfig
from .instrumentation.client_logs import client_logger
from .producer import producer

#: A process that missed this many report intervals is shown as stale; twice that, dropped.
STALE_AFTER_INTERVALS = 3
SECRET_MARKERS = ("password", "secret", "ssl.key", "sasl.oauthbearer", "token")


def masked(config: dict[str, Any]) -> dict[str, Any]:
    """librdkafka settings fit to show: secrets replaced by asterisks."""
    return {k: ("********" if any(m in k for m in SECRET_MARKERS) else v) for k, v in config.items()}


@dataclass
class Read:
    topic: str
    partition: int
    offset: int
    raw_key: bytes | None
    value: bytes | None
    raw_headers: list[tuple[str, bytes | None]]  # as sent: binary values, repeated names
    timestamp: datetime | None

    @property
    def key(self) -> str | None:
        return self.raw_key.decode("utf-8", "replace") if self.raw_key else None

    @property
    def headers(self) -> dict[str, str]:
        return {k: (v or b"").decode("utf-8", "replace") for k, v in self.raw_headers}

    @property
    def text(self) -> str:
        if self.value is None:
            return ""
        try:
            return json.dumps(json.loads(self.value), indent=2, ensure_ascii=False)
        except ValueError:
            return self.value.decode("utf-8", "replace")


class KafkaReader:
    def __init__(self, config: KarafkaConfig):
        self.config = config
        self.kafka = config.tool_kafka

    def _consumer(self) -> Consumer:
        return Consumer({**self.kafka, "group.id": f"karafka-web-{uuid.uuid4().hex}", "enable.auto.commit": False,
                         "logger": client_logger("consumer"),
                         "enable.partition.eof": True})

    def partitions(self, topic: str) -> list[int]:
        consumer = self._consumer()
        try:
            metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
            return sorted(metadata.partitions) if metadata and not metadata.error else []
        finally:
            consumer.close()

    def read(self, topic: str, ranges: dict[int, tuple[int | None, int | None]], count_back: int = 0,
             timeout: float = 10) -> list[Read]:
        """Messages of ``topic`` per partition from ``start`` to ``stop`` (excluded); a ``start`` of
        None means ``count_back`` before the end, a ``stop`` of None the true end."""
        consumer = self._consumer()
        try:
            assignments, stops = [], {}
            for partition, (start, stop) in ranges.items():
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
                first = start if start is not None else high - count_back
                assignments.append(TopicPartition(topic, partition, max(low, first)))
                stops[partition] = stop
            if not assignments:
                return []
            consumer.assign(assignments)
            found, open_partitions = [], set(ranges)
            deadline = time.monotonic() + timeout
            while open_partitions and time.monotonic() < deadline:
                for message in consumer.consume(500, 0.5):
                    partition = message.partition()
                    if message.error() is not None:
                        open_partitions.discard(partition)
                        continue
                    stop = stops.get(partition)
                    if stop is not None and message.offset() >= stop:
                        open_partitions.discard(partition)
                        continue
                    kind, millis = message.timestamp()
                    found.append(Read(
                        message.topic(), partition, message.offset(), message.key(), message.value(),
                        message.headers() or [], datetime.fromtimestamp(millis / 1000, tz=timezone.utc) if kind else None,
                    ))
            return found
        finally:
            consumer.close()

    def tail(self, topic: str, count: int) -> list[Read]:
        """About the last ``count`` messages of every partition (read to the true end)."""
        return self.read(topic, {p: (None, None) for p in self.partitions(topic)}, count_back=count)

    # -- the admin's views of the data -----------------------------------------------------------

    def processes(self) -> list[dict[str, Any]]:
        """The latest report of every process; stale ones flagged, long-gone ones dropped."""
        latest: dict[str, dict] = {}
        for read in self.tail(self.config.reports_topic, 200):
            report = json.loads(read.value)
            if report["id"] not in latest or report["reported_at"] > latest[report["id"]]["reported_at"]:
                latest[report["id"]] = report
        now = datetime.now(timezone.utc)
        processes = []
        for report in latest.values():
            silent = (now - datetime.fromisoformat(report["reported_at"])).total_seconds()
            interval = report["report_interval_ms"] / 1000
            if report["state"] == "stopped" or silent > 2 * STALE_AFTER_INTERVALS * interval:
                continue
            report["stale"] = silent > STALE_AFTER_INTERVALS * interval
            report["uptime_s"] = round((now - datetime.fromisoformat(report["started_at"])).total_seconds())
            report["lag"] = sum(p["lag"] for p in report["partitions"] if (p["lag"] or -1) >= 0)
            processes.append(report)
        return sorted(processes, key=lambda r: r["id"])

    def errors(self) -> list[dict[str, Any]]:
        records = [json.loads(read.value) for read in self.tail(self.config.errors_topic, 500)]
        return sorted(records, key=lambda r: r["at"], reverse=True)

    def send(self, command: dict[str, Any]) -> None:
        producer.produce_sync(self.config.commands_topic, {**command, "sent_at": time.time()})
