"""The process-wide producer (WaterDrop's role): one thread-safe librdkafka producer per process.

Created lazily on first use, so importing it (in a view, in a consumer) costs nothing and a
forked swarm node never inherits a client: after a fork the child starts with none. One
background thread serves delivery reports. ``produce_sync`` waits for its own report only,
so threads producing concurrently never wait for each other's messages.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from typing import Any, Callable

from confluent_kafka import KafkaError, Producer as KafkaProducer
from django.core.serializers.json import DjangoJSONEncoder

from .conf import get_config
from .errors import ProduceError

logger = logging.getLogger("karafka_django.producer")

def serialize(value: Any) -> bytes | None:
    """dict/list/numbers as JSON (Django's encoder: dates, decimals, UUIDs), str as UTF-8."""
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    return json.dumps(value, cls=DjangoJSONEncoder, separators=(",", ":")).encode("utf-8")


class Delivery:
    """The outcome of one produced message; ``wait()`` blocks until librdkafka reports it."""

    __slots__ = ("_done", "error", "topic", "partition", "offset")

    def __init__(self, topic: str) -> None:
        self._done = threading.Event()
        self.error: KafkaError | None = None
        self.topic = topic
        self.partition: int | None = None
        self.offset: int | None = None

    def _report(self, error: KafkaError | None, message: Any) -> None:
        self.error = error
        if message is not None:
            self.topic, self.partition, self.offset = message.topic(), message.partition(), message.offset()
        self._done.set()

    def wait(self, timeout: float | None = None) -> "Delivery":
        if not self._done.wait(timeout):
            raise ProduceError(f"no delivery report within {timeout}s")
        if self.error is not None:
            raise ProduceError(f"delivery to {self.topic} failed: {self.error}")
        return self


class Producer:
    def __init__(self, config_provider: Callable[[], dict[str, Any]] | None = None):
        self._config_provider = config_provider or (lambda: get_config().producer_kafka)
        self._lock = threading.Lock()
        self._client: KafkaProducer | None = None
        self._poller: threading.Thread | None = None
        self._closing = threading.Event()
        self._pid = os.getpid()

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
        self._client = KafkaProducer(config)
        self._poller = threading.Thread(target=self._serve_reports, args=(self._client, self._closing),
                                        name="karafka.producer", daemon=True)
        self._poller.start()

    @staticmethod
    def _serve_reports(client: KafkaProducer, closing: threading.Event) -> None:
        while not closing.is_set():
            client.poll(0.1)

    def produce_async(
        self,
        topic: str,
        value: Any,
        key: str | bytes | None = None,
        headers: dict[str, Any] | list | None = None,
        partition: int | None = None,
    ) -> Delivery:
        """Queue a message; the returned :class:`Delivery` tells when and where it landed."""
        delivery = Delivery(topic)
        kwargs: dict[str, Any] = {"value": serialize(value), "key": key, "on_delivery": delivery._report}
        if headers:
            kwargs["headers"] = headers
        if partition is not None:
            kwargs["partition"] = partition
        client = self.client
        while True:
            try:
                client.produce(topic, **kwargs)
                return delivery
            except BufferError:  # local queue full: let the poller drain delivery reports
                client.poll(0.05)

    def produce_sync(self, topic: str, value: Any, timeout: float | None = None, **kwargs: Any) -> Delivery:
        """Produce and wait for the broker's acknowledgement; raises :class:`ProduceError`."""
        return self.produce_async(topic, value, **kwargs).wait(timeout)

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
