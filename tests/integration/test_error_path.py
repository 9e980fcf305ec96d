"""A bug in reporting an error never changes a message's fate nor kills a thread; a thread that
dies anyway stops the server with a fatal line, a commit of what was processed and exit code 1."""

import json
import re
import urllib.request

import pytest
from django.db.models import Count

from karafka_django.brokers import free_port
from tests.integration.harness import unique, wait_until
from tests.testapp.models import Record

pytestmark = pytest.mark.integration

CONSUMER = "tests.testapp.consumers.RecordingConsumer"
BROKEN_LISTENERS = ["tests.testapp.listeners.BrokenOnEveryEvent", "tests.testapp.listeners.BrokenOnErrors"]


def test_listeners_that_raise_change_no_messages_fate_and_are_logged_once_per_cause_and_counted(kafka, make_server):
    topic, dlq = kafka.create_topic(unique("watched"), 3), kafka.create_topic(unique("watched.dlq"), 1)
    poison = {5, 50, 151}
    ends = kafka.produce(topic, ((n % 3, f"key-{n}".encode(), json.dumps({"poison": n in poison}).encode())
                                 for n in range(300)))
    port = free_port()
    route = {"topic": topic, "consumer": CONSUMER, "dead_letter_queue": {"topic": dlq, "max_retries": 2}}
    server = make_server([route], ["--metrics-port", str(port)], MAX_MESSAGES=10, PAUSE_TIMEOUT_MS=50,
                         LISTENERS=BROKEN_LISTENERS, KAFKA={"auto.commit.interval.ms": 200}).start()

    dead = wait_until(lambda: (m := kafka.read_all(dlq, timeout=2)) and len(m) >= 3 and m, 60, "three dead letters")
    wait_until(lambda: kafka.committed(make_server.group, topic, 3) == ends, 30, "commits up to the end")
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    assert server.stop() == 0, "the server kept running and stopped cleanly"

    assert sorted(m.key().decode() for m in dead) == sorted(f"key-{n}" for n in poison), "each poison message once"
    good = Record.objects.filter(topic=topic)
    assert good.count() == 300 - len(poison)
    assert not good.values("partition", "offset").annotate(n=Count("id")).filter(n__gt=1).exists()
    log = server.log()
    assert log.count("type=consumer.consume.error") == 3 * len(poison), "each attempt of each poison batch, as without them"
    causes = re.findall(r"instrumentation failed: (\S+) on (\S+) raised", log)
    assert ("BrokenOnErrors.on_error_occurred", "error.occurred") in causes
    assert any(event == "consumer.consumed" for _, event in causes)
    assert len(causes) == len(set(causes)), "one line per cause, not one per event"
    failed = instrumentation_failures(metrics)
    assert failed[("BrokenOnErrors.on_error_occurred", "error.occurred")] >= 3 * len(poison)
    assert any(event == "consumer.consumed" and count >= 1 for (_, event), count in failed.items()), \
        "the every-event listener's failures are counted per event"


def instrumentation_failures(metrics: str) -> dict[tuple[str, str], float]:
    found = {}
    for labels, value in re.findall(r"^karafka_instrumentation_failures_total\{([^}]*)\} ([0-9.e+]+)$", metrics, re.M):
        fields = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        found[(fields["subscriber"], fields["event"])] = float(value)
    return found

def test_a_worker_killed_by_a_bug_stops_the_server_with_a_fatal_line_and_commits_what_was_processed(kafka, make_server):
    topic = kafka.create_topic(unique("bugged"), 1)
    kafka.produce(topic, [(0, b"k", json.dumps({"bug": n == 10}).encode()) for n in range(20)])
    route = {"topic": topic, "consumer": "tests.testapp.consumers.InjectsAFrameworkBug"}
    server = make_server([route], MAX_MESSAGES=1).start()
    assert server.process.wait(40) == 1
    log = server.log()
    assert re.search(r"CRITICAL karafka\.worker-\d died of RuntimeError: injected bug; stopping the server", log)
    assert re.search(r"app\.stopped .*exit_code=1", log) and "shutdown_blocked" not in log
    assert kafka.committed(make_server.group, topic, 1) == {0: 10}, "what was processed before the bug, no more"
    assert sorted(Record.objects.values_list("offset", flat=True)) == list(range(11))

    make_server([{**route, "consumer": CONSUMER}], MAX_MESSAGES=1).start()
    wait_until(lambda: Record.objects.count() == 21, 40, "the next server processes the rest, the bugged batch again")
    wait_until(lambda: kafka.committed(make_server.group, topic, 1) == {0: 20}, 20, "committed to the end")
