"""The topic reader against a scripted consumer, and the outbox's rows against a recording
producer (the database is the test database)."""

from datetime import timedelta

import pytest
from confluent_kafka import KafkaError
from confluent_kafka import Message as RawMessage

from karafka_django.cluster.reader import TopicReader
from karafka_django.models import OutboxMessage
from karafka_django.producing import outbox
from karafka_django.testing import raw_message


class ScriptedConsumer:
    """Partition 0 of ``t`` holds offsets 0..9; ``consume`` hands over what is assigned, then the end."""

    def __init__(self):
        self.assigned: list = []
        self.pending: list = []

    def get_watermark_offsets(self, tp, timeout):
        return 0, 10

    def offsets_for_times(self, partitions, timeout):
        for tp in partitions:
            tp.offset = tp.offset // 1000  # the scripted messages' times are offset * 1000 ms
        return partitions

    def list_topics(self, topic, timeout):
        raise AssertionError("not needed here")

    def assign(self, partitions):
        self.assigned = [(tp.partition, tp.offset) for tp in partitions]
        self.pending = [raw_message("t", 0, o, b'{"n": %d}' % o, timestamp=o) for o in range(partitions[0].offset, 10)]
        self.pending.append(RawMessage(topic="t", partition=0, offset=10, error=KafkaError(KafkaError._PARTITION_EOF)))

    def unassign(self):
        self.assigned = []

    def consume(self, count, timeout):
        taken, self.pending = self.pending[:count], self.pending[count:]
        return taken


def reader() -> tuple[TopicReader, ScriptedConsumer]:
    consumer = ScriptedConsumer()
    return TopicReader({"bootstrap.servers": "k:9092"}, preview_bytes=4, consumer_factory=lambda *a, **k: consumer), consumer


def test_a_read_back_from_the_end_stops_at_the_end_and_unassigns():
    topics, consumer = reader()
    found = topics.read("t", {0: (None, None)}, count_back=3)
    assert [r.offset for r in found] == [7, 8, 9] and consumer.assigned == []
    assert found[0].text == '{"n"' and found[0].truncated, "a value past preview_bytes is cut"


def test_a_range_stops_before_its_stop():
    topics, _ = reader()
    assert [r.offset for r in topics.read("t", {0: (2, 5)})] == [2, 3, 4]


def test_reading_from_a_time_keeps_messages_until_one_is_refused(monkeypatch):
    topics, consumer = reader()
    monkeypatch.setattr(topics, "partitions", lambda topic: [0])
    found = topics.read_from_times("t", 4000, keep=lambda r: r.offset < 6)
    assert [r.offset for r in found] == [4, 5] and consumer.assigned == []


class RecordingProducer:
    def __init__(self, fail: bool = False):
        self.sent: list = []
        self.fail = fail

    def produce_sync(self, topic, value, key=None, headers=None):
        if self.fail:
            from karafka_django.errors import ProduceError
            raise ProduceError("the broker did not answer")
        self.sent.append((topic, value, key, dict(headers)))


@pytest.mark.django_db(transaction=True)
def test_a_row_is_produced_with_its_id_and_deleted_and_a_failed_one_waits_for_the_relay():
    row = outbox.write("orders", b"v", "k", {"h": "x"}, "default")
    producer = RecordingProducer()
    outbox.deliver_after_commit(producer, row, "default")
    [(topic, value, key, headers)] = producer.sent
    assert (topic, value, key, headers["h"]) == ("orders", b"v", b"k", b"x")
    assert headers[outbox.MESSAGE_ID_HEADER] == str(row.id).encode() and not OutboxMessage.objects.exists()

    left = outbox.write("orders", b"w", None, None, "default")
    outbox.deliver_after_commit(RecordingProducer(fail=True), left, "default")
    assert OutboxMessage.objects.filter(id=left.id).exists(), "kept for the relay"
    assert outbox.relay(producer, ["default"], after=timedelta(hours=1)) == 0, "too young: its sender may still deliver it"
    assert outbox.relay(producer, ["default"], after=timedelta(0)) == 1 and not OutboxMessage.objects.exists()
    assert producer.sent[-1][:2] == ("orders", b"w")
