"""The reports the admin has read, kept per process for a quarter of an hour: what the
health flags and the sparklines are computed from (the reports topic is the only store).

Flags, per partition: a batch running longer than half of ``max.poll.interval.ms``, a lag that
grew in each of the last reports, a partition held (paused or backing off) for over a minute, a
partition stalled (its offset still for ``STALLED_PARTITION_TIMEOUT_MS`` with work waiting);
per process: an RSS that grew report after report.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

WINDOW = timedelta(minutes=15)
LAG_GROWING_REPORTS = 5  # the lag grew in each of this many consecutive reports
RSS_GROWING_REPORTS = 10  # and the RSS in each of these, by RSS_GROWTH_MIN_MB at least in all
RSS_GROWTH_MIN_MB = 5.0
PAUSED_TOO_LONG_S = 60


def _at(report: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(report["reported_at"])


class ReportHistory:
    def __init__(self) -> None:
        self.reports: dict[str, list[dict[str, Any]]] = {}  # process id -> oldest first

    def add(self, reports: list[dict[str, Any]], now: datetime | None = None) -> None:
        for report in reports:
            self.reports.setdefault(report["id"], []).append(report)
        oldest = (now or datetime.now(UTC)) - WINDOW
        for process_id in list(self.reports):
            kept = sorted((r for r in self.reports[process_id] if _at(r) >= oldest), key=_at)
            if kept:
                self.reports[process_id] = kept
            else:
                del self.reports[process_id]

    def latest(self) -> list[dict[str, Any]]:
        return [reports[-1] for reports in self.reports.values()]

    def of(self, process_id: str) -> list[dict[str, Any]]:
        return self.reports.get(process_id, [])

    # -- what the pages draw ---------------------------------------------------------------------

    def lag_series(self, process_id: str) -> list[float]:
        return [sum(p["lag"] or 0 for p in r["partitions"]) for r in self.of(process_id)]

    def throughput_series(self, process_id: str) -> list[float]:
        """Messages processed per second between consecutive reports."""
        reports, rates = self.of(process_id), []
        for before, after in zip(reports, reports[1:]):
            seconds = (_at(after) - _at(before)).total_seconds()
            if seconds > 0 and after["processed"] >= before["processed"]:
                rates.append((after["processed"] - before["processed"]) / seconds)
        return rates

    def flags(self, process_id: str) -> dict[str, Any]:
        """``{"process": [...], "partitions": {(consumer_group, topic, partition): [...]}}``."""
        reports = self.of(process_id)
        if not reports:
            return {"process": [], "partitions": {}}
        latest = reports[-1]
        process_flags = []
        rss = [r["rss_mb"] for r in reports[-RSS_GROWING_REPORTS:]]
        if len(rss) == RSS_GROWING_REPORTS and _growing(rss) and rss[-1] - rss[0] >= RSS_GROWTH_MIN_MB:
            process_flags.append(f"RSS grew in each of the last {RSS_GROWING_REPORTS} reports ({rss[0]} -> {rss[-1]} MB)")
        max_poll = {li["consumer_group"]: li.get("max_poll_interval_s") for li in latest["listeners"]}
        partitions: dict[tuple[str, str, int], list[str]] = {}
        for p in latest["partitions"]:
            key, found = (p["consumer_group"], p["topic"], p["partition"]), []
            limit = max_poll.get(p["consumer_group"])
            if p.get("running_s") is not None and limit and p["running_s"] > limit / 2:
                found.append(f"batch running {p['running_s']:.0f} s (max.poll.interval {limit:.0f} s)")
            if p.get("stalled"):
                found.append(f"stalled {p.get('stalled_s') or 0:.0f} s: {p['stalled']}")
            if (p.get("paused_s") or 0) > PAUSED_TOO_LONG_S:
                found.append(f"paused {p['paused_s']:.0f} s")
            lags = _partition_values(reports[-(LAG_GROWING_REPORTS + 1):], key, lambda q: q["lag"])
            if len(lags) == LAG_GROWING_REPORTS + 1 and None not in lags and _growing(lags, strictly=True):
                found.append(f"lag grew in each of the last {LAG_GROWING_REPORTS} reports ({lags[0]} -> {lags[-1]})")
            if found:
                partitions[key] = found
        return {"process": process_flags, "partitions": partitions}


def _partition_values(reports: list[dict[str, Any]], key: tuple, value: Callable[[dict], Any]) -> list[Any]:
    values = []
    for report in reports:
        found = [p for p in report["partitions"] if (p["consumer_group"], p["topic"], p["partition"]) == key]
        values.append(value(found[0]) if found else None)
    return values


def _growing(values: list[float], strictly: bool = False) -> bool:
    pairs = list(zip(values, values[1:]))
    return all(b > a for a, b in pairs) if strictly else all(b >= a for a, b in pairs) and values[-1] > values[0]
