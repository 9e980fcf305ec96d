"""BaseConsumer: the class users subclass to consume a topic.

One instance exists per assigned topic-partition and lives across batches until the partition
is revoked or the server stops, so it may keep state (a buffer, a cache) between batches.
``consume`` always runs on a worker thread, never concurrently with itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .cluster.positions import LOGICAL, Position, PositionReader, parse_position
from .conf import get_config
from .errors import KarafkaError
from .messages import Message, Messages
from .processing.transactions import current_transaction
from .producing.producer import producer

if TYPE_CHECKING:
    from .processing.coordinator import Coordinator
    from .processing.jobs import Job
    from .processing.transactions import TransactionalProducers


class BaseConsumer:
    #: The current batch (also passed to :meth:`consume`).
    messages: Messages
    #: How many times the current batch failed before (0 on a first run).
    attempt: int = 0

    _coordinator: Coordinator
    _job: Job

    def _attach(self, coordinator: Coordinator, transactions: TransactionalProducers,
                group_metadata: Callable[[], Any] | None) -> None:
        self._coordinator = coordinator
        self._transactions, self._group_metadata = transactions, group_metadata

    @property
    def topic(self) -> str:
        return self._coordinator.topic

    @property
    def partition(self) -> int:
        return self._coordinator.partition

    @property
    def is_revoked(self) -> bool:
        """True once a rebalance took this partition away (Karafka's ``revoked?``): long work
        may check it and stop early. Once it answered True, nothing of this batch is marked, not
        even the automatic mark at its end (in the database mode its transaction rolls back):
        the partition's new owner processes the batch again."""
        if not self._coordinator.revoked:
            return False
        self._job.marks_void = True
        return True

    @property
    def errors_tracker(self) -> tuple[BaseException, ...]:
        """The errors of this partition since it last recovered, oldest first (at most 100)."""
        return tuple(self._coordinator.retry.errors)

    # -- the user's API --------------------------------------------------------------------------

    def consume(self, messages: Messages) -> None:
        """Process one batch of this partition. Raise to have it retried after a backoff."""
        raise NotImplementedError(f"{type(self).__name__} must implement consume(messages)")

    def initialized(self) -> None:
        """Called once, on a worker, before the first batch of this partition."""

    def revoked(self) -> None:
        """Called when the partition was taken away by a rebalance (after its offsets were committed)."""

    def shutdown(self) -> None:
        """Called when the server stops, after in-flight work finished and offsets were committed."""

    def tick(self) -> None:
        """With ``"periodic": {"interval_ms": N}``: called on a worker when no message arrived
        for N ms (flush buffers, time out work); never at the same time as :meth:`consume`."""

    def mark_as_consumed(self, message: Message) -> bool:
        """Everything up to and including ``message`` is processed and may be committed; False
        (nothing marked) once this batch saw :attr:`is_revoked` True."""
        if self._job.marks_void:
            return False
        transaction = current_transaction()
        if transaction is not None:  # committed with the transaction
            transaction.offset = message.offset + 1
        else:
            self._coordinator.mark_consumed(self._job, message.offset)
        return True

    def seek(self, position: Position) -> None:
        """After this batch, continue reading this partition from ``position``: an offset,
        ``"earliest"``, ``"latest"`` or a datetime (the first message stamped at or after it)."""
        self._coordinator.request_seek(self._offset(position))

    def pause(self, offset: Position | None = None, timeout_ms: int | None = None) -> None:
        """Take no new batches for ``timeout_ms`` (default: ``PAUSE_TIMEOUT_MS``).

        With ``offset`` (any position :meth:`seek` takes), reading continues from there when the
        pause ends; without it, from the message after this batch.
        """
        pause = self._coordinator.pause
        millis = pause.backoff.timeout_ms if timeout_ms is None else timeout_ms
        pause.pause_until(time.monotonic() + millis / 1000)
        if offset is not None:
            self._coordinator.request_seek(self._offset(offset))

    def _offset(self, position: Position) -> int:
        """A time is looked up here, on this worker, so the listener never waits for it."""
        position = parse_position(position)
        if isinstance(position, datetime):
            coordinator = self._coordinator
            with PositionReader(get_config().tool_kafka) as reader:
                return reader.offset(coordinator.topic, coordinator.partition, position)
        return LOGICAL[position] if isinstance(position, str) else position

    def resume(self) -> None:
        self._coordinator.pause.resume()

    def produce_sync(self, topic: str, value: Any, **kwargs: Any) -> Any:
        """The process's producer; inside a transaction, the transaction's (visible on commit)."""
        return (current_transaction() or producer).produce_sync(topic, value, **kwargs)

    def produce_async(self, topic: str, value: Any, **kwargs: Any) -> Any:
        """The process's producer; inside a transaction, the transaction's (visible on commit)."""
        return (current_transaction() or producer).produce_async(topic, value, **kwargs)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A Kafka transaction around the block: what it produces (``produce_async``,
        ``produce_sync``) and what it marks (``mark_as_consumed``) commit together when it ends;
        an exception aborts both. Inside a ``transactional`` route's batch it joins the batch's."""
        if current_transaction() is not None:
            yield
            return
        if self._coordinator.route.offsets_in_database:
            raise KarafkaError("a Kafka transaction cannot hold offsets stored in the database")
        with self._transactions.transaction(self._coordinator, self._group_metadata) as transaction:
            yield
        if transaction.offset is not None:
            self._coordinator.mark_consumed(self._job, transaction.offset - 1)
