"""The consumer group protocol (KIP-848, ``group.protocol: "consumer"``) on Apache Kafka: what
is its own beyond the group event matrix (test_group_events runs every partition state under it).
"""

import re

import pytest

from karafka_django.brokers.kafka import KafkaCluster
from tests.integration.harness import unique, wait_until
from tests.testapp.models import Record

pytestmark = pytest.mark.integration

CONSUMER = "tests.testapp.consumers.RecordingConsumer"
KIP848 = {"group.protocol": "consumer", "session.timeout.ms": None}  # None: the session is the broker's


def assigned(log: str) -> list[set[str]]:
    """Each partitions_assigned event of a log: the partitions it added."""
    return [set(found.split(",")) for found in re.findall(r"partitions_assigned \S+ partitions=(\S+)", log)]


def test_a_restarted_static_member_gets_its_partitions_back_and_nobody_else_moves(kafka, make_server):
    topic = kafka.create_topic(unique("kip848_static"), 4)
    route = [{"topic": topic, "consumer": CONSUMER}]
    first = make_server(route, KAFKA={**KIP848, "group.instance.id": unique("first")}).start()
    first.wait_assigned()
    second = make_server(route, KAFKA={**KIP848, "group.instance.id": unique("second")}).start()
    second.wait_assigned()
    wait_until(lambda: "partitions_revoked" in first.log(), 30, "the first member giving partitions up")
    wait_until(lambda: sum(map(len, assigned(second.log()))) == 2, 30, "two partitions each")
    kept = set.union(*assigned(second.log()))
    owned = set.union(*assigned(first.log())) - kept

    assert first.stop() == 0
    first.start()
    first.wait_assigned()
    assert assigned(first.log()) == [owned], "the restarted static member got its own partitions back"
    ends = kafka.produce_json(topic, 4, 400)
    wait_until(lambda: kafka.committed(make_server.group, topic, 4) == ends, 60, "everything consumed")
    assert "partitions_revoked" not in second.log() and assigned(second.log()) == [kept], "the other member never moved"
    assert Record.objects.filter(topic=topic).count() == 400
    assert first.stop() == 0 and second.stop() == 0


def test_a_duplicate_static_member_id_stops_the_newcomer_with_a_clear_line_and_the_first_consumes_on(kafka, make_server):
    topic = kafka.create_topic(unique("kip848_duplicate"), 2)
    route = [{"topic": topic, "consumer": CONSUMER}]
    static = {**KIP848, "group.instance.id": unique("twin")}
    first = make_server(route, KAFKA=static).start()
    first.wait_assigned()
    twin = make_server(route, KAFKA=static).start()
    assert twin.process.wait(60) == 3, "the newcomer is fenced (UNRELEASED_INSTANCE_ID, fatal): a client fault"
    [failed] = [line for line in twin.log().splitlines() if "state=failed" in line]
    assert "instance ID is still used by another member" in failed, twin.log()
    ends = kafka.produce_json(topic, 2, 100)
    wait_until(lambda: kafka.committed(make_server.group, topic, 2) == ends, 40, "the first member consuming on")
    assert first.stop() == 0


def test_a_cluster_without_the_consumer_protocol_stops_the_server_with_one_clear_line(make_server, tmp_path):
    with KafkaCluster(data_dir=tmp_path / "classic-only", heap="384m",
                      properties={"group.coordinator.rebalance.protocols": "classic"}) as classic_only:
        server = make_server([{"topic": unique("kip848_unsupported"), "consumer": CONSUMER}],
                             KAFKA={**KIP848, "bootstrap.servers": classic_only.bootstrap_servers}).start()
        code = server.process.wait(60)
    assert code == 3, server.log()
    [failed] = [line for line in server.log().splitlines() if "state=failed" in line]
    assert "does not offer group.protocol 'consumer'" in failed, server.log()
    assert server.log().count("ConsumerGroupHeartbeat") <= 2, "librdkafka's line and ours: no retry loop"
