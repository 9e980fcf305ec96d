"""Where to read a partition from: an offset, ``"earliest"``/``"latest"``, or a time.

A time is resolved with the broker's time index (``offsets_for_times``): the earliest offset whose
timestamp is at or after that time, Kafka's own definition (what ``kafka-consumer-groups
--to-datetime`` uses).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, TopicPartition
from django.utils import timezone

from ..connection import clients

Position = int | str | datetime
LOGICAL = {"earliest": OFFSET_BEGINNING, "latest": OFFSET_END}
#: A reading consumer (admin pages, commands): nothing committed, the end of a partition and an
#: offset out of range reported (not silently reset), and a broker that holds an empty fetch
#: answers within 50 ms (the default 500 ms would be every page's floor).
READER_SETTINGS = {"enable.auto.commit": False, "enable.partition.eof": True, "auto.offset.reset": "error",
                   "fetch.wait.max.ms": 50}


def take(consumer: Consumer, wait_s: float, count: int = 500) -> list:
    """What librdkafka already holds (up to ``count``) without waiting for a full batch; when
    it holds nothing, wait up to ``wait_s`` for one message (or end-of-partition event)."""
    return consumer.consume(count, 0) or consumer.consume(1, wait_s)


def parse_position(position: Any) -> Position:
    """``position`` checked: an offset >= 0, "earliest", "latest" or a datetime (a naive one is
    in the current time zone); anything else raises ``ValueError``."""
    if isinstance(position, datetime):
        return position if timezone.is_aware(position) else timezone.make_aware(position)
    if isinstance(position, str) and position in LOGICAL:
        return position
    if isinstance(position, int) and not isinstance(position, bool) and position >= 0:
        return position
    raise ValueError(f"a position is an offset >= 0, 'earliest', 'latest' or a datetime, not {position!r}")


class PositionReader:
    """A throwaway consumer (no group membership, nothing committed) that turns positions into
    offsets. Use as a context manager."""

    def __init__(self, kafka: dict[str, Any], timeout: float = 30):
        self.timeout = timeout
        self.consumer = clients.consumer(kafka, **READER_SETTINGS, **{"group.id": f"karafka-positions-{uuid.uuid4().hex}"})

    def __enter__(self) -> PositionReader:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.consumer.close()

    def partitions(self, topic: str) -> list[int]:
        metadata = self.consumer.list_topics(topic, timeout=self.timeout).topics.get(topic)
        if metadata is None or metadata.error is not None:
            raise ValueError(f"topic '{topic}' does not exist")
        return sorted(metadata.partitions)

    def watermarks(self, topic: str, partition: int) -> tuple[int, int]:
        return self.consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=self.timeout)

    def offset(self, topic: str, partition: int, position: Position) -> int:
        """The offset ``position`` names in this partition (the end when no message is at or
        after a time)."""
        position = parse_position(position)
        if isinstance(position, int):
            return position
        low, high = self.watermarks(topic, partition)
        if isinstance(position, str):
            return low if position == "earliest" else high
        return self._first_at_or_after(topic, partition, int(position.timestamp() * 1000), high)

    def _first_at_or_after(self, topic: str, partition: int, millis: int, high: int) -> int:
        answer = self.consumer.offsets_for_times([TopicPartition(topic, partition, millis)], timeout=self.timeout)[0]
        if answer.error is not None:
            raise ValueError(f"{topic}/{partition}: the broker could not look up time {millis}: {answer.error}")
        return answer.offset if answer.offset >= 0 else high  # negative: no message at or after that time
