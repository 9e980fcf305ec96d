"""Consumers the integration tests route to (through KARAFKA_TEST_OVERRIDES)."""

import time

from karafka_django import BaseConsumer

from .models import HookCall, Record


class RecordingConsumer(BaseConsumer):
    """Writes one Record per message with the ORM.

    Every payload is read (so a bad one raises here, not earlier). Payload keys steer it:
    ``sleep`` (seconds, to model slow work), ``poison`` (raises ValueError), ``critical``
    (raises MemoryError), ``fail_attempts`` (raises while ``self.attempt`` is below it).
    """

    def consume(self, messages):
        rows = []
        for message in messages:
            payload = message.payload
            if not isinstance(payload, dict):
                payload = {}
            if payload.get("sleep"):
                time.sleep(payload["sleep"])
            if payload.get("poison"):
                raise ValueError(f"poison at {message.offset}")
            if payload.get("critical"):
                raise MemoryError("simulated")
            if self.attempt < payload.get("fail_attempts", 0):
                raise RuntimeError(f"flaky, attempt {self.attempt}")
            rows.append(Record(topic=message.topic, partition=message.partition, offset=message.offset,
                               key=message.key, attempt=self.attempt))
        Record.objects.bulk_create(rows)

    def revoked(self):
        HookCall.objects.create(name="revoked", topic=self.topic, partition=self.partition)

    def shutdown(self):
        HookCall.objects.create(name="shutdown", topic=self.topic, partition=self.partition)
