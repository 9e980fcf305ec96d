"""The process-wide producer (WaterDrop's role): one thread-safe librdkafka producer per process.

Created lazily on first use, so importing it (in a view, in a consumer) costs nothing and a
forked swarm node never inherits a client: after a fork the child starts with none. One
background thread serves delivery reports. ``produce_sync`` waits for its own report only,
so threads producing concurrently never wait for each other's messages.

Bounded for web requests: librdkafka's ``message.timeout.ms`` is ``PRODUCER_SYNC_TIMEOUT_MS``,
so ``produce_sync`` always ends with librdkafka's own verdict, a delivery or a definite failure
(a message reported failed is never delivered later); a full local queue makes
``produce_async`` wait at most ``PRODUCER_QUEUE_FULL_TIMEOUT_MS``. Client errors are a state
(``ClientFaults``), logged when it changes; librdkafka's lines go through Python logging.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka import Producer as KafkaProducer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DEFAULT_DB_ALIAS, transaction

from ..conf import KarafkaConfig, get_config
from ..connection import clients
from ..connection.faults import ClientFaults
from ..errors import ProduceError
from ..instrumentation import monitor

logger = logging.getLogger("karafka_django.producer")

#: How long after librdkafka's message timeout its verdict may take to arrive (it scans for
#: timed-out messages about once a second).
REPORT_MARGIN_S = 2.0
#: Why a message was not delivered, in words an operator acts on.
REASONS = {
    KafkaError._MSG_TIMED_OUT: "not acknowledged in time: broker unreachable or too slow",
    KafkaError._UNKNOWN_TOPIC: "topic unknown",
    KafkaError.UNKNOWN_TOPIC_OR_PART: "topic unknown",
    KafkaError._UNKNOWN_PARTITION: "partition unknown",
    KafkaError.MSG_SIZE_TOO_LARGE: "message too large",
    KafkaError.TOPIC_AUTHORIZATION_FAILED: "not authorized for the topic",
    KafkaError.CLUSTER_AUTHORIZATION_FAILED: "not authorized",
    KafkaError._AUTHENTICATION: "authentication failed",
    KafkaError._QUEUE_FULL: "local queue full",
}


def explain(error: KafkaError, last_client_error: str | None) -> str:
    reason = REASONS.get(error.code(), error.name())
    detail = f"{reason} ({error.str()})"
    return f"{detail}; last client error: {last_client_error}" if last_client_error else detail

def serialize(value: Any) -> bytes | None:
    """dict/list/numbers as JSON (Django's encoder: dates, decimals, UUIDs), str as UTF-8."""
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    return json.dumps(value, cls=DjangoJSONEncoder, separators=(",", ":")).encode("utf-8")


class DeliveryCounts:
    """Messages delivered and failed since the client started (for metrics); written by the
    report thread only."""

    __slots__ = ("delivered", "failed")

    def __init__(self) -> None:
        self.delivered = self.failed = 0


class Delivery:
    """The outcome of one produced message; ``wait()`` blocks until librdkafka reports it."""

    __slots__ = ("_done", "_faults", "_counts", "error", "topic", "partition", "offset")

    def __init__(self, topic: str, faults: ClientFaults, counts: DeliveryCounts) -> None:
        self._done = threading.Event()
        self._faults = faults
        self._counts = counts
        self.error: KafkaError | None = None
        self.topic = topic
        self.partition: int | None = None
        self.offset: int | None = None

    def _report(self, error: KafkaError | None, message: Any) -> None:
        self.error = error
        if message is not None:
            self.topic, self.partition, self.offset = message.topic(), message.partition(), message.offset()
        if error is None:
            self._counts.delivered += 1
            self._faults.on_reachable()
        else:
            self._counts.failed += 1
        self._done.set()

    def wait(self, timeout: float | None = None) -> Delivery:
        """Block until librdkafka's verdict; raises :class:`ProduceError` when it is a failure.

        Without ``timeout`` the wait is bounded by librdkafka itself (``message.timeout.ms``).
        A shorter ``timeout`` may end before the verdict: that error says the outcome is unknown.
        """
        if not self._done.wait(timeout):
            raise ProduceError(f"no delivery report for {self.topic} within {timeout}s: the outcome is unknown, "
                               "the message may still be delivered", topic=self.topic)
        if self.error is not None:
            raise ProduceError(f"delivery to {self.topic} failed: {explain(self.error, self._faults.last_error)}",
                               topic=self.topic, error=self.error)
        return self


def send(client: KafkaProducer, delivery: Delivery, value: bytes | None, key: str | bytes | None,
         headers: dict[str, Any] | list | None, partition: int | None, queue_full_wait_s: float,
         faults: ClientFaults) -> Delivery:
    """Hand one message to ``client``, waiting at most ``queue_full_wait_s`` while its local queue
    is full (the client's delivery reports drain it meanwhile)."""
    topic = delivery.topic
    kwargs: dict[str, Any] = {"value": value, "key": key, "on_delivery": delivery._report}
    if headers:
        kwargs["headers"] = headers
    if partition is not None:
        kwargs["partition"] = partition
    deadline = time.monotonic() + queue_full_wait_s
    while True:
        try:
            client.produce(topic, **kwargs)
            return delivery
        except BufferError:
            if time.monotonic() >= deadline:
                raise ProduceError(
                    f"the producer's local queue is full ({len(client)} messages waiting) for "
                    f"{queue_full_wait_s:g}s: {faults.last_error or 'the broker does not keep up'}",
                    topic=topic) from None
            time.sleep(0.01)
        except KafkaException as exc:
            error = exc.args[0]
            raise ProduceError(f"{topic} refused the message: {explain(error, None)}", topic=topic, error=error) from None


def serve_reports(client: KafkaProducer, closing: threading.Event, name: str) -> threading.Thread:
    """A thread that serves ``client``'s delivery reports until ``closing`` is set."""
    def serve() -> None:
        while not closing.is_set():
            try:
                client.poll(0.1)
            except KafkaException:  # a fatal error (fenced): error_cb reported it; the owner replaces the client
                closing.wait(0.1)

    thread = threading.Thread(target=serve, name=name, daemon=True)
    thread.start()
    return thread


class Producer:
    def __init__(self, config_provider: Callable[[], KarafkaConfig] = get_config):
        self._config_provider = config_provider
        self._lock = threading.Lock()
        self._client: KafkaProducer | None = None
        self._poller: threading.Thread | None = None
        self._closing = threading.Event()
        self._pid = os.getpid()
        self.faults = ClientFaults(monitor, client="producer")
        self.counts = DeliveryCounts()
        self._sync_wait_s = 0.0
        self._queue_full_wait_s = 0.0

    @property
    def client(self) -> KafkaProducer:
        if self._client is None or self._pid != os.getpid():
            with self._lock:
                if self._client is None or self._pid != os.getpid():
                    self._start()
        return self._client  # type: ignore[return-value]

    def _start(self) -> None:
        config = self._config_provider()
        self._pid = os.getpid()
        self._closing = threading.Event()
        self.faults = ClientFaults(monitor, client="producer")
        self.counts = DeliveryCounts()
        kafka = config.producer_kafka
        self._sync_wait_s = int(kafka["message.timeout.ms"]) / 1000 + REPORT_MARGIN_S
        self._queue_full_wait_s = config.producer_queue_full_timeout_ms / 1000
        self._client = clients.producer(kafka, error_cb=self.faults.on_error)
        self._poller = serve_reports(self._client, self._closing, "karafka.producer")

    def produce_async(
        self,
        topic: str,
        value: Any,
        key: str | bytes | None = None,
        headers: dict[str, Any] | list | None = None,
        partition: int | None = None,
    ) -> Delivery:
        """Queue a message; the returned :class:`Delivery` tells when and where it landed.

        Raises :class:`ProduceError` at once for a message librdkafka refuses (too large, an
        unknown partition), and after ``PRODUCER_QUEUE_FULL_TIMEOUT_MS`` while its queue is full.
        """
        with monitor.around("producer.produce", topic=topic, key=key, headers=headers) as sending:
            return send(self.client, Delivery(topic, self.faults, self.counts), serialize(value), key, sending["headers"],
                        partition, self._queue_full_wait_s, self.faults)

    def produce_sync(self, topic: str, value: Any, timeout: float | None = None, **kwargs: Any) -> Delivery:
        """Produce and wait for the broker's acknowledgement; raises :class:`ProduceError`.

        Returns within ``PRODUCER_SYNC_TIMEOUT_MS`` (librdkafka's ``message.timeout.ms``) plus a
        short margin, with a definite outcome: a message reported failed is never delivered later.
        """
        delivery = self.produce_async(topic, value, **kwargs)
        return delivery.wait(self._sync_wait_s if timeout is None else timeout)

    def produce_on_commit(self, topic: str, value: Any, key: str | bytes | None = None,
                          headers: dict[str, Any] | list | None = None, using: str = DEFAULT_DB_ALIAS) -> None:
        """Produce once the current transaction on ``using`` commits: exactly once, even if this
        process dies right after the commit (a rolled-back transaction produces nothing).

        The message is a row of the outbox table written in the transaction; it is produced
        right after the commit, or by ``karafka_server``'s relay when this process could not.
        It carries a ``karafka_message_id`` header (see ``outbox.py``).
        """
        from . import (
            outbox,  # the outbox's models need the app registry; this module loads before it
        )

        row = outbox.write(topic, serialize(value), key, headers, using)
        transaction.on_commit(lambda: outbox.deliver_after_commit(self, row, using), using=using)

    def state(self) -> dict[str, Any]:
        """For /healthz, the process report, the admin and metrics: brokers, messages in flight,
        delivered and failed since the client started, last error."""
        client = self._client if self._pid == os.getpid() else None
        return {"started": client is not None, "brokers": self.faults.state,
                "in_flight": len(client) if client is not None else 0, "delivered": self.counts.delivered,
                "failed": self.counts.failed, "last_error": self.faults.last_error}

    def flush(self, timeout: float = 30) -> int:
        """Wait for queued messages; returns how many are still undelivered."""
        if self._client is None or self._pid != os.getpid():
            return 0
        return self._client.flush(timeout)

    def close(self, timeout: float = 30) -> int:
        """Flush and stop the report thread; the next use starts a new client."""
        with self._lock:
            remaining = self.flush(timeout)
            if remaining:
                logger.error("producer closed with %s undelivered messages", remaining)
            self._closing.set()
            if self._poller is not None and self._pid == os.getpid():
                self._poller.join(1)
            self._client, self._poller = None, None
            return remaining


producer = Producer()
