"""The transactional outbox behind ``producer.produce_on_commit`` (and the Tasks backend).

A message is a row written in the sender's own transaction: a rollback leaves nothing to send.
After the commit the sending process produces it at once and deletes the row. If that process
dies in between, the row stays, and the relay (a job on ``karafka_server``'s worker pool, so the
database connection bound holds) produces every row older than ``OUTBOX_RELAY_AFTER_MS`` (a
younger one may still be on its way from its own process) and deletes it. A relay that dies
between its produce and its delete sends a row twice: every message carries its row id in the
:data:`MESSAGE_ID_HEADER` header, and routes with ``offset_storage: "database"`` drop an id
they already processed.
"""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from ..errors import ProduceError
from ..models import OutboxMessage, ReceivedMessage
from ..processing.dependencies import DATABASE, database_unavailable

if TYPE_CHECKING:
    from ..instrumentation.monitor import Monitor
    from ..processing.dependencies import Dependencies
    from .producer import Producer

logger = logging.getLogger("karafka_django.outbox")

MESSAGE_ID_HEADER = "karafka_message_id"
RELAY_BATCH = 500
#: How long a consumer remembers the ids it processed (to drop a relay's duplicate).
RECEIVED_RETENTION = timedelta(days=7)


def write(topic: str, value: bytes | None, key: str | bytes | None, headers: dict | list | None, using: str) -> OutboxMessage:
    """The message as a row of the current transaction on ``using``."""
    pairs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    encoded = [[name, base64.b64encode(v.encode() if isinstance(v, str) else (v or b"")).decode()] for name, v in pairs]
    return OutboxMessage.objects.using(using).create(
        id=uuid.uuid4(), topic=topic, value=value, key=key.encode() if isinstance(key, str) else key, headers=encoded)


def message_headers(row: OutboxMessage) -> list[tuple[str, bytes]]:
    return [(name, base64.b64decode(value)) for name, value in row.headers] + [(MESSAGE_ID_HEADER, str(row.id).encode())]


def produce(producer: Producer, row: OutboxMessage) -> None:
    """Produce one row, waiting for the broker's acknowledgement (raises ``ProduceError``)."""
    value = None if row.value is None else bytes(row.value)
    key = None if row.key is None else bytes(row.key)
    producer.produce_sync(row.topic, value, key=key, headers=message_headers(row))


def deliver_after_commit(producer: Producer, row: OutboxMessage, using: str) -> None:
    """The sender's own delivery, right after its commit; on failure the relay delivers it."""
    try:
        produce(producer, row)
    except ProduceError as exc:
        logger.warning("outbox message %s to %s left for the relay: %s", row.id, row.topic, exc)
        return
    OutboxMessage.objects.using(using).filter(id=row.id).delete()


class OutboxRelay:
    """The relay as ``karafka_server`` runs it (a job every ``OUTBOX_RELAY_INTERVAL_MS``): a
    failure is reported when it starts and when it ends, not on every turn; a database that
    cannot be reached is the process's ``database unavailable`` state, not an error."""

    def __init__(self, producer: Producer, aliases: Iterable[str], after: timedelta, monitor: Monitor,
                 dependencies: Dependencies):
        self.producer = producer
        self.aliases = sorted(set(aliases))
        self.after = after
        self.monitor = monitor
        self.dependencies = dependencies
        self.failing = False
        self.waiting = False  # for the database

    def __call__(self) -> None:
        try:
            relay(self.producer, self.aliases, self.after)
        except Exception as exc:
            if database_unavailable(exc, self.aliases):
                self.waiting = True
                self.dependencies.failed(DATABASE, exc)
                return
            if not self.failing:
                self.monitor.error("outbox.relay.error", exc)
            self.failing = True
            return
        if self.waiting:
            self.dependencies.recovered(DATABASE)
        if self.failing:
            self.monitor.instrument("outbox.relay.recovered")
        self.failing = self.waiting = False


def relay(producer: Producer, aliases: Iterable[str], after: timedelta) -> int:
    """Produce and delete the rows older than ``after`` on each database; returns how many were sent.

    Rows are locked (``SKIP LOCKED`` where the database has it), so two servers never relay
    the same row at once; a produce that fails rolls the batch back for the next turn.
    """
    sent = 0
    for using in aliases:
        cutoff = timezone.now() - after
        with transaction.atomic(using=using):
            rows = list(OutboxMessage.objects.using(using).select_for_update(skip_locked=True)
                        .filter(created_at__lt=cutoff).order_by("created_at")[:RELAY_BATCH])
            for row in rows:
                produce(producer, row)
            OutboxMessage.objects.using(using).filter(id__in=[row.id for row in rows]).delete()
        sent += len(rows)
        ReceivedMessage.objects.using(using).filter(received_at__lt=timezone.now() - RECEIVED_RETENTION).delete()
    if sent:
        logger.info("outbox relay produced %s messages left behind", sent)
    return sent


def message_id(raw: Any) -> uuid.UUID | None:
    """The outbox id a raw Kafka message carries, if it came through the outbox."""
    for name, value in raw.headers() or ():
        if name == MESSAGE_ID_HEADER and value:
            try:
                return uuid.UUID(value.decode())
            except ValueError:
                return None
    return None
