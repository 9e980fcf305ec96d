"""Consumers the integration tests route to (through KARAFKA_TEST_OVERRIDES)."""

import base64
import time
from datetime import datetime

from karafka_django import BaseConsumer

from .models import HookCall, Record, Span


class RecordingConsumer(BaseConsumer):
    """Writes one Record per message with the ORM.

    Every payload is read (so a bad one raises here, not earlier). Payload keys steer it:
    ``sleep`` (seconds, to model slow work), ``sleep_unless_revoked`` (seconds, but the batch stops
    early, writing nothing, once its partition is revoked), ``poison`` (raises ValueError), ``critical``
    (raises MemoryError), ``fail_attempts`` (raises while ``self.attempt`` is below it),
    ``pause_ms`` (pauses the partition after this batch, once per consumer instance), ``seek``
    (an ISO time, "earliest" or an offset: read from there after this batch, once per instance).
    """

    def consume(self, messages):
        rows = []
        for message in messages:
            payload = message.payload
            if not isinstance(payload, dict):
                payload = {}
            if payload.get("sleep"):
                time.sleep(payload["sleep"])
            if payload.get("sleep_unless_revoked") and not self._sleep_unless_revoked(payload["sleep_unless_revoked"]):
                return
            if payload.get("poison"):
                raise ValueError(f"poison at {message.offset}")
            if payload.get("critical"):
                raise MemoryError("simulated")
            if self.attempt < payload.get("fail_attempts", 0):
                raise RuntimeError(f"flaky, attempt {self.attempt}")
            rows.append(Record(topic=message.topic, partition=message.partition, offset=message.offset,
                               key=message.key, attempt=self.attempt))
            if payload.get("pause_ms") and not getattr(self, "paused_once", False):
                self.paused_once = True
                self.pause(timeout_ms=payload["pause_ms"])
            if "seek" in payload and not getattr(self, "sought_once", False):
                self.sought_once = True
                target = payload["seek"]
                self.seek(datetime.fromisoformat(target) if isinstance(target, str) and "T" in target else target)
        Record.objects.bulk_create(rows)

    def _sleep_unless_revoked(self, seconds: float) -> bool:
        """Long work that checks ``is_revoked`` as it goes; False when it stopped early."""
        started = time.time()
        while time.time() < started + seconds:
            if self.is_revoked:
                Span.objects.create(kind="stopped", topic=self.topic, partition=self.partition, started=started,
                                    ended=time.time())
                return False
            time.sleep(0.05)
        return True

    def revoked(self):
        HookCall.objects.create(name="revoked", topic=self.topic, partition=self.partition)

    def shutdown(self):
        HookCall.objects.create(name="shutdown", topic=self.topic, partition=self.partition)


class TickingConsumer(BaseConsumer):
    """Records when consume() and tick() run (and sleeps a little in each, so overlaps would show)."""

    def consume(self, messages):
        self._span("consume", 0.2)

    def tick(self):
        self._span("tick", 0.05)

    def _span(self, kind, seconds):
        started = time.time()
        time.sleep(seconds)
        Span.objects.create(kind=kind, topic=self.topic, partition=self.partition, started=started, ended=time.time())


def by_key(message):
    """A virtual partitioner: the message key is a small integer."""
    return int(message.key)


class RaisingTickConsumer(RecordingConsumer):
    """A periodic consumer whose tick() always raises."""

    def tick(self):
        raise RuntimeError("tick failed")


class FlakyStartConsumer(RecordingConsumer):
    """initialized() raises the first time in each process (a cache briefly unavailable)."""

    started_once = False

    def initialized(self):
        if not FlakyStartConsumer.started_once:
            FlakyStartConsumer.started_once = True
            raise ConnectionError("cache unavailable")


class SpanningConsumer(RecordingConsumer):
    """RecordingConsumer that also records when each batch ran, to show batches never overlap."""

    def consume(self, messages):
        started = time.time()
        super().consume(messages)
        Span.objects.create(kind="consume", topic=self.topic, partition=self.partition, started=started, ended=time.time())


