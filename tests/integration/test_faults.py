"""Faults outside consume(): user hooks, partitioners, filters, credentials, an unreachable
broker, swarm supervisors. The server survives each (or exits with its documented code), every
message is processed or dead-lettered as documented, and the log stays short."""

from __future__ import annotations

import json
import os
import re
import signal

import psutil
import pytest
from django.db.models import Count

from karafka_django.brokers import free_port
from tests.integration.harness import unique, wait_until
from tests.testapp.models import Record

pytestmark = pytest.mark.integration

CONSUMER = "tests.testapp.consumers.RecordingConsumer"
FAST_COMMITS = {"auto.commit.interval.ms": 200}


def produce_numbered(kafka, topic: str, count: int, payload=lambda n: {}, key=lambda n: str(n)) -> dict[int, int]:
    return kafka.produce(topic, ((0, key(n).encode(), json.dumps(payload(n)).encode()) for n in range(count)))


def processed_once(topic: str) -> list[int]:
    rows = Record.objects.filter(topic=topic)
    assert not rows.values("offset").annotate(n=Count("id")).filter(n__gt=1).exists(), "a message was processed twice"
    return sorted(rows.values_list("offset", flat=True))


def test_a_raising_tick_is_reported_and_retried_at_the_next_interval(kafka, make_server):
    topic = kafka.create_topic(unique("ticks"), 1)
    route = {"topic": topic, "consumer": "tests.testapp.consumers.RaisingTickConsumer", "periodic": {"interval_ms": 500}}
    server = make_server([route]).start()
    server.wait_assigned()
    server.wait_for_log("type=consumer.tick.error", count=3)  # it ticks again after each failure
    ends = produce_numbered(kafka, topic, 50)
    wait_until(lambda: len(processed_once(topic)) == 50, 30, "messages after failing ticks")
    wait_until(lambda: kafka.committed(make_server.group, topic, 1) == ends, 20, "commits")
    assert server.process.poll() is None
    assert server.stop() == 0


def test_a_raising_partitioner_fails_only_its_batch_which_is_then_processed_one_by_one(kafka, make_server):
    topic = kafka.create_topic(unique("vp"), 1)
    ends = produce_numbered(kafka, topic, 60, key=lambda n: "not-a-number" if n == 30 else str(n))
    route = {"topic": topic, "consumer": CONSUMER,
             "virtual_partitions": {"partitioner": "tests.testapp.consumers.by_key", "max_partitions": 3}}
    server = make_server([route], MAX_MESSAGES=20, KAFKA=FAST_COMMITS).start()
    wait_until(lambda: len(processed_once(topic)) == 60, 60, "every message, the unpartitionable one alone")
    wait_until(lambda: kafka.committed(make_server.group, topic, 1) == ends, 20, "commits")
    assert "type=consumer.partitioner.error" in server.log()
    assert server.stop() == 0


def test_a_failing_initialized_discards_the_consumer_and_dead_letters_nothing(kafka, make_server):
    topic = kafka.create_topic(unique("init"), 1)
    dlq = kafka.create_topic(unique("init.dlq"), 1)
    ends = produce_numbered(kafka, topic, 40)
    route = {"topic": topic, "consumer": "tests.testapp.consumers.FlakyStartConsumer",
             "dead_letter_queue": {"topic": dlq, "max_retries": 0}}
    server = make_server([route], KAFKA=FAST_COMMITS).start()
    wait_until(lambda: len(processed_once(topic)) == 40, 60, "every message after initialized() failed once")
    wait_until(lambda: kafka.committed(make_server.group, topic, 1) == ends, 20, "commits")
    assert server.log().count("type=consumer.initialized.error") == 1
    assert server.stop() == 0
    assert kafka.read_all(dlq, timeout=5) == []


def test_a_raising_filter_has_its_run_read_again(kafka, make_server):
    topic = kafka.create_topic(unique("filter"), 1)
    ends = produce_numbered(kafka, topic, 40)
    route = {"topic": topic, "consumer": CONSUMER, "filters": ["tests.testapp.filters.FailsOnce"]}
    server = make_server([route], KAFKA=FAST_COMMITS).start()
    wait_until(lambda: len(processed_once(topic)) == 40, 60, "every message after the filter failed once")
    wait_until(lambda: kafka.committed(make_server.group, topic, 1) == ends, 20, "commits")
    assert server.log().count("type=filtering.error") == 1
    assert server.stop() == 0


