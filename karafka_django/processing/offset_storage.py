"""Offsets stored in the database with the batch's writes (a route's ``offset_storage: "database"``).

The batch runs inside ``transaction.atomic(using=route.database)`` and the partition's next
offset is written in that same transaction: a crash at any instant leaves both or neither, so
every message's database effects land exactly once. The listener starts each assigned partition
at the stored offset (Kafka's committed offset is still committed after, for lag and tooling).

The write is fenced: it moves the row only from the offset this owner last read or wrote. If a
rebalance gave the partition to another process whose batch stored first, the update matches no
row and the whole transaction rolls back (:class:`OffsetFenced`), so a batch that outlived its
revocation cannot apply its writes twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction

from ..models import ReceivedMessage, StoredOffset
from ..producing.outbox import message_id
from ..routing.route import Route

if TYPE_CHECKING:
    from .coordinator import Coordinator


class OffsetFenced(Exception):
    """Another owner of the partition stored its offset since this one read it."""


def load(route: Route, topic: str, partitions: list[int]) -> dict[int, int]:
    """The stored next offsets of these partitions (those that have one)."""
    rows = StoredOffset.objects.using(route.database).filter(
        consumer_group=route.consumer_group, topic=topic, partition__in=partitions)
    return dict(rows.values_list("partition", "next_offset"))


class BatchTransaction:
    """What the executor stores in the transaction: the partition's next offset, if it moved;
    or nothing at all (``discard``: the batch stopped short, its writes roll back)."""

    __slots__ = ("next_offset", "discarded")

    def __init__(self) -> None:
        self.next_offset: int | None = None
        self.discarded = False

    def store(self, next_offset: int | None) -> None:
        self.next_offset = next_offset

    def discard(self) -> None:
        self.discarded = True


@contextmanager
def batch_transaction(coordinator: Coordinator) -> Iterator[BatchTransaction]:
    """The transaction of one batch (or one dead-lettered message): its writes and its offset.

    Moves ``coordinator.offsets.db_offset`` only once the transaction committed.
    """
    batch = BatchTransaction()
    with transaction.atomic(using=coordinator.route.database):
        yield batch
        if batch.discarded:
            transaction.set_rollback(True, using=coordinator.route.database)
        target = batch.next_offset
        moved = target is not None and (coordinator.offsets.db_offset is None or target > coordinator.offsets.db_offset)
        if target is not None and moved:
            _advance(coordinator, target)
    if moved:
        coordinator.offsets.db_offset = target


def _advance(coordinator: Coordinator, target: int) -> None:
    route, expected = coordinator.route, coordinator.offsets.db_offset
    rows = StoredOffset.objects.using(route.database)
    key = {"consumer_group": route.consumer_group, "topic": coordinator.topic, "partition": coordinator.partition}
    if expected is None:
        try:
            with transaction.atomic(using=route.database):  # a savepoint: a conflict is reported, not fatal
                rows.create(next_offset=target, **key)
            return
        except IntegrityError:
            raise OffsetFenced(f"{coordinator.topic}/{coordinator.partition}: another owner stored an offset first") from None
    if rows.filter(next_offset=expected, **key).update(next_offset=target) != 1:
        raise OffsetFenced(f"{coordinator.topic}/{coordinator.partition}: the stored offset moved past {expected} "
                           "(another owner processed it)")


def drop_received(route: Route, raw: list) -> list:
    """``raw`` without the outbox messages this consumer group already processed, remembering the
    new ones in the current transaction."""
    ids = [message_id(m) if m.headers() else None for m in raw]
    if not any(ids):
        return raw
    received = ReceivedMessage.objects.using(route.database)
    seen = set(received.filter(consumer_group=route.consumer_group, message_id__in={i for i in ids if i})
               .values_list("message_id", flat=True))
    fresh, new = [], []
    for message, outbox_id in zip(raw, ids):
        if outbox_id is not None:
            if outbox_id in seen:
                continue  # processed before, or earlier in this batch: a relay's duplicate
            seen.add(outbox_id)
            new.append(ReceivedMessage(consumer_group=route.consumer_group, message_id=outbox_id))
        fresh.append(message)
    received.bulk_create(new)
    return fresh
