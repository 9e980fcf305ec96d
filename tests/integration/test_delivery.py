"""At-least-once across crashes and stops: kill -9, SIGTERM under load, slow jobs."""

import json
import signal
import time

import pytest
from django.db.models import Count, Max

from karafka_django.runtime.server import REPEATED_SIGNAL_WINDOW_S
from tests.integration.harness import unique, wait_until
from tests.testapp.models import HookCall, Record

pytestmark = pytest.mark.integration

CONSUMER = "tests.testapp.consumers.RecordingConsumer"


def offsets_by_partition(topic: str) -> dict[int, list[int]]:
    result: dict[int, list[int]] = {}
    for partition, offset in Record.objects.filter(topic=topic).values_list("partition", "offset"):
        result.setdefault(partition, []).append(offset)
    return result


@pytest.mark.matrix  # a long crash/fault scenario: one Python/Django pair runs it
def test_kill_9_mid_run_then_restart_loses_nothing(kafka, make_server):
    topic, ends = kafka.backlog("crash", 6, 6000, {"sleep": 0.001})
    routes = [{"topic": topic, "consumer": CONSUMER}]
    server = make_server(routes, MAX_MESSAGES=50).start()
    wait_until(lambda: Record.objects.count() >= 1500, 60, "a part of the messages written")
    server.kill()
    committed_at_kill = kafka.committed(make_server.group, topic, 6)
    written_at_kill = Record.objects.count()
    assert written_at_kill < 6000, "the crash came too late to test anything"

    make_server(routes, MAX_MESSAGES=50).start()
    wait_until(lambda: Record.objects.values("partition", "offset").distinct().count() == 6000, 90, "every message")

    seen = offsets_by_partition(topic)
    for partition, end in ends.items():
        assert set(seen[partition]) == set(range(end)), f"partition {partition} lost messages"
    duplicates = Record.objects.values("partition", "offset").annotate(n=Count("id")).filter(n__gt=1)
    for row in duplicates:
        # Only what was processed but not yet committed when the process died may come again.
        assert row["offset"] >= max(committed_at_kill[row["partition"]], 0), f"committed message redone: {row}"


@pytest.mark.matrix  # a long crash/fault scenario: one Python/Django pair runs it
def test_sigterm_under_load_finishes_in_flight_batches_and_commits_them(kafka, make_server):
    topic, ends = kafka.backlog("term", 6, 6000, {"sleep": 0.002})
    routes = [{"topic": topic, "consumer": CONSUMER}]
    server = make_server(routes, MAX_MESSAGES=50).start()
    wait_until(lambda: Record.objects.count() >= 600, 60, "processing under way")
    assert server.stop() == 0
    log = server.log()
    assert "app.stopped" in log and "exit_code=0" in log

    written = offsets_by_partition(topic)
    assert sum(len(v) for v in written.values()) < 6000, "the stop came too late to test anything"
    committed = kafka.committed(make_server.group, topic, 6)
    for partition in range(6):
        offsets = sorted(written.get(partition, []))
        # Whatever was processed is contiguous from 0 and committed exactly: nothing half-done.
        assert offsets == list(range(len(offsets))), f"partition {partition} has holes"
        expected = len(offsets) if offsets else -1001  # OFFSET_INVALID: nothing committed
        assert committed[partition] == expected, (partition, committed[partition], len(offsets))
    assert HookCall.objects.filter(name="shutdown").count() == 6

    make_server(routes, MAX_MESSAGES=50).start()
    wait_until(lambda: Record.objects.count() >= 6000, 90, "the rest after the restart")
    assert Record.objects.count() == 6000, "a graceful stop must not cause re-delivery"
    assert offsets_by_partition(topic).keys() == ends.keys()


@pytest.mark.matrix  # a long crash/fault scenario: one Python/Django pair runs it
def test_job_longer_than_max_poll_interval_keeps_the_partition(kafka, make_server):
    topic = kafka.create_topic(unique("slow"), 2)
    # max.poll.interval.ms is 10 s in the test settings; this batch takes 12 s.
    kafka.produce(topic, [(0, b"slow", b'{"sleep": 12}')])
    kafka.produce(topic, ((i % 2, b"k", b"{}") for i in range(200)))
    server = make_server([{"topic": topic, "consumer": CONSUMER}]).start()
    server.wait_assigned()
    wait_until(lambda: Record.objects.count() >= 201, 40, "all messages, the slow one included")
    assert server.stop() == 0
    log = server.log()
    assert log.count("partitions_assigned") == 1, log
    assert log.count("partitions_revoked") == 1, "revoked before shutdown: the member was kicked out"
    assert Record.objects.count() == 201
    assert Record.objects.aggregate(m=Max("attempt"))["m"] == 0


def _server_stuck_in_a_long_batch(kafka, make_server, **overrides):
    topic = kafka.create_topic(unique("stuck"), 1)
    kafka.produce(topic, [(0, b"k", b'{"sleep": 30}')])
    server = make_server([{"topic": topic, "consumer": CONSUMER}], **overrides).start()
    server.wait_assigned()
    wait_until(lambda: "busy=1" in server.log(), 20, "the long batch running")
    return topic, server


def test_shutdown_timeout_exits_non_zero_and_commits_nothing_unfinished(kafka, make_server):
    reports = unique("reports")
    topic, server = _server_stuck_in_a_long_batch(kafka, make_server, SHUTDOWN_TIMEOUT_MS=2000, REPORTING=True,
                                                  REPORTS_TOPIC=reports)
    started = time.monotonic()
    assert server.stop() == 2
    assert time.monotonic() - started < 10
    assert kafka.committed(make_server.group, topic, 1) == {0: -1001}
    assert Record.objects.count() == 0
    [blocked] = [line for line in server.log().splitlines() if "app.shutdown_blocked consumer=" in line]
    assert blocked.startswith("WARNING "), "said even where the log is kept at WARNING"
    assert all(part in blocked for part in (f"consumer={CONSUMER}", f"topic={topic}", "partition=0", "first_offset=0",
                                            "last_offset=0", "committed=False")), blocked
    last_report = json.loads(kafka.read_all(reports)[-1].value())
    assert last_report["state"] == "stopped" and [
        (b["consumer"], b["topic"], b["partition"], b["committed"]) for b in last_report["shutdown_blocked"]
        if "consumer" in b] == [(CONSUMER, topic, 0, False)], "the process report says it too"


def test_a_second_stop_signal_forces_exit(kafka, make_server):
    _, server = _server_stuck_in_a_long_batch(kafka, make_server)
    server.signal(signal.SIGTERM)
    first_signal_at = time.monotonic()
    server.wait_for_log("app.stopping")

    def signalled_again_and_gone() -> bool:  # the operator insists: a stop signal every 200 ms
        server.signal(signal.SIGTERM)
        return server.process.poll() is not None
    wait_until(signalled_again_and_gone, 10, "the process gone after a repeated stop signal", interval=0.2)
    assert server.process.returncode == 2
    assert "forced=True" in server.log()
    assert time.monotonic() - first_signal_at >= REPEATED_SIGNAL_WINDOW_S, "a repeat within the window is the same request"
