"""Monitor wrappers (around_<event>) and the listeners named in KARAFKA['LISTENERS']."""

from contextlib import contextmanager

import pytest

from karafka_django.instrumentation.listeners import build
from karafka_django.instrumentation.monitor import Monitor


class Recorder:
    def __init__(self, tag: str = "x"):
        self.tag, self.seen, self.events = tag, [], []

    def on_consumer_consumed(self, event, payload):
        self.events.append(payload)

    @contextmanager
    def around_producer_produce(self, payload):
        self.seen.append("enter")
        payload["headers"] = [*(payload["headers"] or []), ("tag", self.tag.encode())]
        try:
            yield
        except ValueError:
            self.seen.append("raised")
            raise
        self.seen.append("exit")


def test_a_wrapper_runs_around_the_block_and_may_change_the_payload():
    monitor, recorder = Monitor(), Recorder()
    with monitor.around("producer.produce", topic="t", headers=None) as payload:
        assert payload["headers"] is None, "nobody wraps: the payload as given"
    monitor.subscribe(recorder)
    with monitor.around("producer.produce", topic="t", headers=None) as payload:
        assert payload["headers"] == [("tag", b"x")] and recorder.seen == ["enter"]
    assert recorder.seen == ["enter", "exit"]
    with pytest.raises(ValueError), monitor.around("producer.produce", topic="t", headers=None):
        raise ValueError("the block's error reaches the wrapper and goes on")
    assert recorder.seen[-1] == "raised"


def test_a_broken_wrapper_is_skipped_and_unsubscribe_removes_both_kinds():
    class Broken:
        def around_producer_produce(self, payload):
            raise RuntimeError("broken")

    monitor, recorder = Monitor(), Recorder()
    monitor.subscribe(Broken())
    monitor.subscribe(recorder)
    with monitor.around("producer.produce", topic="t", headers=None) as payload:
        assert payload["headers"] == [("tag", b"x")]
    monitor.instrument("consumer.consumed", size=1)
    monitor.unsubscribe(recorder)
    monitor.instrument("consumer.consumed", size=2)
    with monitor.around("producer.produce", topic="t", headers=None) as payload:
        assert payload["headers"] is None
    assert recorder.events == [{"size": 1}]


def test_listeners_are_built_from_paths_and_dicts_and_bad_ones_are_problems():
    listeners, problems = build([
        "tests.unit.test_listeners.Recorder",
        {"class": "tests.unit.test_listeners.Recorder", "tag": "y"},
        42,
        "no.such.Listener",
        {"class": "tests.unit.test_listeners.Recorder", "colour": "red"},
    ])
    assert [type(li).__name__ for li in listeners] == ["Recorder", "Recorder"] and listeners[1].tag == "y"
    assert [p.id for p in problems] == ["karafka.E080", "karafka.E081", "karafka.E082"]
    assert "KARAFKA['LISTENERS'][4]" in problems[2].msg
    assert build("not a list")[1][0].id == "karafka.E080"
