"""The workload users run (``./bench/run workload``): decode each JSON payload and write one row
per message, a transaction per batch, on Apache Kafka and PostgreSQL.

karafka_server with its defaults (no MAX_MESSAGES, no CONCURRENCY given) against a raw
confluent-kafka loop doing the same work in one thread (``consume(1000)``, ``json.loads``, the
same rows, a transaction per batch), alternated rounds, medians; through the Django ORM
(``bulk_create``, as the README's consumer writes) and through a psycopg connection of each
thread's own, under ``CONN_MAX_AGE`` 0 (Django's default), 60 and None, with the connections the
database accepted during each run (``pg_stat_database.sessions``). Then a consumer that waits
20 ms per batch (an HTTP call), at 1, 2, 5 and 10 workers: what ``CONCURRENCY`` buys I/O.
"""

from __future__ import annotations

import json
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING, Any

from confluent_kafka import Consumer

if TYPE_CHECKING:
    from bench.bench import Bench

TOTAL, PARTITIONS, ROUNDS = 300_000, 6, 3
PAYLOAD = json.dumps({"id": 123456, "customer": "c-0042", "total": 2497, "currency": "EUR"}).encode()
AGES: tuple[int | None, ...] = (0, 60, None)
INSERT = 'INSERT INTO benchapp_row (partition, "offset") VALUES (%s, %s)'


@contextmanager
def conn_max_age(age: int | None) -> Iterator[None]:
    """The bench's database alias with another CONN_MAX_AGE for the connections opened inside."""
    from django.db import connections

    settings_dict = connections["default"].settings_dict
    before = settings_dict["CONN_MAX_AGE"]
    connections.close_all()
    settings_dict["CONN_MAX_AGE"] = age
    try:
        yield
    finally:
        connections.close_all()
        settings_dict["CONN_MAX_AGE"] = before


def sessions() -> int:
    """Connections the bench database has accepted so far (PostgreSQL 14+), read from another."""
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    with psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname="postgres", autocommit=True) as conn:
        conn.execute("select pg_stat_force_next_flush()")
        return conn.execute("select sessions from pg_stat_database where datname = %s", (db["NAME"],)).fetchone()[0]


def raw_loop(bench: Bench, topic: str, write: Callable[[list], None]) -> float:
    """Messages/s of one thread: consume(1000), decode, ``write`` the batch's rows in a transaction."""
    consumer = Consumer({"bootstrap.servers": bench.broker.bootstrap_servers, "group.id": f"raw-{uuid.uuid4().hex}",
                         "auto.offset.reset": "earliest", "session.timeout.ms": 6000, "fetch.queue.backoff.ms": 10})
    consumer.subscribe([topic])
    seen, first, last = 0, 0.0, 0.0
    try:
        while seen < TOTAL:
            batch = consumer.consume(1000, 0.5)
            if not batch:
                continue
            write([(m.partition(), m.offset(), json.loads(m.value())) for m in batch])
            now = time.perf_counter()
            first, last, seen = first or now, now, seen + len(batch)
    finally:
        consumer.close()
    return seen / (last - first)


def orm_rows(rows: list) -> None:
    from django.db import transaction

    from bench.benchapp.models import Row

    with transaction.atomic():
        Row.objects.bulk_create([Row(partition=p, offset=o) for p, o, _payload in rows])


def psycopg_rows(rows: list) -> None:
    from bench.benchapp.consumers import own_connection

    with own_connection().transaction(), own_connection().cursor() as cursor:
        cursor.executemany(INSERT, [(p, o) for p, o, _payload in rows])


def measured(run: Callable[[], float]) -> tuple[float, int]:
    before = sessions()
    rate = run()
    return rate, sessions() - before


def workload(bench: Bench) -> dict[str, Any]:
    from django.db import connections

    topic = bench.topic("workload", PARTITIONS, TOTAL, payload=PAYLOAD)
    figures: dict[str, Any] = {"messages": TOTAL, "partitions": PARTITIONS, "rounds": ROUNDS}
    for age in AGES:
        for label, consumer, write in (("orm", "OrmRows", orm_rows), ("psycopg", "PsycopgRows", psycopg_rows)):
            rates: dict[str, list[float]] = {"raw": [], "karafka": []}
            accepted: dict[str, list[int]] = {"raw": [], "karafka": []}
            with conn_max_age(age):
                for _ in range(ROUNDS):
                    rate, opened = measured(partial(raw_loop, bench, topic, write))
                    connections.close_all()
                    rates["raw"].append(rate)
                    accepted["raw"].append(opened)
                    rate, opened = measured(partial(bench.framework_rate, consumer, topic, TOTAL, None, None))
                    rates["karafka"].append(rate)
                    accepted["karafka"].append(opened)
            raw, karafka = statistics.median(rates["raw"]), statistics.median(rates["karafka"])
            key = f"{label}_conn_max_age_{age}"
            figures[key] = {"raw_msgs_per_s": round(raw), "karafka_msgs_per_s": round(karafka),
                            "x_raw": round(karafka / raw, 2),
                            "x_raw_per_round": [round(k / r, 2) for k, r in zip(rates["karafka"], rates["raw"])],
                            "connections_raw": max(accepted["raw"]), "connections_karafka": max(accepted["karafka"])}
    goal = figures["orm_conn_max_age_0"]["x_raw"]
    return figures | {"io_bound": io_bound(bench), "goal": "orm with CONN_MAX_AGE 0 >= 0.9 x raw", "goal_met": goal >= 0.9}


def io_bound(bench: Bench) -> dict[str, Any]:
    """A consumer waiting 20 ms per batch of 100: throughput at 1, 2, 5 and 10 workers."""
    total = 30_000
    topic = bench.topic("io-bound", PARTITIONS, total, payload=PAYLOAD)
    rates = {c: bench.framework_rate("Waiter", topic, total, c, 100) for c in (1, 2, 5, 10)}
    return {f"workers_{c}_msgs_per_s": round(r) for c, r in rates.items()} | {
        f"speedup_{c}": round(r / rates[1], 2) for c, r in rates.items()}
