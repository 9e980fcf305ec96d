"""Errors never lose a message: retries with backoff, the dead letter queue, critical errors,
and what the server exposes about them (events, /metrics, /healthz, SIGTTIN)."""

import json
import re
import signal
import urllib.request

import pytest
from django.db.models import Count

from karafka_django.brokers import free_port
from tests.integration.harness import Kafka, health, unique, wait_until
from tests.testapp.models import Record

pytestmark = pytest.mark.integration

CONSUMER = "tests.testapp.consumers.RecordingConsumer"
FAST_COMMITS = {"auto.commit.interval.ms": 200}


def headers_of(message) -> dict[str, str]:
    return {k: v.decode() for k, v in message.headers() or ()}


def test_poison_messages_go_to_the_dead_letter_queue_once_and_the_rest_flows(kafka, make_server):
    topic = kafka.create_topic(unique("orders"), 3)
    dlq = kafka.create_topic(unique("orders.dlq"), 1)
    poison = {7, 40, 41, 95}  # message numbers; partition = n % 3
    not_json = 60
    ends = kafka.produce(topic, (
        (n % 3, f"key-{n}".encode(), b"not json at all" if n == not_json else json.dumps({"poison": n in poison}).encode())
        for n in range(120)
    ))
    route = {"topic": topic, "consumer": CONSUMER, "dead_letter_queue": {"topic": dlq, "max_retries": 2}}
    server = make_server([route], MAX_MESSAGES=10, KAFKA=FAST_COMMITS).start()

    wait_until(lambda: Record.objects.count() >= 120 - 5, 60, "every good message")
    dead = wait_until(lambda: (m := kafka.read_all(dlq, timeout=5)) and len(m) >= 5 and m, 30, "five dead letters")
    wait_until(lambda: kafka.committed(make_server.group, topic, 3) == ends, 20, "commits up to the end")
    assert server.stop() == 0

    assert len(dead) == 5
    by_key = {m.key().decode(): m for m in dead}
    assert set(by_key) == {f"key-{n}" for n in poison | {not_json}}
    for n in poison | {not_json}:
        message, headers = by_key[f"key-{n}"], headers_of(by_key[f"key-{n}"])
        assert headers["original_topic"] == topic and headers["original_partition"] == str(n % 3)
        assert headers["original_consumer_group"] == make_server.group
        assert int(headers["original_offset"]) == n // 3
        if n == not_json:
            assert message.value() == b"not json at all"
            assert headers["error_class"] == "karafka_django.errors.DeserializationError"
            assert "could not deserialize" in headers["error_message"]
        else:
            assert json.loads(message.value()) == {"poison": True}
            assert headers["error_class"] == "builtins.ValueError"
    good = Record.objects.filter(topic=topic)
    assert good.count() == 115
    assert not good.values("partition", "offset").annotate(n=Count("id")).filter(n__gt=1).exists()
    for partition in range(3):
        offsets = list(good.filter(partition=partition).order_by("id").values_list("offset", flat=True))
        assert offsets == sorted(offsets)
    assert server.log().count("dead_letter_queue.dispatched") == 5


def test_a_message_that_fails_three_times_then_succeeds_is_never_dead_lettered(kafka, make_server):
    topic = kafka.create_topic(unique("flaky"), 1)
    dlq = unique("flaky.dlq")
    kafka.produce(topic, [(0, b"k", b'{"fail_attempts": 3}')])
    route = {"topic": topic, "consumer": CONSUMER, "dead_letter_queue": {"topic": dlq, "max_retries": 3}}
    server = make_server([route]).start()
    wait_until(lambda: Record.objects.exists(), 30, "the message processed")
    assert server.stop() == 0
    assert list(Record.objects.values_list("offset", "attempt")) == [(0, 3)]
    delays = [float(d) for d in re.findall(r"consumer\.consume\.error.*retry_in_s=([0-9.]+)", server.log())]
    assert delays == [0.2, 0.4, 0.8], "each retry waits longer"
    assert "dead_letter_queue.dispatched" not in server.log()


@pytest.mark.matrix  # a long crash/fault scenario: one Python/Django pair runs it
def test_when_the_dead_letter_queue_fails_nothing_is_committed_past_the_message(kafka, make_server, spare_broker):
    topic = kafka.create_topic(unique("guarded"), 1)
    dlq = unique("guarded.dlq")
    kafka.produce(topic, [(0, b"k", json.dumps({"poison": n == 5}).encode()) for n in range(10)])
    route = {"topic": topic, "consumer": CONSUMER, "dead_letter_queue": {"topic": dlq, "max_retries": 0}}
    # The DLQ lives on a second broker that is down at first.
    producer = {"bootstrap.servers": spare_broker.bootstrap_servers, "message.timeout.ms": 1000}
    server = make_server([route], KAFKA=FAST_COMMITS, PRODUCER=producer).start()

    server.wait_for_log("dead_letter_queue.dispatch.error", timeout=40, count=2)
    assert sorted(Record.objects.values_list("offset", flat=True)) == [0, 1, 2, 3, 4]
    assert kafka.committed(make_server.group, topic, 1) == {0: 5}

    spare_broker.start()
    wait_until(lambda: Record.objects.count() == 9, 60, "processing resumed after the DLQ came back")
    wait_until(lambda: kafka.committed(make_server.group, topic, 1) == {0: 10}, 20, "committed to the end")
    assert server.stop() == 0
    [dead] = Kafka(spare_broker.bootstrap_servers).read_all(dlq)
    assert headers_of(dead)["original_offset"] == "5"