@pytest.mark.parametrize("mark_after_dispatch", [False, True])
def test_manual_offset_management_is_never_marked_for_the_consumer(kafka, make_server, mark_after_dispatch):
    """RecordingConsumer marks nothing; message 5 goes to the DLQ. Without the opt-in nothing is
    committed (messages 0-4 are the consumer's to mark); with it, the dispatched message is."""
    topic = kafka.create_topic(unique("mom"), 1)
    dlq = kafka.create_topic(unique("mom.dlq"), 1)
    produce_numbered(kafka, topic, 10, payload=lambda n: {"poison": n == 5})
    route = {"topic": topic, "consumer": CONSUMER, "manual_offset_management": True,
             "dead_letter_queue": {"topic": dlq, "max_retries": 0, "mark_after_dispatch": mark_after_dispatch}}
    server = make_server([route], KAFKA=FAST_COMMITS).start()
    wait_until(lambda: len(kafka.read_all(dlq, timeout=5)) == 1, 30, "the dead letter")
    wait_until(lambda: len(processed_once(topic)) == 9, 30, "the other messages")
    assert server.stop() == 0
    committed = kafka.committed(make_server.group, topic, 1)[0]
    assert committed == (6 if mark_after_dispatch else -1001)  # -1001: nothing committed


def test_bad_credentials_are_said_once_and_stop_the_server_with_exit_code_3(kafka, make_server):
    topic = kafka.create_topic(unique("auth"), 1)
    sasl = {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": "PLAIN",
            "sasl.username": "nobody", "sasl.password": "wrong"}
    server = make_server([{"topic": topic, "consumer": CONSUMER}], KAFKA=sasl).start()
    assert server.process.wait(60) == 3
    log = server.log()
    assert log.count("connection.client.state_changed state=failed") == 1
    assert "_AUTHENTICATION" in log
    assert len(log.splitlines()) < 40, log


@pytest.mark.matrix  # a long crash/fault scenario: one Python/Django pair runs it
def test_an_unreachable_broker_is_a_state_logged_on_change_and_unhealthy_then_recovers(kafka, make_server, server_env,
                                                                                      spare_broker):
    metrics = free_port()
    topic = unique("later")
    env = {**server_env, "KAFKA_BOOTSTRAP_SERVERS": spare_broker.bootstrap_servers}
    # The topic appears only once the broker is back: look for it every second.
    server = make_server([{"topic": topic, "consumer": CONSUMER}], ["--metrics-port", str(metrics)],
                         KAFKA={"topic.metadata.refresh.interval.ms": 1000})
    server.env.update(env)
    server.start()
    server.wait_for_log("state=down")
    health = f"http://127.0.0.1:{metrics}/healthz"
    wait_until(lambda: status_code(health) == 503, 30, "/healthz to turn 503 after max.poll.interval.ms down")
    lines_while_down = len(server.log().splitlines())
    assert lines_while_down < 60, server.log()
    with spare_broker:
        from tests.integration.harness import Kafka

        late = Kafka(spare_broker.bootstrap_servers)
        late.create_topic(topic, 1, exist_ok=True)  # the server's metadata requests may have created it
        late.produce(topic, [(0, b"k", b"{}")])
        wait_until(lambda: processed_once(topic) == [0], 90, "the message once the broker is back")
        server.wait_for_log("state=up")
        wait_until(lambda: status_code(health) == 200, 30, "/healthz to recover")
        assert server.stop() == 0
    assert server.log().count("state=down") == 1


def status_code(url: str) -> int:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def node_pid(server) -> int:
    return int(re.findall(r"swarm.node_started node=0 pid=(\d+)", server.log())[-1])


@pytest.mark.matrix  # a long crash/fault scenario: one Python/Django pair runs it
def test_a_quiet_swarm_node_keeps_heartbeating_and_is_not_restarted(kafka, make_server):
    topic = kafka.create_topic(unique("swarm-quiet"), 1)
    server = make_server([{"topic": topic, "consumer": CONSUMER}], ["--swarm", "1"],
                         SWARM_NODE_REPORT_TIMEOUT_MS=3000).start()
    server.wait_assigned()
    pid = node_pid(server)
    server.signal(signal.SIGTSTP)
    server.wait_for_log("app.quieting")
    # Silence would be noticed after 3 s; three times that shows the heartbeat goes on.
    with pytest.raises(AssertionError):
        server.wait_for_log("swarm.node_silent", timeout=9)
    assert psutil.pid_exists(pid) and node_pid(server) == pid
    assert server.stop() == 0


def test_a_node_whose_supervisor_died_stops_gracefully_and_commits(kafka, make_server):
    topic = kafka.create_topic(unique("orphan"), 1)
    ends = produce_numbered(kafka, topic, 200, payload=lambda n: {"sleep": 0.005})
    server = make_server([{"topic": topic, "consumer": CONSUMER}], ["--swarm", "1"]).start()
    wait_until(lambda: Record.objects.filter(topic=topic).count() >= 20, 60, "the node under way")
    node = psutil.Process(node_pid(server))
    os.kill(server.pid, signal.SIGKILL)
    node.wait(30)  # psutil: raises TimeoutExpired if the orphan keeps running
    processed = Record.objects.filter(topic=topic).values("offset").distinct().count()
    committed = kafka.committed(make_server.group, topic, 1)[0]
    assert 20 <= committed == processed <= ends[0], "a graceful stop commits exactly what was processed"
    assert "app.stopped" in server.log() and "exit_code=0" in server.log().split("app.stopped")[-1]
