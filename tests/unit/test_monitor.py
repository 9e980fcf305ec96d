"""The monitor: a bug in telling about something never reaches what is being told about."""

import logging
from contextlib import contextmanager

import pytest

from karafka_django.instrumentation.monitor import Monitor


def test_a_subscriber_that_always_raises_is_logged_once_per_cause_counted_and_the_others_still_run(caplog):
    monitor, seen = Monitor(), []

    def broken(_event, _payload):
        raise KeyError("field")

    monitor.subscribe("consumer.consumed", broken)
    monitor.subscribe("consumer.consumed", lambda _event, payload: seen.append(payload["n"]))
    with caplog.at_level(logging.ERROR, "karafka_django.monitor"):
        for n in range(100):
            monitor.instrument("consumer.consumed", n=n)
    assert seen == list(range(100)), "the other subscriber saw every event"
    lines = [r for r in caplog.records if "instrumentation failed" in r.getMessage()]
    assert len(lines) == 1 and "broken on consumer.consumed raised KeyError" in lines[0].getMessage()
    assert lines[0].exc_info is not None, "the first line of a cause has its traceback"
    [(where, event)] = monitor.failures()
    assert event == "consumer.consumed" and where.endswith("broken")
    assert monitor.failures()[(where, event)] == 100


def test_another_cause_of_the_same_subscriber_is_logged_again(caplog):
    monitor = Monitor()

    def sometimes(_event, payload):
        if payload["n"] % 2:
            raise ValueError("odd")
        raise KeyError("even")

    monitor.subscribe("error.occurred", sometimes)
    with caplog.at_level(logging.ERROR, "karafka_django.monitor"):
        for n in range(10):
            monitor.instrument("error.occurred", n=n)
    assert sum("instrumentation failed" in r.getMessage() for r in caplog.records) == 2


def test_an_exception_that_cannot_be_printed_is_reported_by_its_class():
    class Unprintable(Exception):
        def __str__(self):
            raise RuntimeError("no text")

    def broken(_event, _payload):
        raise Unprintable()

    monitor, seen = Monitor(), []
    monitor.subscribe("error.occurred", lambda _event, payload: seen.append(payload))
    monitor.subscribe("consumer.consumed", broken)
    monitor.error("consumer.consume.error", Unprintable(), topic="t")
    assert seen[-1]["error"] == "Unprintable: <unprintable>"
    monitor.instrument("consumer.consumed")  # a subscriber raising one: still contained
    assert list(monitor.failures().values()) == [1]
    monitor.error("consumer.consume.error", ValueError("bad"), topic="t", attempt=2)
    assert seen[-1]["error"] == "ValueError: bad" and seen[-1]["topic"] == "t" and seen[-1]["attempt"] == 2


@pytest.mark.parametrize("fails_on", ["enter", "exit"])
def test_a_wrapper_that_fails_leaves_the_blocks_outcome_as_it_was(fails_on):
    class Tracer:
        @contextmanager
        def around_consumer_consume(self, payload):
            if fails_on == "enter":
                raise RuntimeError("tracer down")
            try:
                yield
            finally:
                raise RuntimeError("tracer down")

    monitor = Monitor()
    monitor.subscribe(Tracer())
    with monitor.around("consumer.consume", consumer=None) as payload:
        ran = payload is not None
    assert ran
    with pytest.raises(ValueError), monitor.around("consumer.consume", consumer=None):
        raise ValueError("the consumer's own error")
    assert sum(monitor.failures().values()) == 2


def test_a_wrapper_cannot_swallow_the_blocks_exception():
    class Swallower:
        @contextmanager
        def around_consumer_consume(self, payload):
            try:
                yield
            except Exception:
                pass  # a wrapper that hides the error would mark a failed batch as done

    monitor = Monitor()
    monitor.subscribe(Swallower())
    with pytest.raises(ValueError), monitor.around("consumer.consume", consumer=None):
        raise ValueError("must reach the executor")
