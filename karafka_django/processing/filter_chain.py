"""The filter chain: applies a route's filters to a fetched run of one partition (see ``karafka_django.filtering``)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..instrumentation import Monitor
from ..messages import message_class
from .coordinator import Coordinator
from .jobs import SkipMarker


@dataclass
class FilteredRun:
    raw: list  # what to buffer: kept messages, plus a marker when skipped ones end the run
    refetch_from: int | None = None
    refetch_after: float | None = None  # monotonic


def apply_filters(coordinator: Coordinator, run: list, monitor: Monitor) -> FilteredRun:
    """Messages a filter leaves out before the ``refetch_from`` are skipped (marked, counted);
    from ``refetch_from`` on nothing is kept: the partition is read again from there."""
    kept = list(map(message_class(coordinator.route.deserializer), run))
    refetch_from: int | None = None
    pause_until: float | None = None
    for flt in coordinator.filters:
        result = flt.apply(kept)
        if result.refetch_from is not None and (refetch_from is None or result.refetch_from < refetch_from):
            refetch_from = result.refetch_from
        if result.pause_until is not None:
            pause_until = max(pause_until or 0.0, result.pause_until)
        passed = {m.offset for m in result.messages}
        skipped = [m for m in kept if m.offset not in passed and (refetch_from is None or m.offset < refetch_from)]
        kept = [m for m in result.messages if refetch_from is None or m.offset < refetch_from]
        if skipped and monitor.has_subscribers("filtering.skipped"):
            monitor.instrument("filtering.skipped", topic=coordinator.topic, partition=coordinator.partition,
                               filter=type(flt).__name__, count=len(skipped))
    buffered = [m._raw for m in kept]
    considered = [m for m in run if refetch_from is None or m.offset() < refetch_from]
    if considered and (not buffered or buffered[-1].offset() != considered[-1].offset()):
        buffered.append(SkipMarker(considered[-1].offset()))
    after = None if pause_until is None else time.monotonic() + max(0.0, pause_until - time.time())
    return FilteredRun(buffered, refetch_from, after)
