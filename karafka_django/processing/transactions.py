"""Kafka transactions (KIP-98, KIP-447): what a batch produces and its consumed offset commit
together, so a ``read_committed`` reader sees each result once, however the process dies.

**Producers.** A transaction belongs to one producer, and a worker runs one batch at a time, so
the pool holds at most one transactional producer per worker (``CONCURRENCY``), each with the
transactional id ``<CLIENT_ID>-<identity>-<n>``. The identity is the process's
``group.instance.id`` when it has one (and the swarm node), so a restarted process takes the
same ids back and its ``init_transactions`` aborts what its killed predecessor left open at
once; without one it is the host and pid, and a dead process's open transaction is aborted by
the broker after ``transaction.timeout.ms`` (it blocks ``read_committed`` readers until then).

**Fencing.** The offsets go in with the consumer's group metadata read when the batch started:
if a rebalance moved the partition meanwhile, the coordinator refuses them and the transaction
aborts, so a batch that outlived its partition never commits beside the new owner's; one that
ends while the revocation still waits for it commits, and the new owner (whose offset fetch
waits for pending transactional offsets) starts after it. A producer that failed fatally
(fenced by a newer instance of its id) is closed and replaced; the batch is retried, never
committed twice.
"""

from __future__ import annotations

import os
import queue
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from confluent_kafka import KafkaError, KafkaException, TopicPartition

from ..connection import clients
from ..connection.faults import ClientFaults
from ..errors import KarafkaError, TransactionFailed
from ..instrumentation import monitor
from ..producing.producer import Delivery, DeliveryCounts, send, serialize, serve_reports

if TYPE_CHECKING:
    from .coordinator import Coordinator

#: Bound of each transactional call (init, send offsets, commit, abort), in seconds.
CALL_TIMEOUT_S = 30.0
#: A group that moved on since the batch started refuses its offsets with these.
REBALANCED = {KafkaError.ILLEGAL_GENERATION, KafkaError.UNKNOWN_MEMBER_ID, KafkaError.REBALANCE_IN_PROGRESS,
              KafkaError.FENCED_INSTANCE_ID}
#: How long a full local queue may hold a produce inside a transaction, in seconds.
QUEUE_FULL_WAIT_S = 30.0


_local = threading.local()


def current_transaction() -> Transaction | None:
    """The transaction open on this thread (a worker's), if any."""
    return getattr(_local, "transaction", None)


def transactional_id_base(client_id: str, kafka: dict[str, Any], node: int | None) -> str:
    identity = kafka.get("group.instance.id") or f"{socket.gethostname()}-{os.getpid()}"
    return f"{client_id}-{identity}" if node is None else f"{client_id}-{identity}-node{node}"


class TransactionalProducer:
    """One librdkafka producer with a transactional id, used by one worker at a time."""

    def __init__(self, kafka: dict[str, Any], transactional_id: str):
        self.transactional_id = transactional_id
        self.faults = ClientFaults(monitor, client="transactional producer")
        self.counts = DeliveryCounts()
        self.client = clients.producer({**kafka, "transactional.id": transactional_id}, error_cb=self.faults.on_error)
        _call(self.client.init_transactions, CALL_TIMEOUT_S)  # fences and aborts an older instance of this id
        self._closing = threading.Event()
        self.poller = serve_reports(self.client, self._closing, f"karafka.transactional-producer-{transactional_id}")

    def close(self) -> None:
        self._closing.set()


class Transaction:
    """The open transaction of a batch (or of a ``with consumer.transaction()`` block)."""

    def __init__(self, producer: TransactionalProducer):
        self.producer = producer
        self.offset: int | None = None  # the partition's next offset, committed with the transaction
        self.deliveries: list[Delivery] = []

    def produce_async(self, topic: str, value: Any, key: str | bytes | None = None,
                      headers: dict[str, Any] | list | None = None, partition: int | None = None) -> Delivery:
        producer = self.producer
        with monitor.around("producer.produce", topic=topic, key=key, headers=headers) as sending:
            delivery = send(producer.client, Delivery(topic, producer.faults, producer.counts), serialize(value), key,
                            sending["headers"], partition, QUEUE_FULL_WAIT_S, producer.faults)
        self.deliveries.append(delivery)
        return delivery

    def produce_sync(self, topic: str, value: Any, timeout: float | None = None, **kwargs: Any) -> Delivery:
        """Written to the partition's log, not yet visible to ``read_committed`` readers."""
        return self.produce_async(topic, value, **kwargs).wait(CALL_TIMEOUT_S if timeout is None else timeout)

    def commit(self, coordinator: Coordinator, group_metadata: Any) -> None:
        client = self.producer.client
        client.flush(CALL_TIMEOUT_S)
        for delivery in self.deliveries:  # a message that failed fails the transaction
            delivery.wait(CALL_TIMEOUT_S)
        if self.offset is not None:
            coordinator.offsets.by_transactions = True  # from now on only transactions commit its offsets
            offsets = [TopicPartition(coordinator.topic, coordinator.partition, self.offset)]
            _call(client.send_offsets_to_transaction, offsets, group_metadata, CALL_TIMEOUT_S)
        _commit(client)


