"""Broker faults on a three-node Apache Kafka cluster, as production meets them.

Replication factor 3, ``min.insync.replicas`` 2, the producer idempotent with ``acks=all``. Each
consumer test starts with a backlog large enough to be mid-flight when the fault hits.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta

import pytest
from django.db.models import Count

from karafka_django import producer
from karafka_django.brokers import free_port
from karafka_django.brokers.kafka import KafkaCluster
from tests.integration.harness import Kafka, health, unique, wait_until
from tests.testapp.models import Record

pytestmark = [pytest.mark.integration, pytest.mark.matrix]  # long fault scenarios: one Python/Django pair

CONSUMER = "tests.testapp.consumers.RecordingConsumer"
PARTITIONS = 3
BACKLOG = 15_000
SAFE_PRODUCER = {"enable.idempotence": True, "acks": "all"}
#: A session longer than a broker's failover (fencing, leader election, the group's state loaded by its
#: new coordinator), as in production (45 s by default): a lost node does not cost the group its members.
#: The tests' usual 6 s is for killed servers; here it would turn a failover into lost partitions.
SERVER_SETTINGS = {"KAFKA": {"auto.commit.interval.ms": 200, "session.timeout.ms": 30000, "max.poll.interval.ms": 60000},
                   "PRODUCER": SAFE_PRODUCER, "MAX_MESSAGES": 50}


def coordinator_of(cluster: KafkaCluster, group: str) -> int | None:
    """The group's coordinator, or None while the lookup fails (the coordinator is moving)."""
    try:
        return cluster.coordinator(group)
    except Exception:  # KafkaException, or a timeout while the group moves
        return None


def log_lines(server) -> list[str]:
    """The server's log without its periodic status line (every second in the tests)."""
    return [line for line in server.log().splitlines() if "app.status" not in line]


def processed(topic: str) -> int:
    return Record.objects.filter(topic=topic).count()


def assert_every_offset_in_order(topic: str, ends: dict[int, int], duplicates_at_most: int) -> None:
    """Every offset processed; per partition, processing went forward except for re-deliveries of
    what was not committed yet, and those are at most ``duplicates_at_most``."""
    rows = Record.objects.filter(topic=topic)
    for partition, end in ends.items():
        offsets = list(rows.filter(partition=partition).order_by("id").values_list("offset", flat=True))
        assert set(offsets) == set(range(end)), f"partition {partition}: missing {sorted(set(range(end)) - set(offsets))[:10]}"
        firsts, seen = [], set()
        for offset in offsets:
            if offset not in seen:
                seen.add(offset)
                firsts.append(offset)
        assert firsts == sorted(firsts), f"partition {partition} processed out of order"
    duplicates = sum(n - 1 for n in rows.values("partition", "offset").annotate(n=Count("id")).values_list("n", flat=True))
    assert duplicates <= duplicates_at_most, f"{duplicates} duplicates, more than the {duplicates_at_most} in flight"


def in_flight(kafka: Kafka, group: str, topic: str) -> int:
    """Processed but not yet committed, plus a batch per partition that may be running."""
    committed = kafka.committed(group, topic, PARTITIONS)
    return processed(topic) - sum(max(0, o) for o in committed.values()) + PARTITIONS * SERVER_SETTINGS["MAX_MESSAGES"]


