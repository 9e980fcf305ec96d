"""Offsets stored with the batch's writes, in PostgreSQL: one transaction, fenced against a second owner."""

from collections.abc import Callable
from types import SimpleNamespace

import pytest

from karafka_django import BaseConsumer
from karafka_django.deserializers import raw_deserializer
from karafka_django.instrumentation import Monitor
from karafka_django.models import StoredOffset
from karafka_django.processing.executor import Executor
from karafka_django.processing.jobs_queue import JobsQueue
from karafka_django.processing.offset_storage import OffsetFenced, batch_transaction, load
from karafka_django.testing import raw_message
from tests.testapp.models import Record

pytestmark = pytest.mark.integration


@pytest.fixture
def stored(make_coordinator, db):
    return make_coordinator(offset_storage="database")


def write_batch(coordinator, next_offset: int) -> None:
    with batch_transaction(coordinator) as batch:
        Record.objects.create(topic="t", partition=0, offset=next_offset - 1)
        batch.store(next_offset)


def test_the_offset_and_the_rows_commit_together_and_the_owner_reads_it_back(stored):
    write_batch(stored, 10)
    write_batch(stored, 20)
    assert stored.offsets.db_offset == 20 and load(stored.route, "t", [0, 1]) == {0: 20}
    assert Record.objects.count() == 2


def test_a_failing_batch_rolls_back_its_rows_and_its_offset(stored):
    write_batch(stored, 10)
    with pytest.raises(ValueError), batch_transaction(stored) as batch:
        Record.objects.create(topic="t", partition=0, offset=10)
        batch.store(11)
        raise ValueError("consume failed")
    assert stored.offsets.db_offset == 10 and load(stored.route, "t", [0]) == {0: 10}
    assert Record.objects.count() == 1


def test_a_stale_owner_is_fenced_and_its_rows_rolled_back(stored, make_coordinator):
    write_batch(stored, 10)
    successor = make_coordinator(offset_storage="database")
    successor.offsets.db_offset = 10
    write_batch(successor, 15)  # the partition's new owner stored first
    with pytest.raises(OffsetFenced):
        write_batch(stored, 15)  # the old owner's batch, outliving its revocation
    with pytest.raises(OffsetFenced):
        write_batch(make_coordinator(offset_storage="database"), 5)  # a first write racing an existing row
    assert StoredOffset.objects.get().next_offset == 15
    assert sorted(Record.objects.values_list("offset", flat=True)) == [9, 14]


class StopsWhenRevoked(BaseConsumer):
    """Writes a row per message, asking ``is_revoked`` before each; a rebalance takes the
    partition (``revoke``, the listener's call) right after the first row."""

    revoke: Callable[[], None]

    def consume(self, messages):
        for message in messages:
            if self.is_revoked:
                return
            Record.objects.create(topic=self.topic, partition=self.partition, offset=message.offset)
            StopsWhenRevoked.revoke()


@pytest.mark.parametrize("storage", [{}, {"offset_storage": "database"}], ids=["kafka", "database"])
def test_a_batch_that_saw_is_revoked_marks_nothing_and_in_the_database_mode_writes_nothing(make_coordinator, db,
                                                                                             storage):
    coordinator = make_coordinator(StopsWhenRevoked, raw_deserializer, **storage)
    StopsWhenRevoked.revoke = coordinator.revoke
    [job] = coordinator.add([raw_message("t", 0, offset, b"{}") for offset in range(5)])
    in_the_tests_transaction = SimpleNamespace(before_job=lambda: None, after_job=lambda: None)
    Executor(JobsQueue(), Monitor(), db_hooks=in_the_tests_transaction).run(job)
    assert coordinator.offsets.marked is None, "the batch's automatic mark survived the revocation"
    if storage:
        assert not Record.objects.exists() and not StoredOffset.objects.exists()
    else:
        assert list(Record.objects.values_list("offset", flat=True)) == [0]
