"""Consumers the integration tests route to (through KARAFKA_TEST_OVERRIDES)."""

import time

from karafka_django import BaseConsumer

from .models import HookCall, Record


class RecordingConsumer(BaseConsumer):
    """Writes one Record per message with the ORM.

    Every payload is read (so a bad one raises here, not earlier); a payload
    ``{"sleep": seconds}`` sleeps that long before the batch is written, to model slow work.
    """

    def consume(self, messages):
        rows = []
        for message in messages:
            payload = message.payload
            if isinstance(payload, dict) and payload.get("sleep"):
                time.sleep(payload["sleep"])
            rows.append(Record(topic=message.topic, partition=message.partition, offset=message.offset,
                               key=message.key, attempt=self.attempt))
        Record.objects.bulk_create(rows)

    def revoked(self):
        HookCall.objects.create(name="revoked", topic=self.topic, partition=self.partition)

    def shutdown(self):
        HookCall.objects.create(name="shutdown", topic=self.topic, partition=self.partition)
