"""Kafka transactions (a route's ``transactional``): consume-transform-produce exactly once,
against Apache Kafka, with real crashes (SIGKILL) and what readers of each isolation level see."""

import json
import random
import re
from collections import Counter

import pytest
from confluent_kafka import Producer
from django.core.management import call_command

from karafka_django.brokers import free_port
from karafka_django.brokers.kafka import KafkaCluster
from tests.integration.harness import health, unique, wait_until
from tests.testapp.models import Record

pytestmark = pytest.mark.integration

CONSUMER = "tests.testapp.consumers.DerivingConsumer"
#: Kafka's committed offset lags far behind processing without a transaction (as between
#: auto-commits), so every kill of a plain route leaves produced results whose offsets are not
#: committed: only a transaction keeps them from being produced again.
SLOW_KAFKA_COMMITS = {"auto.commit.interval.ms": 60000}


def sources(messages: list) -> Counter:
    """How often each source (partition, offset) appears among the derived messages."""
    return Counter((body["partition"], body["offset"]) for body in (json.loads(m.value()) for m in messages))


@pytest.mark.matrix
@pytest.mark.parametrize("transactional", [True, False], ids=["transactional", "plain"])
def test_sigkill_at_random_moments_a_read_committed_reader_sees_each_result_once_only_with_transactions(
        kafka, make_server, transactional):
    topic, _ = kafka.backlog(unique("derive"), 3, 3000, {"sleep": 0.002})
    output = kafka.create_topic(f"{topic}.out", 3)
    route = {"topic": topic, "consumer": CONSUMER, "transactional": transactional}
    # A stable identity: a restarted server takes its transactional ids back and aborts at once
    # what the killed one left open (and its static member gets its partitions back).
    settings = {"MAX_MESSAGES": 50, "KAFKA": {**SLOW_KAFKA_COMMITS, "group.instance.id": "host-1"}}
    chance = random.Random(topic)  # random moments, reproducible from the topic name in the log

    def produced() -> int:  # what reached the output log, committed or not
        return sum(kafka.ends(output, 3).values())

    for _ in range(3):
        server = make_server([route], **settings).start()
        target = produced() + chance.randint(100, 600)
        wait_until(lambda target=target: produced() >= target, 90, "a part of the backlog processed")
        server.kill()
    final = make_server([route], **settings).start()
    wait_until(lambda: len(sources(kafka.read_all(output))) == 3000, 120, "every input's result readable")
    assert final.stop() == 0
    seen = sources(kafka.read_all(output))
    if transactional:
        assert set(seen.values()) == {1}, f"results seen twice: {[s for s, n in seen.items() if n > 1][:10]}"
        assert sum(seen.values()) < len(kafka.read_all(output, isolation="read_uncommitted")), \
            "the kills left aborted results (the test can tell)"
    else:
        assert max(seen.values()) > 1, "at-least-once: the kills caused duplicates (the test can tell)"


def test_an_aborted_batch_is_invisible_to_read_committed_and_its_dead_letter_commits_with_the_offset(kafka, make_server):
    """A message raises after its batch produced results: the transaction aborts (twice, then
    the message alone, then it is dead-lettered). read_committed readers see each other input's
    result once and none of the failing one's; read_uncommitted readers see the aborted ones."""
    topic = kafka.create_topic(unique("aborts"), 1)
    output, dlq = kafka.create_topic(f"{topic}.out", 1), kafka.create_topic(f"{topic}.dlq", 1)
    kafka.produce(topic, [(0, str(i).encode(), json.dumps({"poison": i == 5}).encode()) for i in range(10)])
    route = {"topic": topic, "consumer": CONSUMER, "transactional": True,
             "dead_letter_queue": {"topic": dlq, "max_retries": 1}}
    server = make_server([route], MAX_MESSAGES=10).start()
    wait_until(lambda: kafka.committed(make_server.group, topic, 1) == {0: 10}, 60, "the batch and its dead letter committed")
    assert server.stop() == 0

    committed = sources(kafka.read_all(output))
    assert committed == {(0, offset): 1 for offset in range(10) if offset != 5}
    uncommitted = sources(kafka.read_all(output, isolation="read_uncommitted"))
    assert uncommitted[(0, 5)] >= 2 and uncommitted[(0, 0)] >= 2, "the aborted attempts were written, then aborted"
    [dead] = kafka.read_all(dlq)
    assert dead.offset() is not None and dict(dead.headers())["original_offset"] == b"5"


def test_lag_of_a_read_committed_consumer_is_measured_to_the_last_stable_offset(kafka, make_server, producing_to, capsys):
    """Ten messages in a committed transaction (offsets 0-9, its marker at 10), then five in one
    left open (11-15): the last stable offset is 11, the high watermark 16. A server reads the
    ten; the live lag and karafka_groups measure to 11, so only the marker is left (lag 1), not
    the six offsets an open transaction holds back."""
    topic = kafka.create_topic(unique("lso"), 1)
    writer = Producer({"bootstrap.servers": kafka.bootstrap_servers, "transactional.id": unique("writer")})
    writer.init_transactions(30)
    for count, commit in ((10, True), (5, False)):
        writer.begin_transaction()
        for _ in range(count):
            writer.produce(topic, b"{}", partition=0)
        writer.flush(30)
        if commit:
            writer.commit_transaction(30)
    port = free_port()
    server = make_server([{"topic": topic, "consumer": "tests.testapp.consumers.RecordingConsumer"}],
                         ["--metrics-port", str(port)]).start()
    wait_until(lambda: Record.objects.filter(topic=topic).count() == 10, 30, "the committed messages")
    assert kafka.ends(topic, 1) == {0: 11}, "a read_committed client's end is the LSO"
    assert len(kafka.read_all(topic, isolation="read_uncommitted")) == 15
    wait_until(lambda: health(port).get("lag") == 1, 30, f"the live lag at the LSO; last {health(port)}")
    assert server.stop() == 0
    call_command("karafka_groups", "lag", make_server.group)
    assert re.search(rf"{topic}\s+0\s+committed 10\s+end 11\s+lag 1\b", capsys.readouterr().out)
    writer.abort_transaction(30)


