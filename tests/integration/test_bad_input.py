"""Bad input: a bad payload is retried with backoff and blocks only its partition; bad settings stop the server."""

import re

import pytest

from tests.integration.harness import unique, wait_until
from tests.testapp.models import Record

pytestmark = pytest.mark.integration

CONSUMER = "tests.testapp.consumers.RecordingConsumer"


def test_non_json_payload_is_retried_with_backoff_and_other_partitions_flow(kafka, make_server):
    topic = kafka.create_topic(unique("bad"), 3)
    kafka.produce(topic, [(0, b"k", b'{"n": %d}' % i) for i in range(20)])
    kafka.produce(topic, [(0, b"k", b"this is not json")])  # offset 20
    kafka.produce(topic, [(0, b"k", b"{}") for _ in range(10)])
    kafka.produce(topic, [(p, b"k", b"{}") for p in (1, 2) for _ in range(100)])
    server = make_server([{"topic": topic, "consumer": CONSUMER}], MAX_MESSAGES=10).start()

    wait_until(lambda: Record.objects.filter(partition__in=(1, 2)).count() == 200, 40, "healthy partitions processed")
    server.wait_for_log("attempt=4", timeout=20)
    assert server.process.poll() is None, "the server died of a bad message"
    log = server.log()
    assert f"could not deserialize {topic}/0@20" in log
    errors = [line for line in log.splitlines() if "consumer.consume.error" in line]
    assert all(f"topic={topic}" in line and "partition=0" in line for line in errors)
    delays = [float(d) for d in re.findall(r"retry_in_s=([0-9.]+)", "\n".join(errors))][:4]
    assert delays == [0.2, 0.4, 0.8, 1.0], "backoff must grow exponentially up to PAUSE_MAX_TIMEOUT_MS"
    # Order holds: nothing at or behind the bad message was processed, everything before it was.
    assert sorted(Record.objects.filter(partition=0).values_list("offset", flat=True)) == list(range(20))
    assert server.stop() == 0


def test_invalid_settings_stop_the_server_with_the_check_message(make_server):
    server = make_server([{"topic": "t", "consumer": "tests.testapp.consumers.Missing"}], CONCURRENCY=0).start()
    assert server.process.wait(30) != 0
    log = server.log()
    assert "karafka.E020" in log and "tests.testapp.consumers.Missing" in log
    assert "karafka.E005" in log
