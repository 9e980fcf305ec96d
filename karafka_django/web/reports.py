"""What the admin reads of the processes: their reports (latest, history, chart samples), the
errors they recorded, and the commands sent to them; through one :class:`TopicReader` per web
process (:meth:`AdminReader.shared`).
"""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from ..cluster.reader import Read, TopicReader
from ..conf import KarafkaConfig, get_config
from ..instrumentation.records import Readings, read_error, read_report
from ..producing.producer import producer
from .charts import RANGES, Point, Sample, sample_times, sparkline
from .history import ReportHistory

#: A process that missed this many report intervals is shown as stale; twice that, dropped.
STALE_AFTER_INTERVALS = 3
#: The first read of the reports topic goes this far back per partition (about 15 minutes of
#: reports of a few processes at the default interval); later reads take only what is new.
REPORTS_READ_BACK = 2000
#: A chart sample reads at most this many reports (one per process) at each time.
SAMPLED_PROCESSES = 500


class AdminReader:
    """One per web process (:meth:`shared`): its topic reader, the reports it has read
    (:class:`ReportHistory`, refreshed at most every half report interval) and the closed chart
    samples."""

    _shared: AdminReader | None = None
    _shared_lock = threading.Lock()

    def __init__(self, config: KarafkaConfig):
        self.config = config
        self.pid = os.getpid()
        self.topics = TopicReader(config.tool_kafka, config.explorer_preview_bytes)
        self.history = ReportHistory()
        self.reports = Readings(read_report)  # every report read so far: how many could not be shown
        self._refresh_lock = threading.Lock()
        self._reports_next: dict[int, int] = {}  # reports topic partition -> next offset to read
        self._reports_read_at = 0.0
        self._samples: dict[tuple[datetime, timedelta], dict[str, Sample]] = {}  # closed chart samples

    @classmethod
    def shared(cls) -> AdminReader:
        """This process's reader for the current settings (a new one after a fork or a settings change)."""
        config = get_config()
        with cls._shared_lock:
            reader = cls._shared
            if reader is None or reader.config is not config or reader.pid != os.getpid():
                if reader is not None and reader.pid == os.getpid():
                    reader.topics.close()
                reader = cls._shared = cls(config)
            return reader

    def refresh_reports(self) -> ReportHistory:
        """Read the reports that arrived since the last read (at most every half report interval)."""
        with self._refresh_lock:
            if time.monotonic() - self._reports_read_at < self.config.report_interval_ms / 2000:
                return self.history
            topic = self.config.reports_topic
            ranges = {p: (self._reports_next.get(p), None) for p in self.topics.partitions(topic)}
            reads = self.topics.read(topic, ranges, count_back=REPORTS_READ_BACK)
            for read in reads:
                self._reports_next[read.partition] = max(self._reports_next.get(read.partition, 0), read.offset + 1)
            self.history.add(self.reports.read([read.value for read in reads]))
            self._reports_read_at = time.monotonic()
            return self.history

    def processes(self) -> list[dict[str, Any]]:
        """The latest report of every process; stale ones flagged, long-gone ones dropped."""
        history = self.refresh_reports()
        now = datetime.now(UTC)
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
        """The samples a chart of ``span`` is drawn from (see :mod:`karafka_django.web.charts`): one
        per aligned time, then the latest reports as of now."""
        now = datetime.now(UTC)
        step, times = sample_times(span, now)
        points = [(at, self._sample_at(at, step, closed=at + step <= now)) for at in times]
        latest = {r["id"]: Sample.of(r) for r in self.refresh_reports().latest()}
        return points + [(now, latest)]

    def _sample_at(self, at: datetime, step: timedelta, closed: bool) -> dict[str, Sample]:
        """Each process's first report in ``[at, at + step)``; kept when that interval has passed."""
        key = (at, step)
        if key in self._samples:
            return self._samples[key]
        end, seen = at + step, set[bytes | None]()

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

        reads = self.topics.read_from_times(self.config.reports_topic, int(at.timestamp() * 1000), keep)
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
        records = readings.read([read.value for read in self.topics.tail(self.config.errors_topic, 500)])
        return sorted(records, key=lambda r: datetime.fromisoformat(r["at"]), reverse=True), readings.unreadable

    def send(self, command: dict[str, Any]) -> None:
        producer.produce_sync(self.config.commands_topic, {**command, "sent_at": time.time()})
