"""Rebalances hand partitions over without loss or redo; quiet mode stops taking work."""

import re
import signal

import pytest
from django.core.management import call_command
from django.db.models import Count

from tests.integration.harness import wait_until
from tests.testapp.models import HookCall, Record

pytestmark = pytest.mark.integration

CONSUMER = "tests.testapp.consumers.RecordingConsumer"


@pytest.mark.matrix  # a long crash/fault scenario: one Python/Django pair runs it
def test_a_second_server_joining_takes_over_partitions_without_loss_or_redo(kafka, make_server, producing_to, capsys):
    topic, _ = kafka.backlog("rebalance", 6, 6000, {"sleep": 0.003})
    routes = [{"topic": topic, "consumer": CONSUMER}]
    first = make_server(routes, MAX_MESSAGES=20).start()
    wait_until(lambda: Record.objects.count() >= 600, 60, "the first server under way")
    second = make_server(routes, MAX_MESSAGES=20).start()
    second.wait_assigned(timeout=60)

    def listed() -> str:
        call_command("karafka_groups", "list")
        return capsys.readouterr().out
    # The broker's own view of the live group: both members.
    wait_until(lambda: re.search(rf"{make_server.group}\s+stable\s+members 2 ", listed()), 30, "the group listed with 2 members")
    wait_until(lambda: Record.objects.count() >= 6000, 120, "every message")
    assert first.stop() == 0 and second.stop() == 0

    assert "partitions_revoked" in first.log().split("app.stopping")[0], "the first server was never rebalanced"
    assert HookCall.objects.filter(name="revoked").exists()
    assert Record.objects.values("partition", "offset").distinct().count() == 6000
    redone = Record.objects.values("partition", "offset").annotate(n=Count("id")).filter(n__gt=1).count()
    assert redone == 0, "revocation must commit finished batches so the new owner does not redo them"
    assert "partitions_assigned" in second.log()


def test_quiet_mode_finishes_in_flight_work_and_takes_no_more(kafka, make_server):
    topic, _ = kafka.backlog("quiet", 3, 3000, {"sleep": 0.003})
    server = make_server([{"topic": topic, "consumer": CONSUMER}], MAX_MESSAGES=20, STATUS_INTERVAL_MS=200).start()
    wait_until(lambda: Record.objects.count() >= 200, 60, "processing under way")
    server.signal(signal.SIGTSTP)
    server.wait_for_log("app.quieting")
    idle = "state=quiet processed={} busy=0 queued=0"

    def quiet_statuses() -> list[str]:
        return [line for line in server.log().split("app.quieting", 1)[1].splitlines()
                if re.search(idle.format(r"\d+"), line)]
    # In-flight batches end; then the process stays quiet for ten more status lines (2 s).
    settled = wait_until(quiet_statuses, 10, "the in-flight batches ended")[0]
    written = Record.objects.count()
    wait_until(lambda: len(quiet_statuses()) >= 11, 10, "ten more status lines")
    assert all(idle.format(re.search(r"processed=(\d+)", settled).group(1)) in line for line in quiet_statuses())
    assert Record.objects.count() == written < 3000, "quiet mode still took new work"
    assert server.process.poll() is None, "quiet mode must keep the process in the group"
    assert server.stop() == 0
    committed = kafka.committed(make_server.group, topic, 3)
    written = dict(Record.objects.values_list("partition").annotate(n=Count("id")))
    assert {p: committed[p] for p in written} == written

