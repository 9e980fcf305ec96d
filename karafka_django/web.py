"""What the admin pages read from Kafka (reports, errors, any topic) and the commands they send.

Reads assign partitions directly (no consumer group, nothing committed) and read to the end
of each partition rather than trusting a ListOffsets answer, so they are exact on any broker.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from confluent_kafka import Consumer, TopicPartition

from .charts import RANGES, Point, Sample, sample_times
from .conf import KarafkaConfig, get_config
from .instrumentation.client_logs import client_logger
from .instrumentation.records import Readings, read_error, read_report
from .positions import READER_SETTINGS, take
from .producer import producer
from .report_history import ReportHistory, sparkline

#: A process that missed this many report intervals is shown as stale; twice that, dropped.
STALE_AFTER_INTERVALS = 3
#: The first read of the reports topic goes this far back per partition (about 15 minutes of
#: reports of a few processes at the default interval); later reads take only what is new.
REPORTS_READ_BACK = 2000
#: A chart sample reads at most this many reports (one per process) at each time.
SAMPLED_PROCESSES = 500
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


class KafkaReader:
    """One per web process (:meth:`shared`): it keeps one consumer, which reads are serialised
    on, the reports it has read (:class:`ReportHistory`) and a short cache of the latest ones,
    so a page costs a few fetches, not a new client."""

    _shared: "KafkaReader | None" = None
    _shared_lock = threading.Lock()

    def __init__(self, config: KarafkaConfig):
        self.config = config
        self.kafka = config.tool_kafka
        self.pid = os.getpid()
        self.history = ReportHistory()
        self.reports = Readings(read_report)  # every report read so far: how many could not be shown
        self._lock = threading.Lock()  # one read at a time on the one consumer
        self._refresh_lock = threading.Lock()
        self._client: Consumer | None = None
        self._reports_next: dict[int, int] = {}  # reports topic partition -> next offset to read
        self._reports_read_at = 0.0
        self._samples: dict[tuple[datetime, timedelta], dict[str, Sample]] = {}  # closed chart samples

    @classmethod
    def shared(cls) -> "KafkaReader":
        """This process's reader for the current settings (a new one after a fork or a settings change)."""
        config = get_config()
        with cls._shared_lock:
            reader = cls._shared
            if reader is None or reader.config is not config or reader.pid != os.getpid():
                if reader is not None and reader.pid == os.getpid():
                    reader.close()
                reader = cls._shared = cls(config)
            return reader

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _consumer(self) -> Consumer:
        if self._client is None:
            self._client = Consumer({**self.kafka, **READER_SETTINGS, "group.id": f"karafka-web-{uuid.uuid4().hex}",
                                     "logger": client_logger("consumer")})
        return self._client

    def partitions(self, topic: str) -> list[int]:
        with self._lock:
            metadata = self._consumer().list_topics(topic, timeout=10).topics.get(topic)
            return sorted(metadata.partitions) if metadata and not metadata.error else []

    def read(self, topic: str, ranges: dict[int, tuple[int | None, int | None]], count_back: int = 0,
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
            consumer.assign(assignments)
            try:
                return self._read_assigned(consumer, stops, time.monotonic() + timeout, self.config.explorer_preview_bytes)
            finally:
                consumer.unassign()

    @staticmethod
    def _read_assigned(consumer: Consumer, stops: dict[int, int | None], deadline: float, preview_bytes: int,
                       keep: Callable[[Read], bool] | None = None) -> list[Read]:
        """What is assigned, each partition up to its stop (excluded), its end, or the first
        message ``keep`` refuses."""
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
                            message.headers() or [], datetime.fromtimestamp(millis / 1000, tz=timezone.utc) if kind else None,
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

    # -- the admin's views of the data -----------------------------------------------------------

    def refresh_reports(self) -> ReportHistory:
        """Read the reports that arrived since the last read (at most every half report interval)."""
        with self._refresh_lock:
            if time.monotonic() - self._reports_read_at < self.config.report_interval_ms / 2000:
                return self.history
            topic = self.config.reports_topic
            ranges = {p: (self._reports_next.get(p), None) for p in self.partitions(topic)}
            reads = self.read(topic, ranges, count_back=REPORTS_READ_BACK)
            for read in reads:
                self._reports_next[read.partition] = max(self._reports_next.get(read.partition, 0), read.offset + 1)
            self.history.add(self.reports.read([read.value for read in reads]))
            self._reports_read_at = time.monotonic()
            return self.history

    def processes(self) -> list[dict[str, Any]]:
        """The latest report of every process; stale ones flagged, long-gone ones dropped."""
        history = self.refresh_reports()
        now = datetime.now(timezone.utc)
        processes = []
        for latest in history.latest():
            report = dict(latest)
            silent = (now - datetime.fromisoformat(report["reported_at"])).total_seconds()
            interval = report["report_interval_ms"] / 1000
            if report["state"] == "stopped" or silent > 2 * STALE_AFTER_INTERVALS * interval:
                continue
            report["stale"] = silent > STALE_AFTER_INTERVALS * interval
            report["uptime_s"] = round((now - datetime.fromisoformat(report["started_at"])).total_seconds())
            report["lag"] = sum(p["lag"] for p in report["partitions"] if p["lag"] is not None and p["lag"] >= 0)
            report["flags"] = history.flags(report["id"])
            report["lag_sparkline"] = sparkline(history.lag_series(report["id"]))
            report["throughput_sparkline"] = sparkline(history.throughput_series(report["id"]))
            processes.append(report)
        return sorted(processes, key=lambda r: r["id"])

    def chart_points(self, span: timedelta) -> list[Point]:
        """The samples a chart of ``span`` is drawn from (see :mod:`karafka_django.charts`): one
        per aligned time, then the latest reports as of now."""
        now = datetime.now(timezone.utc)
        step, times = sample_times(span, now)
        points = [(at, self._sample_at(at, step, closed=at + step <= now)) for at in times]
        latest = {r["id"]: Sample.of(r) for r in self.refresh_reports().latest()}
        return points + [(now, latest)]

    def _sample_at(self, at: datetime, step: timedelta, closed: bool) -> dict[str, Sample]:
        """Each process's first report in ``[at, at + step)``; kept when that interval has passed."""
        key = (at, step)
        if key in self._samples:
            return self._samples[key]
        topic, end = self.config.reports_topic, at + step
        partitions = self.partitions(topic)
        with self._lock:
            consumer = self._consumer()
            found = consumer.offsets_for_times([TopicPartition(topic, p, int(at.timestamp() * 1000)) for p in partitions],
                                               timeout=10)
            starts = [tp for tp in found if tp.error is None and tp.offset >= 0]
            seen: set[bytes | None] = set()

            def keep(read: Read) -> bool:
                """Reports are keyed by process: a repeat means every process was seen. A report a
                step older than ``at`` is no clock skew but a broker without a time index (Tansu
                answers offset 0): no sample rather than a wrong one."""
                if read.timestamp is None or not at - step <= read.timestamp < end:
                    return False
                if read.raw_key in seen or len(seen) >= SAMPLED_PROCESSES:
                    return False
                seen.add(read.raw_key)
                return True

            reads = []
            if starts:
                consumer.assign(starts)
                try:
                    reads = self._read_assigned(consumer, {tp.partition: None for tp in starts}, time.monotonic() + 10, 0, keep)
                finally:
                    consumer.unassign()
        samples: dict[str, Sample] = {}
        for report in self.reports.read([read.value for read in reads]):
            samples.setdefault(report["id"], Sample.of(report))
        if closed:
            oldest = at - max(RANGES.values())
            self._samples = {k: v for k, v in self._samples.items() if k[0] >= oldest}
            self._samples[key] = samples
        return samples

    def errors(self) -> tuple[list[dict[str, Any]], int]:
        """The latest error records, newest first, and how many of those read were unreadable."""
        readings = Readings(read_error)
        records = readings.read([read.value for read in self.tail(self.config.errors_topic, 500)])
        return sorted(records, key=lambda r: datetime.fromisoformat(r["at"]), reverse=True), readings.unreadable

    def send(self, command: dict[str, Any]) -> None:
        producer.produce_sync(self.config.commands_topic, {**command, "sent_at": time.time()})