def test_critical_errors_stop_the_server_without_retry_or_commit(kafka, make_server):
    topic = kafka.create_topic(unique("critical"), 1)
    kafka.produce(topic, [(0, b"k", b"{}"), (0, b"k", b'{"critical": true}')])
    route = {"topic": topic, "consumer": CONSUMER, "dead_letter_queue": {"topic": unique("dlq"), "max_retries": 0}}
    server = make_server([route], MAX_MESSAGES=1).start()
    assert server.process.wait(40) == 1
    log = server.log()
    assert log.count("type=consumer.consume.critical") == 1 and "MemoryError: simulated" in log
    assert "dead_letter_queue.dispatched" not in log and "type=consumer.consume.error" not in log
    assert kafka.committed(make_server.group, topic, 1) == {0: 1}, "only the message before it is committed"


def lag_metric(port: int, group: str, topic: str, name: str = "karafka_consumer_lag", partition: int = 0) -> float | None:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    found = re.search(rf'{name}{{consumer_group="{group}",partition="{partition}",topic="{topic}"}} ([0-9.]+)', text)
    return float(found.group(1)) if found else None


def test_metrics_lag_matches_the_broker_and_health_and_stack_dump(kafka, make_server):
    topic = kafka.create_topic(unique("lagging"), 1)
    ends = kafka.produce(topic, [(0, b"k", json.dumps({"poison": n == 50}).encode()) for n in range(100)])
    port = free_port()
    server = make_server([{"topic": topic, "consumer": CONSUMER}], KAFKA=FAST_COMMITS, args=["--metrics-port", str(port)])
    server.start()
    wait_until(lambda: kafka.committed(make_server.group, topic, 1) == {0: 50}, 40, "commits up to the poison")

    assert wait_until(lambda: lag_metric(port, make_server.group, topic) == ends[0] - 50, 20, "lag = high watermark - processed")
    assert lag_metric(port, make_server.group, topic, "karafka_consumer_lag_committed") == ends[0] - 50
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    group = f'consumer_group="{make_server.group}",topic="{topic}"'
    assert f'karafka_errors_total{{{group},type="consumer.consume.error"}}' in metrics, "an alert can say which group and topic"
    assert f"karafka_messages_consumed_total{{{group}}} 50.0" in metrics
    assert f"karafka_partitions_assigned{{{group}}} 1.0" in metrics
    assert f'karafka_rebalances_total{{event="assigned",subscription_group="{make_server.group}"}} 1.0' in metrics
    assert "karafka_workers 4.0" in metrics and "karafka_producer_in_flight" in metrics
    assert "process_resident_memory_bytes" in metrics and "python_info" in metrics, "the conventional collectors"
    assert "_created" not in metrics

    body = health(port)
    assert body["healthy"] is True and body["partitions"] == 1

    server.signal(signal.SIGTTIN)
    server.wait_for_log("thread stacks")
    assert "--- thread karafka.worker-0 ---" in server.log()
    assert server.process.poll() is None
    assert server.stop() == 0


def test_the_lag_of_paused_partitions_follows_the_broker_in_backoff_and_in_quiet_mode(kafka, make_server):
    """librdkafka stops refreshing a partition it does not fetch; the lag must not freeze there."""
    topic = kafka.create_topic(unique("paused_lag"), 2)
    kafka.produce(topic, [(p, b"k", b"{}") for p in (0, 1) for _ in range(10)])
    port = free_port()
    server = make_server([{"topic": topic, "consumer": CONSUMER}], KAFKA={**FAST_COMMITS, "statistics.interval.ms": 1000},
                         PAUSE_TIMEOUT_MS=120_000, PAUSE_MAX_TIMEOUT_MS=120_000, args=["--metrics-port", str(port)]).start()
    wait_until(lambda: kafka.committed(make_server.group, topic, 2) == {0: 10, 1: 10}, 40, "the first messages")
    kafka.produce(topic, [(0, b"k", json.dumps({"poison": True}).encode())])  # partition 0 backs off for two minutes
    server.wait_for_log("type=consumer.consume.error")

    def true_lag(partition: int) -> int:  # what karafka_groups lag says: the end minus the committed offset
        return kafka.ends(topic, 2)[partition] - kafka.committed(make_server.group, topic, 2)[partition]

    kafka.produce(topic, [(0, b"k", b"{}")] * 400)
    wait_until(lambda: lag_metric(port, make_server.group, topic) == true_lag(0) == 401, 20, "the backing-off partition's lag grown")

    server.signal(signal.SIGTSTP)  # quiet: no partition is fetched any more
    server.wait_for_log("app.quieting")
    wait_until(lambda: "fetch_paused=2" in server.log(), 20, "both partitions paused")
    kafka.produce(topic, [(1, b"k", b"{}")] * 300)
    wait_until(lambda: lag_metric(port, make_server.group, topic, partition=1) == true_lag(1) == 300, 20,
               "the quiet partition's lag grown")
    assert server.stop() == 0


