"""Reading any topic as it is (the admin's pages, the ``karafka_dlq`` command): partitions are
assigned directly (no consumer group, nothing committed) and read to the end of each partition
rather than trusting a ListOffsets answer, so reads are exact on any broker.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from ..connection import clients
from .positions import READER_SETTINGS, take


@dataclass
class Read:
    topic: str
    partition: int
    offset: int
    raw_key: bytes | None
    value: bytes | None
    raw_headers: list[tuple[str, bytes | None]]  # as sent: binary values, repeated names
    timestamp: datetime | None
    preview_bytes: int = 10_000  # EXPLORER_PREVIEW_BYTES: how much of the value a page shows

    @property
    def key(self) -> str | None:
        return self.raw_key.decode("utf-8", "replace") if self.raw_key else None

    @property
    def headers(self) -> dict[str, str]:
        return {k: (v or b"").decode("utf-8", "replace") for k, v in self.raw_headers}

    @property
    def size(self) -> int:
        return len(self.value or b"")

    @property
    def truncated(self) -> bool:
        return self.size > self.preview_bytes

    @property
    def binary(self) -> bool:
        try:
            (self.value or b"").decode("utf-8")
            return False
        except UnicodeDecodeError:
            return True

    @property
    def text(self) -> str:
        """What a page shows of the value: JSON indented, other text as is, binary as hex; at most
        ``preview_bytes`` of it (the whole value is a download)."""
        if self.value is None:
            return ""
        head = self.value[:self.preview_bytes]
        if self.binary:
            return head.hex(" ")
        if not self.truncated:
            try:
                return json.dumps(json.loads(self.value), indent=2, ensure_ascii=False)
            except ValueError:
                pass
        return head.decode("utf-8", "replace")


class TopicReader:
    """One consumer that reads are serialised on (its lock): a page or a command costs a few
    fetches, not a new client."""

    def __init__(self, kafka: dict[str, Any], preview_bytes: int = 10_000,
                 consumer_factory: Callable[..., Consumer] = clients.consumer, failures: clients.Failures | None = None):
        """``kafka``: a reading client's settings (``KarafkaConfig.tool_kafka``: cluster and credentials);
        ``failures`` learns what the cluster says of this client (a command's error message)."""
        self.kafka = kafka
        self.failures = failures
        self.preview_bytes = preview_bytes
        self.consumer_factory = consumer_factory  # clients.consumer; a scripted one in unit tests
        self._lock = threading.Lock()  # one read at a time on the one consumer
        self._client: Consumer | None = None

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _consumer(self) -> Consumer:
        if self._client is None:
            role = {"error_cb": self.failures.on_error} if self.failures else {}
            self._client = self.consumer_factory(self.kafka, **READER_SETTINGS, **role,
                                                 **{"group.id": f"karafka-reader-{uuid.uuid4().hex}"})
        return self._client

    def explain(self, exc: BaseException) -> str:
        """Why a read failed: what the cluster refused this client for, if it did."""
        return self.failures.explain(exc, self._client) if self.failures else str(exc)

    def topic_names(self) -> list[str]:
        with self._lock:
            return sorted(self._consumer().list_topics(timeout=10).topics)

    def partitions(self, topic: str) -> list[int]:
        with self._lock:
            metadata = self._consumer().list_topics(topic, timeout=10).topics.get(topic)
            return sorted(metadata.partitions) if metadata and not metadata.error else []

    def read(self, topic: str, ranges: Mapping[int, tuple[int | None, int | None]], count_back: int = 0,
             timeout: float = 10) -> list[Read]:
        """Messages of ``topic`` per partition from ``start`` to ``stop`` (excluded); a ``start`` of
        None means ``count_back`` before the end, a ``stop`` of None the true end."""
        with self._lock:
            consumer = self._consumer()
            assignments, stops, past_the_end = [], {}, True
            for partition, (start, stop) in ranges.items():
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
                if start is None or start < 0:
                    start = max(low, high - count_back if start is None else start)
                past_the_end &= start >= high
                assignments.append(TopicPartition(topic, partition, start))
                stops[partition] = stop
            if not assignments:
                return []
            if past_the_end:
                return []  # nothing there yet
            return self._read_assigned(consumer, assignments, stops, timeout, self.preview_bytes)

    @staticmethod
    def _read_assigned(consumer: Consumer, assignments: list[TopicPartition], stops: dict[int, int | None],
                       timeout: float, preview_bytes: int, keep: Callable[[Read], bool] | None = None) -> list[Read]:
        """``assignments`` read, each partition up to its stop (excluded), its end, or the first
        message ``keep`` refuses."""
        consumer.assign(assignments)
        try:
            return TopicReader._take_until(consumer, stops, time.monotonic() + timeout, preview_bytes, keep)
        finally:
            consumer.unassign()

    @staticmethod
    def _take_until(consumer: Consumer, stops: dict[int, int | None], deadline: float, preview_bytes: int,
                    keep: Callable[[Read], bool] | None) -> list[Read]:
        found, open_partitions = [], set(stops)
        while open_partitions and time.monotonic() < deadline:
            for message in take(consumer, 0.5):
                partition = message.partition()
                if message.error() is not None:
                    open_partitions.discard(partition)
                    continue
                stop = stops.get(partition)
                if stop is not None and message.offset() >= stop:
                    open_partitions.discard(partition)
                    continue
                if partition not in open_partitions:
                    continue  # already fetched past what ``keep`` refused
                kind, millis = message.timestamp()
                read = Read(message.topic(), partition, message.offset(), message.key(), message.value(),
                            message.headers() or [], datetime.fromtimestamp(millis / 1000, tz=UTC) if kind else None,
                            preview_bytes)
                if keep is not None and not keep(read):
                    open_partitions.discard(partition)
                    continue
                found.append(read)
                if stop is not None and message.offset() + 1 >= stop:
                    open_partitions.discard(partition)
        return found

    def tail(self, topic: str, count: int) -> list[Read]:
        """About the last ``count`` messages of every partition (read to the true end)."""
        return self.read(topic, {p: (None, None) for p in self.partitions(topic)}, count_back=count)

    def read_from_times(self, topic: str, millis: int, keep: Callable[[Read], bool], timeout: float = 10) -> list[Read]:
        """From the first message at or after ``millis`` in each partition (the broker's time
        index), each partition's messages up to the first that ``keep`` refuses or its end."""
        partitions = self.partitions(topic)
        with self._lock:
            consumer = self._consumer()
            found = consumer.offsets_for_times([TopicPartition(topic, p, millis) for p in partitions], timeout=timeout)
            starts = [tp for tp in found if tp.error is None and tp.offset >= 0]
            if not starts:
                return []
            return self._read_assigned(consumer, starts, {tp.partition: None for tp in starts}, timeout, self.preview_bytes, keep)
