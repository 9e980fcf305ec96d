"""A dependency that is down is a state, not a failing message: nothing good is dead-lettered.

The database outage runs on a PostgreSQL of the test's own, stopped with ``-m fast`` (every
connection cut) while a server works through a backlog with a dead letter queue.
"""

from __future__ import annotations

import json
import time

import pytest

from karafka_django.brokers import free_port
from tests.integration.harness import ConnectionSampler, PrivatePostgres, health, unique, wait_until
from tests.testapp.models import Record

pytestmark = pytest.mark.integration

RECORDING = "tests.testapp.consumers.RecordingConsumer"
SERVICE = "tests.testapp.consumers.ServiceCallingConsumer"
SERVICE_DOWN = "tests.testapp.consumers.ServiceUnavailable"
CONCURRENCY = 2
#: The tests' backoff (PAUSE_TIMEOUT_MS 200, max 1000) runs out of max_retries 2 within 1.4 s.
OUTAGE_S = 8


@pytest.fixture
def private_postgres(server_env):
    postgres = PrivatePostgres(free_port()).start()
    postgres.create(server_env)
    yield postgres
    postgres.remove()


def unavailable(port: int) -> list[str]:
    return [d["dependency"] for d in health(port).get("dependencies_unavailable", [])]


def outage_lines(log: str) -> list[str]:
    """What the server logged, less its periodic status line (every second in the tests)."""
    return [line for line in log.splitlines() if "app.status" not in line]


def dead_letters(kafka, topic: str) -> list:
    return kafka.read_all(topic) if topic in kafka.admin.list_topics(timeout=10).topics else []


@pytest.mark.matrix  # a long fault scenario: one Python/Django pair runs it
@pytest.mark.parametrize("offset_storage", ["kafka", "database"])
def test_a_database_outage_dead_letters_nothing_and_is_a_state(kafka, make_server, private_postgres, offset_storage):
    topic, dlq, tasks = kafka.create_topic(unique("outage"), 4), unique("outage.dlq"), kafka.create_topic(unique("tasks"), 1)
    ends = kafka.produce_json(topic, 4, 3000)
    route = {"topic": topic, "consumer": RECORDING, "offset_storage": offset_storage,
             "dead_letter_queue": {"topic": dlq, "max_retries": 2}}
    metrics = free_port()
    server = make_server([route], ["--metrics-port", str(metrics)], CONCURRENCY=CONCURRENCY, MAX_MESSAGES=20,
                         OUTBOX_RELAY_INTERVAL_MS=500, OUTBOX_RELAY_AFTER_MS=3000,
                         TASKS={"default": {"BACKEND": "karafka_django.tasks.KafkaBackend", "OPTIONS": {"topic": tasks}}})
    server.env["DATABASE_URL"] = private_postgres.url
    server.start()
    rows = lambda: private_postgres.query("select count(*) from testapp_record where topic = %s", topic)[0]  # noqa: E731
    wait_until(lambda: rows() >= 300, 60, "processing under way")
    sampler = ConnectionSampler(private_postgres.dsn.replace("dbname=outage", "dbname=postgres"), "outage", server.pid,
                                private_postgres.port)
    sampler.start()

    # Outbox rows a dead sender left behind, due for the relay during the outage.
    outbox = kafka.create_topic(unique("outbox"), 1)
    for n in range(5):
        private_postgres.query("insert into karafka_django_outboxmessage (id, topic, key, value, headers, created_at) "
                               "values (gen_random_uuid(), %s, %s, %s, '[]', now()) returning id", outbox,
                               str(n).encode(), json.dumps({"n": n}).encode())
    # Tasks enqueued before the outage, whose messages arrive during it.
    task_ids = [f"task-{n}" for n in range(3)]
    for n, task_id in enumerate(task_ids):
        private_postgres.query("insert into karafka_django_taskrecord (id, task_path, backend, queue_name, priority, args, "
                               "kwargs, status, enqueued_at, errors, worker_ids) values (%s, 'tests.testapp.tasks.add', "
                               "'default', 'default', 0, %s, '{}', 'READY', now(), '[]', '[]') returning id",
                               task_id, json.dumps([n, 1]))
    private_postgres.stop()
    kafka.produce(tasks, [(0, task_id.encode(), json.dumps({"id": task_id, "backend": "default"}).encode())
                          for task_id in task_ids])
    stopped_at, log_at_stop = time.monotonic(), len(outage_lines(server.log()))
    state = wait_until(lambda: unavailable(metrics) == ["database"] and health(metrics), 20, "the outage in /healthz")
    assert state["healthy"] is True, "liveness stays green: a restart would not bring the database back"
    # A deploy during the outage: a second member joins the group, the first gives partitions back
    # and its revoked hooks cannot reach the database.
    joiner = make_server([route], CONCURRENCY=CONCURRENCY, MAX_MESSAGES=20)
    joiner.env["DATABASE_URL"] = private_postgres.url
    joiner.start()
    server.wait_for_log("connection.listener.partitions_revoked", timeout=40)
    wait_until(lambda: time.monotonic() - stopped_at >= OUTAGE_S, OUTAGE_S + 5, "the outage to last", interval=0.5)
    during = outage_lines(server.log())[log_at_stop:]
    private_postgres.start()

    wait_until(lambda: rows() >= 3000, 120, "every message once the database is back")
    wait_until(lambda: private_postgres.query("select count(*) from karafka_django_taskrecord where status = 'SUCCESSFUL'")[0] == 3,
               30, "the tasks run")
    wait_until(lambda: kafka.committed(make_server.group, topic, 4) == ends or offset_storage == "database", 30,
               "committed to the ends")
    wait_until(lambda: unavailable(metrics) == [], 20, "the database available again in /healthz")
    wait_until(lambda: private_postgres.query("select count(*) from karafka_django_outboxmessage")[0] == 0, 30,
               "the outbox relayed")
    assert server.stop() == 0 and joiner.stop() == 0
    peak = sampler.stop()

    ran = [private_postgres.query("select status, return_value, jsonb_array_length(worker_ids) from "
                                  "karafka_django_taskrecord where id = %s", task_id) for task_id in task_ids]
    assert ran == [("SUCCESSFUL", n + 1, 1) for n in range(3)], "each task run once, after the outage"
    relayed = [json.loads(m.value())["n"] for m in kafka.read_all(outbox)]
    assert sorted(relayed) == [0, 1, 2, 3, 4], "the outbox relayed once the database was back, each message once"
    total, distinct = private_postgres.query(
        "select count(*), count(distinct (partition, \"offset\")) from testapp_record where topic = %s", topic)
    assert distinct == 3000, "every message's row exists"
    if offset_storage == "database":
        assert total == 3000, "exactly once with the offsets in the database"
    assert dead_letters(kafka, dlq) == [], "nothing dead-lettered for an outage"
    # State changes only: the outage's and the rebalance's (the hooks that failed with the database
    # down count as retries of the outage, not as errors).
    changes = ("dependency.state_changed", "connection.listener.partitions_")
    assert [line for line in during if not any(change in line for change in changes)] == [], "\n".join(during)
    log = server.log()
    assert log.count("dependency.state_changed dependency=database state=unavailable") == 1, log[-3000:]
    assert log.count("dependency.state_changed dependency=database state=available") == 1, log[-3000:]
    assert "Traceback" not in log and "OperationalError" not in log.replace("error=\"OperationalError", "")
    assert peak <= CONCURRENCY + 2, f"{peak} connections: more than the bound (no storm on return)"


