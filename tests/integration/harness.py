"""Helpers for integration tests: a real server process, topics, produce, offsets, DB connections."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import psutil
import psycopg
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

ROOT = Path(__file__).resolve().parents[2]
#: Errors while a consumer group's coordinator moves to another node.
COORDINATOR_MOVING = {KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_NOT_AVAILABLE, KafkaError.COORDINATOR_LOAD_IN_PROGRESS}


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def health(port: int) -> dict:
    """A server's ``/healthz`` body (any status), or {} while nothing answers there."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        return json.loads(error.read())
    except OSError:
        return {}


class Kafka:
    """Admin, producing and offset look-ups against the test broker."""

    def __init__(self, bootstrap_servers: str):
        self.bootstrap_servers = bootstrap_servers
        self.admin = AdminClient({"bootstrap.servers": bootstrap_servers})

    def create_topic(self, name: str, partitions: int, exist_ok: bool = False, replicas: int = 1) -> str:
        for future in self.admin.create_topics([NewTopic(name, partitions, replicas)]).values():
            try:
                future.result(15)
            except KafkaException as exc:
                if not (exist_ok and exc.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS):
                    raise
        def led() -> bool:  # every partition has a leader: its offsets can be asked
            topic = self.admin.list_topics(name, timeout=5).topics.get(name)
            return (topic is not None and topic.error is None and len(topic.partitions) >= partitions
                    and all(p.leader >= 0 for p in topic.partitions.values()))  # a replica may still be down
        wait_until(led, 10, f"topic {name} with a leader for each partition")
        return name

    def produce(self, topic: str, messages: Iterable[tuple]) -> dict[int, int]:
        """Produce ``(partition, key, value[, timestamp in ms[, headers]])``; returns partition -> end offset (last + 1)."""
        producer = Producer({"bootstrap.servers": self.bootstrap_servers, "linger.ms": 5})
        ends: dict[int, int] = {}
        errors: list = []

        def report(err, msg):
            if err is not None:
                errors.append(err)
            else:
                ends[msg.partition()] = max(ends.get(msg.partition(), 0), msg.offset() + 1)

        for partition, key, value, *extra in messages:
            while True:
                try:
                    producer.produce(topic, value=value, key=key, partition=partition, on_delivery=report,
                                     timestamp=extra[0] if extra else 0, headers=extra[1] if len(extra) > 1 else None)
                    break
                except BufferError:
                    producer.poll(0.1)
        assert producer.flush(30) == 0 and not errors, errors
        return ends

    def produce_json(self, topic: str, partitions: int, count: int, payload: Any = None) -> dict[int, int]:
        body = json.dumps(payload if payload is not None else {}).encode()
        return self.produce(topic, ((i % partitions, str(i).encode(), body) for i in range(count)))

    def backlog(self, name: str, partitions: int, count: int, payload: Any = None) -> tuple[str, dict[int, int]]:
        """A new topic (``name`` made unique) holding ``count`` JSON messages round-robin over its
        partitions, for a server to start against; returns the topic and its end offsets."""
        topic = self.create_topic(unique(name), partitions)
        return topic, self.produce_json(topic, partitions, count, payload)

    def ends(self, topic: str, partitions: int) -> dict[int, int]:
        """Each partition's end offset (high watermark)."""
        consumer = Consumer({"bootstrap.servers": self.bootstrap_servers, "group.id": unique("ends")})

        def end(partition: int) -> int:
            deadline = time.monotonic() + 10
            while True:
                try:
                    return consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)[1]
                except KafkaException as exc:  # a leader just elected may not answer yet
                    if exc.args[0].code() != KafkaError.NOT_LEADER_FOR_PARTITION or time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
        try:
            return {p: end(p) for p in range(partitions)}
        finally:
            consumer.close()

    def committed(self, group: str, topic: str, partitions: int, timeout: float = 30) -> dict[int, int]:
        """The group's committed offsets, asked again while its coordinator moves (a node was killed)."""
        deadline = time.monotonic() + timeout
        while True:
            consumer = Consumer({"bootstrap.servers": self.bootstrap_servers, "group.id": group})
            try:
                found = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
                return {tp.partition: tp.offset for tp in found}
            except KafkaException as exc:
                if exc.args[0].code() not in COORDINATOR_MOVING or time.monotonic() > deadline:
                    raise
            finally:
                consumer.close()
            time.sleep(0.2)

    def read_all(self, topic: str, timeout: float = 30, isolation: str = "read_committed") -> list:
        """Every message of ``topic``, read to the end of each partition (true EOF, not ListOffsets;
        under read_committed the last stable offset: what committed transactions wrote)."""
        partitions = len(self.admin.list_topics(topic, timeout=10).topics[topic].partitions)
        consumer = Consumer({"bootstrap.servers": self.bootstrap_servers, "group.id": unique("reader"),
                             "enable.partition.eof": True, "enable.auto.commit": False, "isolation.level": isolation})
        consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        messages, at_eof, deadline = [], set(), time.monotonic() + timeout
        try:
            while len(at_eof) < partitions and time.monotonic() < deadline:
                for message in consumer.consume(1000, 0.5):
                    if message.error():
                        at_eof.add(message.partition())
                    else:
                        at_eof.discard(message.partition())
                        messages.append(message)
            return messages
        finally:
            consumer.close()