class TransactionalProducers:
    """The pool: ``size`` producers at most, created on first use (or all at ``start``)."""

    def __init__(self, kafka: dict[str, Any], base: str, size: int):
        self.kafka, self.base = kafka, base
        self._free: queue.SimpleQueue[tuple[int, TransactionalProducer | None]] = queue.SimpleQueue()
        for index in range(size):
            self._free.put((index, None))
        self.size = size
        self._open: dict[int, TransactionalProducer] = {}
        self._lock = threading.Lock()

    def start(self) -> str | None:
        """Create every producer now: their ``init_transactions`` fence what a predecessor with
        the same ids left open. Returns why the cluster refused, or None."""
        try:
            taken = [self._take() for _ in range(self.size)]
        except TransactionFailed as exc:
            return (f"{exc} (transactional routes need a cluster that offers transactions, and permission to "
                    "use their transactional ids)")
        for index, producer in taken:
            self._free.put((index, producer))
        return None

    def _take(self) -> tuple[int, TransactionalProducer]:
        index, producer = self._free.get()
        if producer is None:
            try:
                producer = TransactionalProducer(self.kafka, f"{self.base}-{index}")
            except TransactionFailed:
                self._free.put((index, None))
                raise
            with self._lock:
                self._open[index] = producer
        return index, producer

    @contextmanager
    def transaction(self, coordinator: Coordinator, group_metadata: Callable[[], Any] | None) -> Iterator[Transaction]:
        """Begin; commit when the block ends (with ``Transaction.offset``); abort when it raises."""
        if group_metadata is None:
            raise KarafkaError("a Kafka transaction needs the consumer of karafka_server: its group's generation fences it")
        metadata = group_metadata()  # the generation this batch runs under: a later one fences it
        index, producer = self._take()
        broken = False
        try:
            _local.transaction = transaction = Transaction(producer)
            _call(producer.client.begin_transaction)
            yield transaction
            transaction.commit(coordinator, metadata)
        except BaseException as exc:
            broken = not _abort(producer)
            if broken and isinstance(exc, Exception) and not isinstance(exc, TransactionFailed):
                # the producer failed (fenced, fatal): the batch is retried on a new one, no message blamed
                raise TransactionFailed(f"the transactional producer failed: {exc}") from exc
            raise
        finally:
            _local.transaction = None
            if broken:  # a new instance of its id fences this one and aborts what it left open
                with self._lock:
                    self._open.pop(index, None)
                producer.close()
            self._free.put((index, None if broken else producer))

    def close(self) -> None:
        with self._lock:
            producers, self._open = list(self._open.values()), {}
        for producer in producers:
            producer.close()

    @property
    def open_count(self) -> int:
        with self._lock:
            return len(self._open)


def _call(method: Callable[..., Any], *args: Any) -> Any:
    """A transactional call; a refusal becomes :class:`TransactionFailed` with the broker's words."""
    try:
        return method(*args)
    except KafkaException as exc:
        error = exc.args[0]
        raise TransactionFailed(f"{method.__name__}: {error.str()}", rebalanced=error.code() in REBALANCED) from exc


def _commit(client: Any) -> None:
    """Commit; a retriable failure (a timeout) is retried, as librdkafka asks: the commit may
    have reached the broker, so aborting instead could let the batch run twice."""
    for attempt in range(3):
        try:
            client.commit_transaction(CALL_TIMEOUT_S)
            return
        except KafkaException as exc:
            if not exc.args[0].retriable() or attempt == 2:
                raise TransactionFailed(f"commit_transaction: {exc.args[0].str()}") from exc


def _abort(producer: TransactionalProducer) -> bool:
    """Abort the open transaction; False when the producer cannot be trusted any more (fenced,
    fatal, its state unknown): it is then replaced."""
    try:
        producer.client.abort_transaction(CALL_TIMEOUT_S)
        return True
    except KafkaException:
        return False
