"""Filters, virtual partitions and periodic ticks against the real broker and PostgreSQL."""

import json

import pytest
from django.db.models import Count, Max, Min

from tests.integration.harness import unique, wait_until
from tests.testapp.models import Record, Span

pytestmark = pytest.mark.integration

CONSUMER = "tests.testapp.consumers.RecordingConsumer"


def seconds_between_first_and_last(topic: str, **filters) -> float:
    span = Record.objects.filter(topic=topic, **filters).aggregate(first=Min("created_at"), last=Max("created_at"))
    return (span["last"] - span["first"]).total_seconds()


def test_throttling_slows_only_the_partition_with_a_backlog(kafka, make_server):
    topic = kafka.create_topic(unique("throttled"), 2)
    kafka.produce(topic, [(0, b"k", b"{}") for _ in range(1000)])
    route = {"topic": topic, "consumer": CONSUMER,
             "filters": [{"class": "karafka_django.filtering.Throttler", "limit": 100, "interval_ms": 1000}]}
    server = make_server([route]).start()
    wait_until(lambda: Record.objects.filter(partition=0).count() >= 200, 30, "throttled partition under way")
    kafka.produce(topic, [(1, b"k", b"{}") for _ in range(50)])
    wait_until(lambda: Record.objects.filter(partition=1).count() == 50, 5, "the other partition, unthrottled")
    wait_until(lambda: Record.objects.filter(partition=0).count() >= 1000, 30, "all of the throttled partition")
    assert server.stop() == 0
    assert 8 <= seconds_between_first_and_last(topic, partition=0) <= 13, "1,000 messages at 100/s"
    assert Record.objects.filter(partition=0).values("offset").distinct().count() == 1000
    assert Record.objects.filter(partition=0).count() == 1000, "a throttle pause must not double messages"


def test_db_connections_stay_bounded_with_database_filters_on_every_listener(kafka, make_server, db_connections):
    topics = [kafka.backlog(name, 6, 6000)[0] for name in ("left", "right")]
    routes = [
        {"topic": topic, "consumer": CONSUMER, "consumer_group": f"{make_server.group}-{n}",
         "subscription_group": f"sg{n}", "filters": ["tests.testapp.filters.TouchesDatabase"]}
        for n, topic in enumerate(topics)
    ]
    server = make_server(routes, CONCURRENCY=2, MAX_MESSAGES=20).start()
    sampler = db_connections(server)
    wait_until(lambda: Record.objects.count() >= 12000, 120, "every message")
    peak = sampler.stop()
    assert server.stop() == 0
    assert Record.objects.values("topic", "partition", "offset").distinct().count() == 12000
    # 2 workers + 2 listeners: the listeners' connections are counted, not merely absent.
    assert 2 < peak <= 2 + 2, f"peak connections {peak}"


def test_virtual_partitions_parallelise_one_partition_and_keep_per_key_order(kafka, make_server):
    serial, virtual = kafka.create_topic(unique("serial"), 1), kafka.create_topic(unique("virtual"), 1)
    for topic in (serial, virtual):
        kafka.produce(topic, [(0, str(n % 8).encode(), b'{"sleep": 0.01}') for n in range(400)])
    routes = [
        {"topic": serial, "consumer": CONSUMER},
        {"topic": virtual, "consumer": CONSUMER,
         "virtual_partitions": {"partitioner": "tests.testapp.consumers.by_key", "max_partitions": 4}},
    ]
    server = make_server(routes, CONCURRENCY=5, MAX_MESSAGES=100).start()
    wait_until(lambda: Record.objects.count() >= 800, 60, "both topics")
    assert server.stop() == 0

    speedup = seconds_between_first_and_last(serial) / seconds_between_first_and_last(virtual)
    assert speedup >= 3, f"virtual partitions only {speedup:.1f}x faster"
    assert Record.objects.filter(topic=virtual).values("offset").distinct().count() == 400
    for key in range(8):
        offsets = list(Record.objects.filter(topic=virtual, key=str(key)).order_by("id").values_list("offset", flat=True))
        assert offsets == sorted(offsets) and len(offsets) == 50, f"key {key} out of order"


@pytest.mark.matrix  # a long crash/fault scenario: one Python/Django pair runs it
def test_virtual_partitions_kill_9_and_restart_lose_nothing(kafka, make_server):
    topic = kafka.create_topic(unique("virtual-crash"), 1)
    kafka.produce(topic, [(0, str(n % 8).encode(), json.dumps({"sleep": 0.004 * (1 + n % 3)}).encode()) for n in range(3000)])
    route = {"topic": topic, "consumer": CONSUMER,
             "virtual_partitions": {"partitioner": "tests.testapp.consumers.by_key", "max_partitions": 4}}
    server = make_server([route], MAX_MESSAGES=50).start()
    wait_until(lambda: Record.objects.count() >= 800, 60, "a part processed")
    server.kill()
    committed = kafka.committed(make_server.group, topic, 1)[0]
    make_server([route], MAX_MESSAGES=50).start()
    wait_until(lambda: Record.objects.values("offset").distinct().count() == 3000, 90, "every message after restart")
    redone = Record.objects.values("offset").annotate(n=Count("id")).filter(n__gt=1)
    assert all(row["offset"] >= committed for row in redone), "a committed message was processed again"


def test_ticks_run_on_idle_partitions_at_the_interval_and_never_overlap_consume(kafka, make_server):
    topic = kafka.create_topic(unique("ticking"), 2)
    route = {"topic": topic, "consumer": "tests.testapp.consumers.TickingConsumer", "periodic": {"interval_ms": 500}}
    server = make_server([route]).start()
    server.wait_assigned()
    consumes = Span.objects.filter(partition=0, kind="consume")
    for n in range(6):  # each message consumed, then a tick on its partition, before the next
        kafka.produce(topic, [(0, b"k", b"{}")])
        consumed = wait_until(lambda n=n: consumes.count() > n and consumes.order_by("-started").first(), 10, "the message consumed")
        wait_until(lambda c=consumed: Span.objects.filter(partition=0, kind="tick", started__gte=c.ended).exists(), 10,
                   "a tick on the partition once idle")
    wait_until(lambda: Span.objects.filter(kind="tick", partition=1).count() >= 6, 10, "ticks on the idle partition")
    assert server.stop() == 0

    idle = list(Span.objects.filter(partition=1, kind="tick").order_by("started").values_list("started", flat=True))
    gaps = [b - a for a, b in zip(idle, idle[1:])]
    assert all(0.45 <= gap <= 0.9 for gap in gaps), gaps
    assert Span.objects.filter(partition=0, kind="consume").exists()
    for partition in (0, 1):
        spans = list(Span.objects.filter(partition=partition).order_by("started").values_list("started", "ended"))
        assert all(end <= next_start for (_, end), (next_start, _) in zip(spans, spans[1:])), "tick overlapped consume"