def start_consuming(kafka: Kafka, make_server, name: str, **overrides):
    topic = kafka.create_topic(unique(name), PARTITIONS, replicas=3)
    ends = kafka.produce_json(topic, PARTITIONS, BACKLOG)
    metrics = free_port()
    server = make_server([{"topic": topic, "consumer": CONSUMER}], ["--metrics-port", str(metrics)],
                         **{**SERVER_SETTINGS, **overrides})
    server.start()
    wait_until(lambda: processed(topic) >= BACKLOG // 5, 90, "a fifth of the backlog processed")
    assert processed(topic) < BACKLOG * 0.9, "the backlog was not mid-flight"
    return topic, ends, server, metrics


def test_the_leader_killed_mid_backlog_then_restarted_with_its_data(three_nodes, make_server):
    cluster, kafka = three_nodes
    topic, ends, server, metrics = start_consuming(kafka, make_server, "failover")
    leader = cluster.leader(topic, 0)
    bound = in_flight(kafka, make_server.group, topic)
    cluster.kill(leader)

    wait_until(lambda: cluster.leader(topic, 0) != leader, 30, "a new leader for partition 0")
    seen = wait_until(lambda: leader in health(metrics).get("brokers_unreachable", []) and health(metrics), 30,
                      "the lost node in /healthz")
    assert seen["healthy"] is True and "degraded" in seen["brokers"], seen
    wait_until(lambda: processed(topic) >= BACKLOG, 120, "the backlog consumed on the new leaders")

    cluster.start(leader)
    wait_until(lambda: leader not in health(metrics).get("brokers_unreachable", [leader]), 60, "the node back in /healthz")
    wait_until(lambda: kafka.committed(make_server.group, topic, PARTITIONS) == ends, 30, "committed to the ends")
    assert server.stop() == 0
    assert_every_offset_in_order(topic, ends, bound)
    log = server.log()
    assert log.count("state=degraded") <= 3, "the lost node is a state said when it changes, not a line per retry"
    assert len(log.splitlines()) < 400, log[-5000:]


def test_the_group_coordinator_killed_mid_backlog_the_group_moves(three_nodes, make_server):
    cluster, kafka = three_nodes
    topic, ends, server, _ = start_consuming(kafka, make_server, "coordinated")
    coordinator = cluster.coordinator(make_server.group)
    bound = in_flight(kafka, make_server.group, topic)
    cluster.kill(coordinator)

    wait_until(lambda: coordinator_of(cluster, make_server.group) not in (None, coordinator), 60, "a new coordinator")
    wait_until(lambda: kafka.committed(make_server.group, topic, PARTITIONS) == ends, 120,
               "every partition consumed and committed to its end")
    assert server.stop() == 0
    assert_every_offset_in_order(topic, ends, bound)


def test_a_stop_right_after_the_coordinator_died_exits_clean_only_with_a_commit_that_holds(three_nodes, make_server):
    """librdkafka replays a commit deferred at a coordinator change after newer ones, and the broker
    takes older offsets: the stop's final commit must be read back before it claims a clean exit."""
    cluster, kafka = three_nodes
    topic, ends, server, _ = start_consuming(kafka, make_server, "stop-after-coordinator")
    cluster.kill(cluster.coordinator(make_server.group))
    code = server.stop()
    by_partition = {p: list(Record.objects.filter(topic=topic, partition=p).values_list("offset", flat=True))
                    for p in range(PARTITIONS)}
    processed_to = {p: max(offsets) + 1 if offsets else 0 for p, offsets in by_partition.items()}
    committed = wait_until(lambda: kafka.committed(make_server.group, topic, PARTITIONS), 60, "the committed offsets read")
    assert code in (0, 2), server.log()[-3000:]
    if code == 0:  # a clean exit claims its commit held: the group holds one past what was processed
        assert committed == processed_to, f"clean exit, yet the group holds {committed} for {processed_to}"
    cluster.start()
    rows_before = processed(topic)
    restarted = make_server([{"topic": topic, "consumer": CONSUMER}], **SERVER_SETTINGS).start()
    wait_until(lambda: kafka.committed(make_server.group, topic, PARTITIONS) == ends, 120, "the rest consumed")
    assert restarted.stop() == 0
    redelivered = processed(topic) - rows_before - sum(ends[p] - committed[p] for p in ends)
    assert redelivered == 0 or code != 0, "a clean exit's next owner delivers nothing again"
    assert_every_offset_in_order(topic, ends, duplicates_at_most=0 if code == 0 else BACKLOG)


def test_every_broker_down_for_30_s_then_back_with_their_data(three_nodes, make_server):
    cluster, kafka = three_nodes
    topic, ends, server, metrics = start_consuming(kafka, make_server, "blackout")
    committed_before = sum(max(0, o) for o in kafka.committed(make_server.group, topic, PARTITIONS).values())
    for node in cluster.nodes:
        cluster.kill(node)
    down_at = time.monotonic()
    wait_until(lambda: health(metrics).get("brokers") == "down", 30, "the outage as a state in /healthz")
    lines_at_outage = len(log_lines(server))
    wait_until(lambda: time.monotonic() - down_at >= 30, 40, "30 s of outage", interval=1)
    during_outage = log_lines(server)[lines_at_outage:]
    assert len(during_outage) < 40, "\n".join(during_outage)
    # What was processed while no commit could land is delivered again (at-least-once), no more.
    bound = processed(topic) - committed_before + PARTITIONS * SERVER_SETTINGS["MAX_MESSAGES"]

    cluster.start()
    wait_until(lambda: kafka.committed(make_server.group, topic, PARTITIONS) == ends, 180,
               "consumption resumed without a restart and committed to the ends")
    assert server.process.poll() is None, "the server kept running"
    assert server.stop() == 0
    assert_every_offset_in_order(topic, ends, bound)


def test_the_shared_producer_through_a_leader_kill_loses_and_duplicates_nothing(three_nodes, settings):
    cluster, kafka = three_nodes
    topic = kafka.create_topic(unique("produced"), 1, replicas=3)
    settings.KARAFKA = {**settings.KARAFKA, "PRODUCER": SAFE_PRODUCER, "PRODUCER_SYNC_TIMEOUT_MS": 20000,
                        "KAFKA": {**settings.KARAFKA["KAFKA"], "bootstrap.servers": cluster.bootstrap_servers}}
    producer.close()
    try:
        leader, sent, slowest = cluster.leader(topic, 0), 0, 0.0
        for n in range(2000):
            if n == 500:
                cluster.kill(leader)
            started = time.monotonic()
            producer.produce_sync(topic, {"n": n}, key=str(n))
            slowest = max(slowest, time.monotonic() - started)
            sent += 1
        assert slowest < 20, "produce_sync answered within its bound"
    finally:
        producer.close()
    values = [json.loads(m.value())["n"] for m in kafka.read_all(topic)]
    assert values == list(range(sent)), "every message once, in order"


def test_dead_letters_and_the_outbox_relay_through_a_leader_kill_lose_and_duplicate_nothing(three_nodes, make_server):
    from django.utils import timezone

    from karafka_django.models import OutboxMessage

    cluster, kafka = three_nodes
    topic = kafka.create_topic(unique("poisoned"), PARTITIONS, replicas=3)
    dlq, outbox = kafka.create_topic(unique("poisoned.dlq"), 1, replicas=3), kafka.create_topic(unique("relayed"), 1, replicas=3)
    messages = [(n % PARTITIONS, str(n).encode(), json.dumps({"poison": n % 10 == 0, "n": n}).encode()) for n in range(3000)]
    ends = kafka.produce(topic, messages)
    OutboxMessage.objects.bulk_create([OutboxMessage(id=uuid.uuid4(), topic=outbox, key=str(n).encode(),
                                                     value=json.dumps({"n": n}).encode()) for n in range(300)])
    OutboxMessage.objects.update(created_at=timezone.now() - timedelta(hours=1))  # left behind: the relay's work
    route = {"topic": topic, "consumer": CONSUMER, "dead_letter_queue": {"topic": dlq, "max_retries": 0}}
    server = make_server([route], **{**SERVER_SETTINGS, "PRODUCER_SYNC_TIMEOUT_MS": 30000,
                                     "OUTBOX_RELAY_INTERVAL_MS": 200, "OUTBOX_RELAY_AFTER_MS": 1000}).start()
    wait_until(lambda: processed(topic) >= 300, 90, "processing and dead-lettering under way")
    cluster.kill(cluster.leader(dlq, 0))

    wait_until(lambda: kafka.committed(make_server.group, topic, PARTITIONS) == ends, 180, "committed to the ends")
    wait_until(lambda: not OutboxMessage.objects.exists(), 60, "the outbox relayed")
    assert server.stop() == 0
    dead = [json.loads(m.value())["n"] for m in kafka.read_all(dlq)]
    assert sorted(dead) == list(range(0, 3000, 10)), "every poison message dead-lettered, each once"
    assert sorted(json.loads(m.value())["n"] for m in kafka.read_all(outbox)) == list(range(300)), "relayed once each"
    good = Record.objects.filter(topic=topic).values("partition", "offset").distinct().count()
    assert good == 2700


def test_a_stop_while_every_broker_is_down_ends_within_the_shutdown_timeout_and_loses_nothing(three_nodes, make_server):
    """A deploy or a node drain during an outage: the coordinator is gone when the server commits
    and leaves its group. It must still exit within SHUTDOWN_TIMEOUT_MS (the orchestrator's grace
    period is set from it), and what it processed without a commit is delivered again, no more."""
    cluster, kafka = three_nodes
    timeout_s = 10
    topic, ends, server, metrics = start_consuming(kafka, make_server, "stopped-in-outage",
                                                   SHUTDOWN_TIMEOUT_MS=timeout_s * 1000)
    committed_before = sum(max(0, o) for o in kafka.committed(make_server.group, topic, PARTITIONS).values())
    for node in cluster.nodes:
        cluster.kill(node)
    wait_until(lambda: health(metrics).get("brokers") == "down", 30, "the outage as a state in /healthz")

    stopping_at = time.monotonic()
    code = server.stop(timeout=timeout_s + 30)
    took = time.monotonic() - stopping_at
    assert took < timeout_s + 5, f"the stop took {took:.1f}s against a {timeout_s}s shutdown timeout"
    assert code in (0, 2), server.log()[-3000:]
    if code == 2:  # forced: librdkafka waited for a coordinator to commit and to leave the group
        assert 'app.shutdown_blocked subscription_group=' in server.log() and 'listener="did not finish"' in server.log()
    bound = processed(topic) - committed_before + PARTITIONS * SERVER_SETTINGS["MAX_MESSAGES"]

    cluster.start()
    make_server([{"topic": topic, "consumer": CONSUMER}], **SERVER_SETTINGS).start()
    wait_until(lambda: kafka.committed(make_server.group, topic, PARTITIONS) == ends, 180,
               "the next server consumed the rest and committed to the ends")
    assert_every_offset_in_order(topic, ends, bound)
