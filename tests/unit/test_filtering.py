"""Filters decide on the listener what is processed, skipped (marked) or read again later."""

import time

import pytest

from karafka_django.deserializers import raw_deserializer
from karafka_django.filtering import Delayer, Expirer, Throttler
from karafka_django.instrumentation import Monitor
from karafka_django.processing.filter_chain import apply_filters
from karafka_django.processing.jobs import SkipMarker
from karafka_django.processing.pause import Backoff
from karafka_django.testing import raw_message


def aged(offset: int, age_s: float = 0.0):
    """A message of t/0 produced ``age_s`` seconds ago."""
    return raw_message("t", 0, offset, b"{}", timestamp=time.time() - age_s)


@pytest.fixture
def coordinator_with(make_coordinator):
    def make(*filters):
        return make_coordinator(deserializer=raw_deserializer, max_messages=100, backoff=Backoff(1000, 1000),
                                filters=tuple(lambda f=f: f for f in filters))
    return make


def test_throttler_passes_the_limit_then_refetches_from_the_first_held_back_message(coordinator_with):
    coordinator = coordinator_with(Throttler(limit=3, interval_ms=60_000))
    run = apply_filters(coordinator, [aged(o) for o in range(10)], Monitor())
    assert [m.offset() for m in run.raw] == [0, 1, 2]
    assert run.refetch_from == 3 and run.refetch_after > time.monotonic() + 50
    again = apply_filters(coordinator, [aged(o) for o in range(3, 6)], Monitor())
    assert again.raw == [] and again.refetch_from == 3, "the window's budget is spent"


def test_expirer_skips_old_messages_and_a_marker_commits_past_trailing_ones(coordinator_with):
    events = []
    monitor = Monitor()
    monitor.subscribe("filtering.skipped", lambda event, payload: events.append(payload["count"]))
    coordinator = coordinator_with(Expirer(ttl_ms=1000))
    run = apply_filters(coordinator, [aged(0, age_s=5), aged(1), aged(2, age_s=5), aged(3, age_s=5)], monitor)
    assert [type(m).__name__ for m in run.raw] == ["Message", "SkipMarker"]
    assert run.raw[0].offset() == 1 and run.raw[1].offset() == 3 and run.refetch_from is None
    assert events == [3]
    [job] = coordinator.add(run.raw)
    assert [m.offset() for m in job.messages] == [1]
    coordinator.complete(job, mark_last=True)
    assert coordinator.offsets.marked == 4, "skipped messages are never read again"


def test_delayer_holds_back_young_messages(coordinator_with):
    coordinator = coordinator_with(Delayer(delay_ms=2000))
    run = apply_filters(coordinator, [aged(0, age_s=5), aged(1, age_s=1), aged(2)], Monitor())
    assert [m.offset() for m in run.raw] == [0]
    assert run.refetch_from == 1 and 0.5 < run.refetch_after - time.monotonic() < 1.5
    assert not any(isinstance(m, SkipMarker) for m in run.raw)
