"""Swarm mode: a supervisor and forked nodes sharing the partitions; a killed node comes back."""


import psutil
import pytest
from django.db.models import Count

from tests.integration.harness import wait_until
from tests.testapp.models import Record

pytestmark = pytest.mark.integration

CONSUMER = "tests.testapp.consumers.RecordingConsumer"


def nodes_of(supervisor_pid: int) -> list[psutil.Process]:
    return psutil.Process(supervisor_pid).children()


@pytest.mark.matrix  # a long crash/fault scenario: one Python/Django pair runs it
def test_swarm_shares_partitions_restarts_a_killed_node_and_loses_nothing(kafka, make_server):
    topic, _ = kafka.backlog("swarm", 6, 3000)
    server = make_server([{"topic": topic, "consumer": CONSUMER}], MAX_MESSAGES=50, args=["--swarm", "2"]).start()
    server.wait_for_log("partitions_assigned", timeout=40, count=2)
    wait_until(lambda: Record.objects.count() >= 3000, 60, "the first 3,000 messages")
    assert not Record.objects.values("partition", "offset").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert "node=0" in server.log() and "node=1" in server.log()

    supervisor = psutil.Process(server.pid)
    assert supervisor.num_threads() == 1, "the supervisor runs no thread but its main loop"
    assert supervisor.net_connections(kind="tcp") == [], "no Kafka client, no database connection"
    assert supervisor.memory_info().rss < 120 * 2**20
    assert len(nodes_of(server.pid)) == 2

    kafka.produce_json(topic, 6, 3000, {"sleep": 0.003})
    wait_until(lambda: Record.objects.count() >= 3600, 60, "the second run under way")
    victim = nodes_of(server.pid)[0]
    victim.kill()
    committed_at_kill = kafka.committed(make_server.group, topic, 6)
    server.wait_for_log("swarm.node_exited", timeout=10)
    server.wait_for_log("swarm.node_started", timeout=20, count=3)
    wait_until(lambda: Record.objects.values("partition", "offset").distinct().count() == 6000, 120, "every message")
    assert victim.pid not in [p.pid for p in nodes_of(server.pid)] and len(nodes_of(server.pid)) == 2

    redone = Record.objects.values("partition", "offset").annotate(n=Count("id")).filter(n__gt=1)
    for row in redone:
        assert row["offset"] >= committed_at_kill[row["partition"]], f"committed message redone: {row}"
    assert server.stop(timeout=60) == 0
    assert "swarm.stopped" in server.log() and "exit_code=0" in server.log().split("swarm.stopped")[1]
