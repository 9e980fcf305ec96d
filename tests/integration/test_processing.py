"""The processing model end to end: real broker, real PostgreSQL, a real server process."""

import time

import pytest
from django.db.models import Count

from tests.integration.harness import unique, wait_until
from tests.testapp.models import HookCall, Record

pytestmark = pytest.mark.integration

CONSUMER = "tests.testapp.consumers.RecordingConsumer"


def assert_in_order_once(topic: str) -> None:
    rows = Record.objects.filter(topic=topic)
    assert not rows.values("partition", "offset").annotate(n=Count("id")).filter(n__gt=1).exists(), "duplicates"
    by_partition: dict[int, list[int]] = {}
    for partition, offset in rows.order_by("id").values_list("partition", "offset"):
        by_partition.setdefault(partition, []).append(offset)
    for partition, offsets in by_partition.items():
        assert offsets == sorted(offsets), f"partition {partition} processed out of order"


def test_every_message_once_in_order_committed_and_db_connections_bounded(kafka, make_server, db_connections):
    big, big_ends = kafka.backlog("events", 6, 20_000)
    small, small_ends = kafka.backlog("audit", 6, 600)
    # Two subscription groups (two librdkafka consumers), each in a consumer group of its own: no
    # rebalance between them, so every partition keeps the consumer that ran its last batch.
    routes = [
        {"topic": big, "consumer": CONSUMER, "consumer_group": f"{make_server.group}-events", "subscription_group": "events"},
        {"topic": small, "consumer": CONSUMER, "consumer_group": f"{make_server.group}-audit", "subscription_group": "audit"},
    ]
    server = make_server(routes, CONCURRENCY=4).start()
    sampler = db_connections(server)
    wait_until(lambda: Record.objects.count() >= 20_600, 120, "all messages written")
    assert server.stop() == 0
    peak = sampler.stop()

    assert Record.objects.count() == 20_600
    assert_in_order_once(big)
    assert_in_order_once(small)
    assert kafka.committed(f"{make_server.group}-events", big, 6) == big_ends
    assert kafka.committed(f"{make_server.group}-audit", small, 6) == small_ends
    # Bound: CONCURRENCY workers + one per subscription group (hooks run on listeners).
    assert sampler.samples > 50
    assert 2 <= peak <= 4 + 2, f"peak connections {peak}"
    # With Django's defaults (CONN_MAX_AGE 0) a worker keeps its connection: opened once, not per batch.
    assert len(sampler.opened) <= 4 + 2, f"{len(sampler.opened)} connections opened for some 200 batches"
    assert HookCall.objects.filter(name="shutdown").count() == 12

    restarted = make_server(routes, CONCURRENCY=4).start()
    restarted.wait_assigned(subscription_groups=2)
    restarted.wait_for_log("app.status", count=2)
    assert restarted.stop() == 0
    assert Record.objects.count() == 20_600, "a restart reprocessed committed messages"


def test_initial_offset_latest_skips_what_was_there_before_the_group_existed(kafka, make_server):
    topic = kafka.create_topic(unique("latest"), 1)
    kafka.produce(topic, [(0, b"old", b"{}")] * 5)
    server = make_server([{"topic": topic, "consumer": CONSUMER, "initial_offset": "latest"}]).start()
    server.wait_assigned()

    def produced_one_more_and_one_was_processed() -> bool:
        """librdkafka resolves "latest" after the assignment, asynchronously: what is produced
        before that is skipped too, so one new message every half second until one is processed."""
        if Record.objects.exists():
            return True
        kafka.produce(topic, [(0, b"new", b"{}")])
        return False
    wait_until(produced_one_more_and_one_was_processed, 30, "a message produced after the assignment processed", 0.5)
    first = Record.objects.order_by("offset").first().offset
    kafka.produce(topic, [(0, b"new", b"{}")] * 3)
    end = kafka.ends(topic, 1)[0]
    wait_until(lambda: Record.objects.count() == end - first, 20, "every message from the first processed on")
    assert server.stop() == 0
    assert first >= 5
    assert sorted(Record.objects.values_list("offset", "key")) == [(offset, "new") for offset in range(first, end)]


def test_a_lone_message_is_handed_over_without_waiting_for_the_poll_timeout(kafka, make_server):
    """With a 10 s MAX_WAIT_TIME_MS, a batch poll would hold a lone message for 10 s."""
    topic = kafka.create_topic(unique("lone"), 1)
    server = make_server([{"topic": topic, "consumer": CONSUMER}], MAX_WAIT_TIME_MS=10000).start()
    server.wait_assigned()
    kafka.produce(topic, [(0, b"k", b"{}")])
    produced_at = time.monotonic()
    wait_until(lambda: Record.objects.filter(topic=topic).exists(), 8, "the lone message processed")
    assert time.monotonic() - produced_at < 3, "handed over long before the 10 s poll timeout"
    assert server.stop() == 0


def test_a_consumer_that_keeps_up_with_a_deep_backlog_holds_the_fetch_and_is_never_paused(kafka, embedded_server,
                                                                                        monkeypatch, request):
    """librdkafka hands one partition's prefetch over in long runs, so a fast consumer's buffer
    passes its bound; pausing it would make librdkafka drop and re-fetch that prefetch. The
    listener waits for the consumer instead, and every message is processed once, in order."""
    import gc

    from karafka_django import embedded
    from karafka_django.connection.client import Client
    from karafka_django.processing.execution import Execution
    from tests.testapp.consumers import OffsetsCollector

    calls = {"pause": 0, "hold": 0}

    def counting(name, method):
        def call(self, *args):
            calls[name] += 1
            return method(self, *args)
        return call

    monkeypatch.setattr(Client, "pause", counting("pause", Client.pause))
    monkeypatch.setattr(Execution, "wait_for_an_end", counting("hold", Execution.wait_for_an_end))  # the listener holding
    monkeypatch.setattr(OffsetsCollector, "batches", {})
    # As karafka_server does: a full collection of this test process's heap (pytest's, Django's)
    # must not stall the consumer past BEHIND_AFTER_S, which would rightly pause it.
    gc.freeze()
    request.addfinalizer(gc.unfreeze)
    topic = kafka.create_topic(unique("deep"), 2)
    ends = kafka.produce_json(topic, 2, 100_000)
    embedded_server([{"topic": topic, "consumer": "tests.testapp.consumers.OffsetsCollector"}],
                    MAX_MESSAGES=100, CONCURRENCY=2)

    def processed() -> int:
        return sum(len(batch) for batches in list(OffsetsCollector.batches.values()) for batch in batches)

    wait_until(lambda: processed() >= 100_000, 90, "the backlog consumed")
    assert embedded.stop(60) == 0
    for partition in (0, 1):
        offsets = [offset for batch in OffsetsCollector.batches[(topic, partition)] for offset in batch]
        assert offsets == list(range(ends[partition])), f"partition {partition}: every offset once, in order"
    assert kafka.committed(embedded_server.group(), topic, 2) == ends
    assert calls["hold"] > 0, "the buffers passed their bound (the case under test happened)"
    assert calls["pause"] == 0, "a consumer that keeps up was paused"