@pytest.mark.matrix  # a long fault scenario: one Python/Django pair runs it
def test_fenced_producers_are_replaced_and_their_batches_retried_without_a_duplicate(kafka, make_server):
    """Another client takes the server's transactional ids mid-backlog (init_transactions fences
    the server's producers, as a zombie's successor would): the server's open transactions abort,
    the fenced producers are replaced, their batches retried; the log says the dependency went
    away and came back, and every result is read once."""
    topic, _ = kafka.backlog(unique("fenced"), 2, 2000, {"sleep": 0.003})
    output = kafka.create_topic(f"{topic}.out", 2)
    route = {"topic": topic, "consumer": CONSUMER, "transactional": True}
    server = make_server([route], CONCURRENCY=2, MAX_MESSAGES=20, KAFKA={"group.instance.id": "host-1"}).start()
    wait_until(lambda: sum(kafka.ends(output, 2).values()) >= 300, 60, "results under way")
    usurpers = [Producer({"bootstrap.servers": kafka.bootstrap_servers, "transactional.id": f"{make_server.group}-host-1-{n}"})
                for n in range(2)]
    for usurper in usurpers:
        usurper.init_transactions(30)
    wait_until(lambda: len(sources(kafka.read_all(output))) == 2000, 120, "every input's result readable")
    assert server.stop() == 0
    assert set(sources(kafka.read_all(output)).values()) == {1}
    log = server.log()
    assert "dependency=\"kafka transactions\" state=unavailable" in log and "state=available" in log, log[-3000:]


@pytest.mark.matrix  # a long fault scenario: one Python/Django pair runs it
def test_a_cluster_that_cannot_run_transactions_stops_the_server_with_one_clear_line(make_server, tmp_path):
    """One node whose transaction log wants three replicas: no transaction coordinator can be
    found, so the server's transactional producers cannot start; it says so once and exits 3
    before consuming anything."""
    with KafkaCluster(data_dir=tmp_path / "no-transactions", heap="384m",
                      properties={"transaction.state.log.replication.factor": 3}) as crippled:
        server = make_server([{"topic": unique("never"), "consumer": CONSUMER, "transactional": True}],
                             KAFKA={"bootstrap.servers": crippled.bootstrap_servers}).start()
        code = server.process.wait(90)
    assert code == 3, server.log()
    [line] = [line for line in server.log().splitlines() if "transactions.unavailable" in line]
    assert "need a cluster that offers transactions" in line
    assert "partitions_assigned" not in server.log()


@pytest.mark.matrix  # a long fault scenario: one Python/Django pair runs it
@pytest.mark.parametrize("protocol", ["eager", "consumer"])
def test_partitions_moved_by_rebalances_mid_transaction_are_committed_once(kafka, make_server, protocol):
    """A second server joins mid-backlog, then the first leaves: partitions move twice while
    batches run. A batch that ends after its partition moved is refused (the generation it
    started under is gone) and aborted; its new owner produces the results once."""
    topic, _ = kafka.backlog(unique("moved"), 4, 3000, {"sleep": 0.003})
    output = kafka.create_topic(f"{topic}.out", 4)
    route = {"topic": topic, "consumer": CONSUMER, "transactional": True}
    kafka_settings = {"eager": {"partition.assignment.strategy": "range"},
                      "consumer": {"group.protocol": "consumer", "session.timeout.ms": None}}[protocol]

    def server(instance: str):
        return make_server([route], MAX_MESSAGES=20, REVOCATION_TIMEOUT_MS=200,
                           KAFKA={**kafka_settings, "group.instance.id": instance}).start()

    def produced() -> int:
        return sum(kafka.ends(output, 4).values())

    first = server("host-1")
    wait_until(lambda: produced() >= 500, 60, "results under way")
    second = server("host-2")
    second.wait_assigned(timeout=60)
    wait_until(lambda: produced() >= 1500, 60, "both consuming")
    assert first.stop() == 0
    wait_until(lambda: len(sources(kafka.read_all(output))) == 3000, 120, "every input's result readable")
    assert second.stop() == 0
    assert set(sources(kafka.read_all(output)).values()) == {1}
    assert "partitions_revoked" in first.log()
    assert "kafka transactions" not in first.log() + second.log(), "a rebalance is not an outage"


def test_a_transaction_block_in_a_plain_route_commits_its_message_with_its_mark(kafka, make_server):
    """``with self.transaction()`` around one message's produce and mark: the block that raises
    (the first attempt at offset 3) is aborted, the batch retried from offset 3; each result is
    read once and the committed offset is the end."""
    topic = kafka.create_topic(unique("block"), 1)
    output = kafka.create_topic(f"{topic}.out", 1)
    kafka.produce(topic, [(0, str(i).encode(), json.dumps({"poison": i == 3}).encode()) for i in range(8)])
    server = make_server([{"topic": topic, "consumer": "tests.testapp.consumers.BlockDerivingConsumer",
                           "manual_offset_management": True}]).start()
    wait_until(lambda: kafka.committed(make_server.group, topic, 1) == {0: 8}, 60, "every message committed")
    assert server.stop() == 0
    assert sources(kafka.read_all(output)) == {(0, offset): 1 for offset in range(8)}
    assert sources(kafka.read_all(output, isolation="read_uncommitted"))[(0, 3)] == 2, "the raising block was aborted"
