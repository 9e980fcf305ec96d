"""Offsets stored with the data (``offset_storage: "database"``) and the transactional outbox
(``producer.produce_on_commit``), against Tansu and PostgreSQL, with real crashes (SIGKILL)."""

import json
import random
import subprocess
import sys
import uuid

import pytest
from confluent_kafka import Producer
from django.db import transaction

from karafka_django import producer
from karafka_django.models import OutboxMessage, StoredOffset
from karafka_django.producing.outbox import MESSAGE_ID_HEADER
from tests.integration.harness import ROOT, unique, wait_until
from tests.testapp.models import Record

pytestmark = pytest.mark.integration

CONSUMER = "tests.testapp.consumers.RecordingConsumer"  # plain inserts: no unique key to hide a duplicate
#: Kafka's committed offset lags far behind processing (as it does between auto-commits), so
#: every kill leaves processed messages uncommitted in Kafka: only offsets stored with the rows
#: keep them from being processed again.
SLOW_KAFKA_COMMITS = {"auto.commit.interval.ms": 60000}


def rows(topic: str) -> tuple[int, int]:
    """(rows, distinct messages) written for ``topic``."""
    found = Record.objects.filter(topic=topic)
    return found.count(), found.values("partition", "offset").distinct().count()


@pytest.mark.matrix
@pytest.mark.parametrize("storage", ["database", "kafka"])
def test_sigkill_at_random_moments_leaves_every_row_exactly_once_only_with_database_offsets(kafka, make_server, storage):
    topic, ends = kafka.backlog(f"exactly-once-{storage}", 3, 3000, {"sleep": 0.002})
    route = {"topic": topic, "consumer": CONSUMER, **({"offset_storage": "database"} if storage == "database" else {})}
    chance = random.Random(f"{topic}")  # random moments, reproducible from the topic name in the log
    for _ in range(3):
        server = make_server([route], MAX_MESSAGES=20, KAFKA=SLOW_KAFKA_COMMITS).start()
        target = rows(topic)[1] + chance.randint(50, 400)
        wait_until(lambda target=target: rows(topic)[1] >= target, 90, "a part of the backlog processed")
        server.kill()
    final = make_server([route], MAX_MESSAGES=20, KAFKA=SLOW_KAFKA_COMMITS).start()
    wait_until(lambda: rows(topic)[1] == 3000, 120, "every message processed")
    assert final.stop() == 0
    total, distinct = rows(topic)
    if storage == "database":
        assert (total, distinct) == (3000, 3000), "every message's row exactly once"
        stored = dict(StoredOffset.objects.filter(topic=topic).values_list("partition", "next_offset"))
        assert stored == ends
    else:
        assert total > distinct == 3000, "at-least-once: the kills caused duplicates (the test can tell)"


def test_a_dead_lettered_message_of_a_database_offset_route_has_its_offset_stored(kafka, make_server):
    topic, dlq = kafka.create_topic(unique("stored-dlq"), 1), kafka.create_topic(unique("stored-dlq.dlq"), 1)
    poison = {5, 29}  # the last one: only the dead letter path can store offset 30
    kafka.produce(topic, ((0, f"key-{n}".encode(), json.dumps({"poison": n in poison}).encode()) for n in range(30)))
    route = {"topic": topic, "consumer": CONSUMER, "offset_storage": "database",
             "dead_letter_queue": {"topic": dlq, "max_retries": 1}}
    server = make_server([route], MAX_MESSAGES=10).start()
    wait_until(lambda: StoredOffset.objects.filter(topic=topic, next_offset=30).exists(), 60, "offsets stored to the end")
    assert server.stop() == 0
    assert sorted(m.key().decode() for m in kafka.read_all(dlq)) == sorted(f"key-{n}" for n in poison)
    assert rows(topic) == (28, 28), "the good messages exactly once, the poison ones not at all"


def test_an_outbox_duplicate_is_dropped_by_a_database_offset_route(kafka, make_server):
    topic = kafka.create_topic(unique("deduplicated"), 1)
    message_id = str(uuid.uuid4()).encode()
    client = Producer({"bootstrap.servers": kafka.bootstrap_servers})
    for key in (b"first", b"again", b"other"):  # "again" is what a relay that died after producing repeats
        headers = [(MESSAGE_ID_HEADER, message_id if key != b"other" else str(uuid.uuid4()).encode())]
        client.produce(topic, value=b"{}", key=key, headers=headers)
    assert client.flush(10) == 0
    server = make_server([{"topic": topic, "consumer": CONSUMER, "offset_storage": "database"}]).start()
    wait_until(lambda: StoredOffset.objects.filter(topic=topic, next_offset=3).exists(), 60, "the three messages stored")
    assert server.stop() == 0
    assert sorted(Record.objects.filter(topic=topic).values_list("key", flat=True)) == ["first", "other"]


def test_produce_on_commit_sends_nothing_on_rollback_and_exactly_once_on_commit(producing_to, transactional_db):
    topic = producing_to.create_topic(unique("on-commit"), 1)
    with pytest.raises(RuntimeError), transaction.atomic():
        producer.produce_on_commit(topic, {"n": "rolled back"})
        raise RuntimeError("rollback")
    with transaction.atomic():
        producer.produce_on_commit(topic, {"n": "committed"}, key="k", headers={"origin": "test"})
        assert OutboxMessage.objects.count() == 1, "the message is a row of the transaction"
    [message] = producing_to.read_all(topic)
    assert json.loads(message.value()) == {"n": "committed"} and message.key() == b"k"
    headers = dict(message.headers())
    assert headers["origin"] == b"test" and uuid.UUID(headers[MESSAGE_ID_HEADER].decode())
    assert OutboxMessage.objects.count() == 0, "delivered rows are deleted"


KILLED_AFTER_COMMIT = """
import os, signal, sys
from django.db import transaction
from karafka_django import producer
with transaction.atomic():
    transaction.on_commit(lambda: os.kill(os.getpid(), signal.SIGKILL))  # runs first: after the commit, before the produce
    producer.produce_on_commit(sys.argv[1], {"n": "survives"})
"""


def test_a_message_committed_by_a_process_killed_before_producing_it_is_relayed_once(kafka, make_server, server_env):
    topic = kafka.create_topic(unique("relayed"), 1)
    died = subprocess.run([sys.executable, "-c", f"import django; django.setup(); exec({KILLED_AFTER_COMMIT!r})", topic],
                          cwd=ROOT, env=server_env, timeout=60)
    assert died.returncode == -9
    assert OutboxMessage.objects.filter(topic=topic).count() == 1 and kafka.read_all(topic) == []
    other = kafka.create_topic(unique("any-route"), 1)
    server = make_server([{"topic": other, "consumer": CONSUMER}], OUTBOX_RELAY_INTERVAL_MS=500,
                         OUTBOX_RELAY_AFTER_MS=1000).start()
    wait_until(lambda: not OutboxMessage.objects.filter(topic=topic).exists(), 60, "the relay took the row")
    assert server.stop() == 0
    [message] = kafka.read_all(topic)
    assert json.loads(message.value()) == {"n": "survives"}