def test_a_caught_up_consumer_shows_no_lag_before_its_offsets_are_committed(kafka, make_server):
    """The lag is the high watermark minus what was processed; the committed figure is beside it."""
    topic = kafka.create_topic(unique("caught_up"), 1)
    kafka.produce(topic, [(0, b"k", b"{}")] * 300)
    port = free_port()
    server = make_server([{"topic": topic, "consumer": CONSUMER}], KAFKA={"auto.commit.interval.ms": 600000},
                         args=["--metrics-port", str(port)]).start()
    wait_until(lambda: Record.objects.filter(topic=topic).count() == 300, 40, "all processed")
    assert wait_until(lambda: lag_metric(port, make_server.group, topic) == 0, 20, "lag 0 once everything is processed")
    assert lag_metric(port, make_server.group, topic, "karafka_consumer_lag_committed") in (None, 300.0), "nothing committed yet"
    assert kafka.committed(make_server.group, topic, 1) == {0: -1001}, "auto commit has not run"
    assert server.stop() == 0
    assert kafka.committed(make_server.group, topic, 1) == {0: 300}, "committed at the graceful stop"


def test_a_message_too_large_for_its_dead_letter_topic_goes_without_its_payload(kafka, make_server):
    """Otherwise the partition would retry it forever: the DLQ refuses it every time."""
    from confluent_kafka.admin import NewTopic

    topic, dlq = kafka.create_topic(unique("large"), 1), unique("large.dlq")
    kafka.admin.create_topics([NewTopic(dlq, 1, 1, config={"max.message.bytes": "10000"})])[dlq].result(15)
    poison = json.dumps({"poison": True, "padding": "x" * 50_000}).encode()
    kafka.produce(topic, [(0, b"big", poison)] + [(0, b"k", b"{}")] * 3)
    route = {"topic": topic, "consumer": CONSUMER, "dead_letter_queue": {"topic": dlq, "max_retries": 0}}
    server = make_server([route], KAFKA=FAST_COMMITS).start()
    wait_until(lambda: Record.objects.filter(topic=topic).count() == 3, 40, "the messages after the large one")
    wait_until(lambda: kafka.committed(make_server.group, topic, 1) == {0: 4}, 20, "committed past it")
    assert server.stop() == 0
    [dead] = kafka.read_all(dlq)
    headers = headers_of(dead)
    assert dead.value() is None and dead.key() == b"big" and headers["original_offset"] == "0"
    assert headers["payload_dropped"].startswith(f"{len(poison)} bytes: too large for {dlq}")


def test_a_partition_stuck_on_a_message_that_always_fails_is_listed_as_stalled(kafka, make_server):
    topic = kafka.create_topic(unique("stuck"), 2)
    kafka.produce(topic, [(0, b"k", b"{}"), (0, b"k", b'{"poison": true}'), (1, b"k", b"{}")])
    port = free_port()
    server = make_server([{"topic": topic, "consumer": CONSUMER}], ["--metrics-port", str(port)],
                         STALLED_PARTITION_TIMEOUT_MS=3000).start()

    body = wait_until(lambda: (h := health(port)).get("stalled_partitions") and h, 30, "the stalled partition in /healthz")
    [stalled] = body["stalled_partitions"]
    assert (stalled["topic"], stalled["partition"]) == (topic, 0) and stalled["since_s"] >= 3
    assert stalled["reason"].startswith("failing: ValueError: poison at 1")
    assert body["healthy"] is True, "stuck work is a flag; a restart would not fix it"
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    assert f'karafka_partition_stalled_seconds{{consumer_group="{make_server.group}",partition="0",topic="{topic}"}}' in metrics
    server.wait_for_log("consumer.stalled")
    wait_until(lambda: health(port)["stalled_partitions"][0]["since_s"] >= 6, 20, "the episode going on")
    assert server.stop() == 0
    assert server.log().count("consumer.stalled") == 1, "once per episode"
