"""Consumers measured by bench/bench.py. Counters are per process (the in-process runs read them)."""

import hashlib
import os
import threading
import time

from django.conf import settings
from django.db import transaction

from karafka_django import BaseConsumer

from .models import Arrival, Row


class Tally:
    """Messages seen and when the first/last batch ended (one lock per batch, not per message)."""

    lock = threading.Lock()
    count = 0
    first = 0.0
    last = 0.0

    @classmethod
    def add(cls, n: int) -> None:
        now = time.perf_counter()
        with cls.lock:
            cls.first = cls.first or now
            cls.count += n
            cls.last = now

    @classmethod
    def reset(cls) -> None:
        cls.count, cls.first, cls.last = 0, 0.0, 0.0


class RawReader(BaseConsumer):
    """Reads the offset and the payload of every message (with the batch accessors)."""

    def consume(self, messages):
        messages.offsets()
        messages.raw_payloads()
        Tally.add(len(messages))


class JsonReader(BaseConsumer):
    """Deserializes every payload (the route's deserializer, with the batch accessor)."""

    def consume(self, messages):
        messages.payloads()
        Tally.add(len(messages))


class OrmWriter(BaseConsumer):
    """bulk_create per batch plus 20 ms of modelled I/O (a call to another service)."""

    def consume(self, messages):
        time.sleep(0.02)
        Row.objects.bulk_create([Row(partition=m.partition, offset=m.offset) for m in messages])
        Tally.add(len(messages))


class RowWriter(BaseConsumer):
    """One bulk insert per batch and nothing else, so the cost of storing offsets shows."""

    def consume(self, messages):
        Row.objects.bulk_create([Row(partition=m.partition, offset=m.offset) for m in messages])
        Tally.add(len(messages))


class OrmRows(BaseConsumer):
    """The README's consumer: each payload decoded, one row per message with the ORM, one transaction."""

    def consume(self, messages):
        with transaction.atomic():
            Row.objects.bulk_create([Row(partition=m.partition, offset=m.offset) for m in messages if m.payload])
        Tally.add(len(messages))


_connections = threading.local()


def own_connection():
    """This thread's own psycopg connection to the bench database (no Django lifecycle around it)."""
    if getattr(_connections, "conn", None) is None:
        import psycopg

        db = settings.DATABASES["default"]
        _connections.conn = psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"],
                                            autocommit=True)
    return _connections.conn


class PsycopgRows(BaseConsumer):
    """The same rows through a psycopg connection of the worker's own, one transaction per batch."""

    def consume(self, messages):
        rows = [(m.partition, m.offset) for m in messages if m.payload]
        with own_connection().transaction(), own_connection().cursor() as cursor:
            cursor.executemany('INSERT INTO benchapp_row (partition, "offset") VALUES (%s, %s)', rows)
        Tally.add(len(messages))


class Waiter(BaseConsumer):
    """Waits 20 ms per batch, as a call to another service would."""

    def consume(self, messages):
        time.sleep(0.02)
        Tally.add(len(messages))


class LatencyRecorder(BaseConsumer):
    """Milliseconds from each message's producer timestamp to its consume()."""

    latencies: list[float] = []

    def consume(self, messages):
        now = time.time()
        LatencyRecorder.latencies.extend((now - message.timestamp.timestamp()) * 1000 for message in messages)


class CpuBurner(BaseConsumer):
    def consume(self, messages):
        for message in messages:
            digest = message.raw_payload
            for _ in range(300):
                digest = hashlib.sha256(digest).digest()


class Sleeper(BaseConsumer):
    def consume(self, messages):
        time.sleep(3)


class SlowBigReader(BaseConsumer):
    """Reads every byte of large payloads at 50 messages/s per worker, so fetching outruns it."""

    def consume(self, messages):
        for message in messages:
            len(message.raw_payload)
            time.sleep(0.02)


class Arrivals(BaseConsumer):
    """Writes when each message was processed, tagged with the deploy run (the consumer group)."""

    def consume(self, messages):
        now, run = time.time(), settings.KARAFKA["CLIENT_ID"]
        Arrival.objects.bulk_create(Arrival(run=run, partition=m.partition, offset=m.offset, at=now) for m in messages)


class ChaosRecorder(BaseConsumer):
    """Writes each message it processes with which process did (the fault campaign's checkers read them)."""

    def consume(self, messages):
        now, run = time.time(), f"{os.environ['CHAOS_RUN']}:{os.getpid()}"
        Arrival.objects.bulk_create(Arrival(run=run, partition=m.partition, offset=m.offset, at=now) for m in messages)


class Deriver(BaseConsumer):
    """Consume-transform-produce: one message per input to ``<topic>.out``, every delivery
    waited for before the batch ends (at-least-once without a transaction)."""

    def consume(self, messages):
        target = f"{self.topic}.out"
        deliveries = [self.produce_async(target, value, key=key)
                      for key, value in zip(messages.raw_keys(), messages.raw_payloads())]
        for delivery in deliveries:
            delivery.wait()
        Tally.add(len(deliveries))


class Counter(BaseConsumer):
    """Reads nothing: what fetching, handing over and running a batch cost alone (the ceiling of
    any consumer against a raw loop that reads every message)."""

    def consume(self, messages):
        Tally.add(len(messages))


class IteratingReader(BaseConsumer):
    """The loop users write: every message's offset and raw payload, one ``Message`` at a time."""

    def consume(self, messages):
        for message in messages:
            message.offset  # noqa: B018  (read, as the raw loop reads them)
            message.raw_payload  # noqa: B018
        Tally.add(len(messages))


class IteratingJsonReader(BaseConsumer):
    """The loop users write with the default JSON deserializer: ``message.payload`` each."""

    def consume(self, messages):
        for message in messages:
            message.payload  # noqa: B018
        Tally.add(len(messages))