def test_a_declared_transient_error_waits_for_its_service_without_dead_lettering(kafka, make_server, tmp_path):
    flag = tmp_path / "service-down"
    flag.touch()
    topic, dlq = kafka.create_topic(unique("service"), 2), unique("service.dlq")
    kafka.produce(topic, [(n % 2, str(n).encode(), json.dumps({"down_while": str(flag)}).encode()) for n in range(40)])
    route = {"topic": topic, "consumer": SERVICE, "transient_errors": [SERVICE_DOWN],
             "dead_letter_queue": {"topic": dlq, "max_retries": 1}}
    metrics = free_port()
    server = make_server([route], ["--metrics-port", str(metrics)]).start()
    wait_until(lambda: unavailable(metrics) == ["ServiceUnavailable"], 30, "the service's outage in /healthz")
    server.wait_for_log("state=unavailable")
    wait_until(lambda: health(metrics)["dependencies_unavailable"][0]["retries"] >= 6, 30,
               "more retries than max_retries allows")
    flag.unlink()
    wait_until(lambda: Record.objects.filter(topic=topic).count() >= 40, 30, "every message once the service is back")
    assert server.stop() == 0
    assert Record.objects.filter(topic=topic).count() == 40
    assert dead_letters(kafka, dlq) == []
    log = server.log()
    assert log.count("state=unavailable") == 1 and log.count("state=available") == 1, log[-3000:]
    assert "type=consumer.consume.error" not in log


def test_a_transient_error_past_its_bound_is_an_ordinary_failure(kafka, make_server, tmp_path):
    flag = tmp_path / "never-back"
    flag.touch()
    topic, dlq = kafka.create_topic(unique("timeout"), 1), unique("timeout.dlq")
    payloads = [{"down_while": str(flag)}] + [{}] * 4
    kafka.produce(topic, [(0, str(n).encode(), json.dumps(p).encode()) for n, p in enumerate(payloads)])
    route = {"topic": topic, "consumer": SERVICE, "dead_letter_queue": {"topic": dlq, "max_retries": 1}}
    server = make_server([route], TRANSIENT_ERRORS=[SERVICE_DOWN], TRANSIENT_ERROR_TIMEOUT_MS=2000).start()
    wait_until(lambda: Record.objects.filter(topic=topic).count() >= 4, 40, "the messages after the dead-lettered one")
    assert server.stop() == 0
    assert sorted(Record.objects.filter(topic=topic).values_list("offset", flat=True)) == [1, 2, 3, 4]
    [dead] = dead_letters(kafka, dlq)
    assert dict(dead.headers())["original_offset"] == b"0"
    assert "state=unavailable" in server.log()