class ServerProcess:
    """``manage.py karafka_server`` (or a ``command`` that runs the server another way: a host
    that embeds it) in a subprocess, with its log captured in a file."""

    def __init__(self, log_path: Path, env: dict[str, str], overrides: dict[str, Any], args: list[str] = (),
                 command: list[str] | None = None):
        self.log_path = log_path
        self.env = {**env, "KARAFKA_TEST_OVERRIDES": json.dumps(overrides)}
        self.command = command or [sys.executable, str(ROOT / "manage.py"), "karafka_server", *args]
        self.process: subprocess.Popen | None = None
        self._log_offset = 0

    def start(self) -> ServerProcess:
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        """The log of the current run."""
        with open(self.log_path, "rb") as f:
            f.seek(self._log_offset)
            return f.read().decode("utf-8", "replace")

    def wait_for_log(self, text: str, timeout: float = 30, count: int = 1) -> None:
        try:
            wait_until(lambda: self.log().count(text) >= count or self.process.poll() is not None, timeout, text)
        except AssertionError:
            raise AssertionError(f"no '{text}' in {timeout}s; the server's log:\n{self.log()}") from None
        assert self.log().count(text) >= count, f"server exited ({self.process.returncode}) before '{text}':\n{self.log()}"

    def wait_assigned(self, subscription_groups: int = 1, timeout: float = 30) -> None:
        self.wait_for_log("partitions_assigned", timeout, subscription_groups)

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def stop(self, timeout: float = 40) -> int:
        """SIGTERM and wait; returns the exit code."""
        if self.process.poll() is None:
            self.signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


class PrivatePostgres:
    """A PostgreSQL cluster of a test's own (scripts/postgres.sh on a free port), migrated for the
    test settings: a test can stop it (fast: every connection is cut) and start it again without
    touching the test session's database."""

    def __init__(self, port: int):
        import tempfile

        self.port = port
        root = Path(tempfile.mkdtemp(prefix="karafka-pg-"))
        root.chmod(0o755)  # the postgres account reaches its data directory inside
        self.env = {**os.environ, "PGPORT": str(port), "KARAFKA_PGDATA": str(root / "data")}
        self.root = root
        self.url = f"postgres://postgres@127.0.0.1:{port}/outage"
        self.dsn = f"host=127.0.0.1 port={port} user=postgres dbname=outage"

    def start(self) -> PrivatePostgres:
        subprocess.run([str(ROOT / "scripts" / "postgres.sh"), "start"], env=self.env, check=True, capture_output=True)
        return self

    def stop(self) -> None:
        subprocess.run([str(ROOT / "scripts" / "postgres.sh"), "stop"], env=self.env, check=True, capture_output=True)

    def create(self, settings_env: dict[str, str]) -> None:
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as conn:
            conn.execute("create database outage")
        subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "-v0"], cwd=ROOT, check=True,
                       env={**settings_env, "DATABASE_URL": self.url}, capture_output=True)

    def query(self, sql: str, *args: Any) -> Any:
        with psycopg.connect(self.dsn, autocommit=True, connect_timeout=5) as conn:
            return conn.execute(sql, args).fetchone()

    def remove(self) -> None:
        import shutil

        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class ConnectionSampler(threading.Thread):
    """Samples, from pg_stat_activity, how many connections a process holds to the test database.

    A backend belongs to the process when its client port is one of the process's local TCP
    ports (psutil): the database's own view, attributed without trusting the process. ``opened``
    is every backend seen (its pid): how many connections the process opened, as far as sampling
    sees them.
    """

    def __init__(self, dsn: str, database: str, pid: int, pg_port: int, interval: float = 0.02):
        super().__init__(daemon=True)
        self.dsn, self.database, self.pid, self.pg_port, self.interval = dsn, database, pid, pg_port, interval
        self.peak = 0
        self.samples = 0
        self.opened: set[int] = set()
        self._done = threading.Event()

    def run(self) -> None:
        """Samples until stopped; while the database is down it waits and connects again (an outage
        test measures the return too)."""
        process = psutil.Process(self.pid)
        while not self._done.is_set():
            try:
                with psycopg.connect(self.dsn, autocommit=True, connect_timeout=2) as conn:
                    self._sample(process, conn)
                return
            except psycopg.OperationalError:
                self._done.wait(self.interval)
            except psutil.NoSuchProcess:
                return

    def _sample(self, process: psutil.Process, conn: psycopg.Connection) -> None:
        while not self._done.is_set():
            ports = [c.laddr.port for c in process.net_connections(kind="tcp") if c.raddr and c.raddr.port == self.pg_port]
            backends: set[int] = set()
            if ports:
                backends = {pid for (pid,) in conn.execute(
                    "select pid from pg_stat_activity where datname = %s and client_port = any(%s)", (self.database, ports))}
            self.opened |= backends
            self.peak = max(self.peak, len(backends))
            self.samples += 1
            self._done.wait(self.interval)

    def stop(self) -> int:
        self._done.set()
        self.join(5)
        return self.peak
