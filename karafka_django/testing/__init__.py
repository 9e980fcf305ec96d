"""Test consumers without a broker, the way karafka-testing does (also a pytest plugin).

    def test_orders(karafka):
        karafka.produce("orders", {"number": "A-1"}, key="A-1")
        karafka.consume()
        assert Order.objects.filter(number="A-1").exists()

``consume`` runs the routed consumer through the real coordinator and executor, so it gets the
batch a server would hand it (same ``Message`` objects, offsets, mark/seek semantics, one
consumer instance per partition kept across calls). What the code under test produces
through the shared producer is captured in ``karafka.produced_messages``, not sent; so is what a
``transactional`` route produces (there is no broker to hold a transaction).
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from confluent_kafka import TIMESTAMP_CREATE_TIME
from confluent_kafka import Message as RawMessage

from ..consumer import BaseConsumer
from ..instrumentation import Monitor
from ..loading import load
from ..processing.coordinator import Coordinator
from ..processing.executor import Executor
from ..processing.jobs_queue import JobsQueue
from ..processing.pause import Backoff
from ..producing.producer import producer, serialize
from ..routing.route import Route


def raw_message(topic: str, partition: int, offset: int, value: bytes | None, key: Any = None,
                headers: dict | list | None = None, timestamp: float | None = None) -> RawMessage:
    """A confluent-kafka message as the broker would deliver it."""
    if isinstance(key, str):
        key = key.encode()
    if isinstance(headers, dict):
        headers = [(k, v.encode() if isinstance(v, str) else v) for k, v in headers.items()]
    millis = int((time.time() if timestamp is None else timestamp) * 1000)
    return RawMessage(topic=topic, partition=partition, offset=offset, key=key, value=value,
                      headers=headers or None, timestamp=(TIMESTAMP_CREATE_TIME, millis))


@dataclass(frozen=True)
class Produced:
    topic: str
    value: bytes | None
    key: bytes | None
    headers: list | None
    partition: int | None

    @property
    def payload(self) -> Any:
        import json

        return None if self.value is None else json.loads(self.value)


class _RecordingClient:
    """Stands in for the librdkafka producer: records, and reports every message delivered."""

    def __init__(self, sink: list[Produced]):
        self.sink = sink
        self.offsets: dict[tuple[str, int], int] = defaultdict(int)

    def produce(self, topic: str, value: Any = None, key: Any = None, headers: Any = None,
                partition: int | None = None, on_delivery: Any = None) -> None:
        if isinstance(key, str):
            key = key.encode()
        self.sink.append(Produced(topic, value, key, headers, partition))
        target = (topic, partition or 0)
        offset, self.offsets[target] = self.offsets[target], self.offsets[target] + 1
        if on_delivery is not None:
            on_delivery(None, raw_message(topic, partition or 0, offset, value, key))

    def poll(self, timeout: float = 0) -> int:
        return 0

    def flush(self, timeout: float = 0) -> int:
        return 0


class _NoConnectionHygiene:
    """Inside a test the connection belongs to the test's transaction: Django's test client
    does not close it around requests either."""

    @staticmethod
    def before_job() -> None:
        pass

    after_job = before_job


class _RecordedTransaction:
    """A transactional route's batch under the test client: what it produces is recorded like
    any message (there is no broker to hold a transaction); an exception still fails the batch."""

    offset: int | None = None

    @staticmethod
    def produce_async(topic: str, value: Any, **kwargs: Any) -> Any:
        return producer.produce_async(topic, value, **kwargs)

    @staticmethod
    def produce_sync(topic: str, value: Any, **kwargs: Any) -> Any:
        return producer.produce_sync(topic, value, **kwargs)


class _RecordedTransactions:
    """Stands in for the pool of transactional producers."""

    open_count = 0

    @staticmethod
    @contextmanager
    def transaction(coordinator: Coordinator, group_metadata: Any) -> Iterator[_RecordedTransaction]:
        yield _RecordedTransaction()

    def close(self) -> None:
        pass


class KarafkaTestClient:
    def __init__(self) -> None:
        config, routing = load()
        self.routes: dict[str, Route] = {r.topic: r for r in routing.routes}
        self.backoff = Backoff.from_config(config)
        self.max_messages = config.max_messages
        self.jobs = JobsQueue()
        self.monitor = Monitor()
        self.executor = Executor(self.jobs, self.monitor, db_hooks=_NoConnectionHygiene,
                                 transactions=_RecordedTransactions())  # type: ignore[arg-type]
        self.coordinators: dict[tuple[str, int], Coordinator] = {}
        self.produced_messages: list[Produced] = []
        self._pending: dict[tuple[str, int], list] = defaultdict(list)
        self._next_offset: dict[tuple[str, int], int] = defaultdict(int)
        self._errors: list[BaseException] = []
        self.monitor.subscribe("error.occurred", self._record_error)
        self._saved_client: Any = None

    def _record_error(self, _event: str, payload: dict[str, Any]) -> None:
        if payload["exception"] is not None:  # re-raised by consume()
            self._errors.append(payload["exception"])

    # -- input -----------------------------------------------------------------------------------

    def produce(self, topic: str, payload: Any, key: Any = None, partition: int = 0,
                headers: dict | None = None, timestamp: float | None = None) -> RawMessage:
        """Queue a message for the consumer routed to ``topic`` (dicts become JSON, as in production)."""
        if topic not in self.routes:
            raise LookupError(f"no route consumes '{topic}'; routed topics: {sorted(self.routes)}")
        target = (topic, partition)
        offset, self._next_offset[target] = self._next_offset[target], self._next_offset[target] + 1
        message = raw_message(topic, partition, offset, serialize(payload), key, headers, timestamp)
        self._pending[target].append(message)
        return message

    # -- running ---------------------------------------------------------------------------------

    def consume(self, topic: str | None = None) -> None:
        """Hand the queued messages to their consumers as a server would; re-raise what they raise.

        A failed batch stays where a server would keep it: the next ``consume()`` retries it
        (without waiting for the backoff).
        """
        for target in [t for t in self._pending if topic is None or t[0] == topic]:
            for job in self.coordinator(*target).add(self._pending.pop(target)):
                self.jobs.put(job)
        for (name, _), coordinator in self.coordinators.items():
            if topic is None or name == topic:
                for due in coordinator.due_jobs(max(time.monotonic(), coordinator.pause.ends_at)):
                    self.jobs.put(due)
        self._errors.clear()
        while len(self.jobs):
            queued = self.jobs.get()
            if queued is not None:  # no worker-stopping sentinel is ever put here
                self.executor.run(queued)
        if self._errors:
            raise self._errors[0]

    def consumer_for(self, topic: str, partition: int = 0) -> BaseConsumer:
        """The consumer instance of a partition (built, and ``initialized()``, if it ran no batch yet)."""
        coordinator = self.coordinator(topic, partition)
        if 0 not in coordinator.consumers:
            coordinator.consumers[0] = self.executor.build(coordinator)
        return coordinator.consumers[0]

    def coordinator(self, topic: str, partition: int) -> Coordinator:
        target = (topic, partition)
        if target not in self.coordinators:
            self.coordinators[target] = Coordinator(topic, partition, self.routes[topic], self.max_messages, self.backoff)
        return self.coordinators[target]

    def committed(self, topic: str, partition: int = 0) -> int | None:
        """The offset a server would have committed (last processed + 1)."""
        return self.coordinator(topic, partition).offsets.marked

    # -- the shared producer -------------------------------------------------------------------------

    def __enter__(self) -> KarafkaTestClient:
        self._saved_client = (producer._client, producer._pid)
        producer._client, producer._pid = _RecordingClient(self.produced_messages), os.getpid()  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        producer._client, producer._pid = self._saved_client
