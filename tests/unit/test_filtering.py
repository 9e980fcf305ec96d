"""Filters decide on the listener what is processed, skipped (marked) or read again later."""

import time

from confluent_kafka import TIMESTAMP_CREATE_TIME

from karafka_django import BaseConsumer
from karafka_django.deserializers import raw_deserializer
from karafka_django.filtering import Delayer, Expirer, Throttler
from karafka_django.instrumentation import Monitor
from karafka_django.processing.coordinator import Coordinator
from karafka_django.processing.pause import Backoff
from karafka_django.processing.filter_chain import apply_filters
from karafka_django.processing.jobs import SkipMarker
from karafka_django.routing import Route


class Raw:
    def __init__(self, offset: int, age_s: float = 0.0):
        self._offset, self._ts = offset, int((time.time() - age_s) * 1000)

    def topic(self): return "t"
    def partition(self): return 0
    def offset(self): return self._offset
    def value(self): return b"{}"
    def __len__(self): return 2
    def timestamp(self): return (TIMESTAMP_CREATE_TIME, self._ts)


def coordinator_with(*filters) -> Coordinator:
    route = Route("t", BaseConsumer, "g", "g", raw_deserializer, filters=tuple(lambda f=f: f for f in filters))
    return Coordinator("t", 0, route=route, max_messages=100, backoff=Backoff(1000, 1000))


def test_throttler_passes_the_limit_then_refetches_from_the_first_held_back_message():
    coordinator = coordinator_with(Throttler(limit=3, interval_ms=60_000))
    run = apply_filters(coordinator, [Raw(o) for o in range(10)], Monitor())
    assert [m.offset() for m in run.raw] == [0, 1, 2]
    assert run.refetch_from == 3 and run.refetch_after > time.monotonic() + 50
    again = apply_filters(coordinator, [Raw(o) for o in range(3, 6)], Monitor())
    assert again.raw == [] and again.refetch_from == 3, "the window's budget is spent"


def test_expirer_skips_old_messages_and_a_marker_commits_past_trailing_ones():
    events = []
    monitor = Monitor()
    monitor.subscribe("filtering.skipped", lambda event, payload: events.append(payload["count"]))
    coordinator = coordinator_with(Expirer(ttl_ms=1000))
    run = apply_filters(coordinator, [Raw(0, age_s=5), Raw(1), Raw(2, age_s=5), Raw(3, age_s=5)], monitor)
    assert [type(m).__name__ for m in run.raw] == ["Raw", "SkipMarker"]
    assert run.raw[0].offset() == 1 and run.raw[1].offset() == 3 and run.refetch_from is None
    assert events == [3]
    [job] = coordinator.add(run.raw)
    assert [m.offset() for m in job.messages] == [1]
    coordinator.complete(job, mark_last=True)
    assert coordinator.marked == 4, "skipped messages are never read again"


def test_delayer_holds_back_young_messages():
    coordinator = coordinator_with(Delayer(delay_ms=2000))
    run = apply_filters(coordinator, [Raw(0, age_s=5), Raw(1, age_s=1), Raw(2)], Monitor())
    assert [m.offset() for m in run.raw] == [0]
    assert run.refetch_from == 1 and 0.5 < run.refetch_after - time.monotonic() < 1.5
    assert not any(isinstance(m, SkipMarker) for m in run.raw)