class SlowTickConsumer(RecordingConsumer):
    """A periodic consumer whose tick() takes a while (a flush to a slow service)."""

    def tick(self):
        time.sleep(1.5)


class FixedRecordingConsumer(RecordingConsumer):
    """The same consumer after its bug is fixed: a ``poison`` payload is processed like any other."""

    def consume(self, messages):
        Record.objects.bulk_create(Record(topic=m.topic, partition=m.partition, offset=m.offset, key=m.key) for m in messages)


class HeaderEchoConsumer(BaseConsumer):
    """Produces what it read to ``<topic>.echo``: the key, ``raw_headers`` (values base64) and ``headers``."""

    def consume(self, messages):
        for m in messages:
            raw = [[name, None if value is None else base64.b64encode(value).decode()] for name, value in m.raw_headers]
            self.produce_sync(f"{m.topic}.echo", {"raw_headers": raw, "headers": m.headers}, key=m.raw_key)


class OffsetsCollector(BaseConsumer):
    """Keeps every batch's offsets in memory, per partition: a consumer as fast as one can be
    (for an embedded server, whose test reads ``batches`` in the same process)."""

    batches: dict[tuple[str, int], list[list[int]]] = {}

    def consume(self, messages):
        OffsetsCollector.batches.setdefault((self.topic, self.partition), []).append(messages.offsets())


class ServiceUnavailable(Exception):
    """A service the consumer calls is down (declared transient in the tests' routes)."""


class ServiceCallingConsumer(BaseConsumer):
    """Writes a Record per message, but first "calls a service": raises ``ServiceUnavailable`` while
    the file named by the payload's ``down_while`` exists."""

    def consume(self, messages):
        import os

        for message in messages:
            flag = (message.payload or {}).get("down_while")
            if flag and os.path.exists(flag):
                raise ServiceUnavailable(f"the service is down ({flag})")
        Record.objects.bulk_create([Record(topic=m.topic, partition=m.partition, offset=m.offset, key=m.key,
                                           attempt=self.attempt) for m in messages])


class DerivingConsumer(BaseConsumer):
    """Consume-transform-produce: one message per input to ``<topic>.out``, naming its source.

    Waits for every delivery before the batch ends (at-least-once without a transaction).
    Payload keys: ``sleep`` (seconds per message), ``poison`` (raises once what the batch
    produced so far is in the output's log: the batch's transaction aborts)."""

    def consume(self, messages):
        deliveries = []
        for message in messages:
            payload = message.payload if isinstance(message.payload, dict) else {}
            deliveries.append(self.produce_async(f"{message.topic}.out", {"partition": message.partition,
                                                                          "offset": message.offset},
                                                 key=str(message.offset)))
            if payload.get("sleep"):
                time.sleep(payload["sleep"])
            if payload.get("poison"):
                for delivery in deliveries:
                    delivery.wait()
                raise ValueError(f"poison at {message.offset}")
        for delivery in deliveries:
            delivery.wait()


class BlockDerivingConsumer(BaseConsumer):
    """A plain route whose consumer opens ``with self.transaction()`` per message: the derived
    message and the mark commit together. ``poison`` raises inside the block (it aborts)."""

    def consume(self, messages):
        for message in messages:
            with self.transaction():
                self.produce_sync(f"{message.topic}.out", {"partition": message.partition, "offset": message.offset})
                if isinstance(message.payload, dict) and message.payload.get("poison") and self.attempt == 0:
                    raise ValueError(f"poison at {message.offset}")
                self.mark_as_consumed(message)


class InjectsAFrameworkBug(RecordingConsumer):
    """Records like RecordingConsumer; after a batch with a ``bug`` payload the framework itself
    raises once (a defect of ours, injected where the executor finishes the batch)."""

    def consume(self, messages):
        super().consume(messages)
        if any(isinstance(m.payload, dict) and m.payload.get("bug") for m in messages):
            from karafka_django.processing.executor import Executor

            original = Executor._completed

            def broken(executor, *args, **kwargs):
                Executor._completed = original
                raise RuntimeError("injected bug")
            Executor._completed = broken
