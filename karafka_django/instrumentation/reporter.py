"""Process reports, error reports and commands: what the admin pages read and send.

Every ``REPORT_INTERVAL_MS`` the reporter thread produces a JSON report of its process to
``REPORTS_TOPIC`` (keyed by ``host:pid``): state, workers, threads, memory, CPU, TCP and
database connections (measured with psutil, beside their estimates) and, per assigned
partition, committed offset, high watermark and lag from librdkafka's statistics. Errors go to
``ERRORS_TOPIC`` as they happen. Between reports the thread reads ``COMMANDS_TOPIC`` (pause or
resume a partition, quiet or stop a process). It never touches the database, and works off the
hot path: workers only hand error events to the producer's queue.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import psutil
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from django.conf import settings

from ..conf import KarafkaConfig
from ..connection import clients
from ..producing.producer import producer
from .monitor import Monitor, describe
from .resources import ResourceEstimate
from .snapshot import ServerSnapshot

#: Applies an operator's command to the server: (command, topic, partition).
ApplyCommand = Callable[[str, "str | None", "int | None"], None]


def process_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _ports(addresses: str) -> set[int]:
    return {int(a.rsplit(":", 1)[1]) for a in addresses.split(",") if ":" in a}


class Reporter(threading.Thread):
    def __init__(self, config: KarafkaConfig, monitor: Monitor, snapshot: Callable[[], ServerSnapshot],
                 apply_command: ApplyCommand):
        super().__init__(name="karafka.reporter", daemon=True)
        self.config = config
        self.monitor = monitor
        self.snapshot = snapshot
        self.apply_command = apply_command
        self.id = process_id()
        self.started_at = _now()
        self.started = time.time()
        self.process = psutil.Process()
        self.process.cpu_percent()  # the first call only starts the measurement
        self.broker_ports = _ports(self.config.bootstrap_servers or "")
        self.db_ports = {int(db.get("PORT") or 5432) for db in settings.DATABASES.values() if db.get("HOST")}
        self._stopped = threading.Event()
        self.commands: Consumer | None = None
        self.shutdown_blocked: list[dict[str, Any]] = []  # what held a forced stop, in the last report

    # -- lifecycle -------------------------------------------------------------------------------

    def run(self) -> None:
        self.commands = clients.consumer(self.config.tool_kafka, **{
            "group.id": f"{self.config.client_id}-commands-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False})
        failing = False  # report a failure once, not every interval, until a turn succeeds
        try:
            while not self._stopped.is_set():
                until = time.monotonic() + self.config.report_interval_ms / 1000
                try:
                    self.report()
                    self._read_commands(until)
                    failing = False
                except Exception as exc:  # a broker outage must not end reporting for good
                    if not failing:
                        self.monitor.error("reporter.error", exc)
                    failing = True
                    self._stopped.wait(max(0.0, until - time.monotonic()))
            try:
                self.report()  # the last word: "stopped"
            except Exception as exc:
                self.monitor.error("reporter.error", exc)
        finally:
            self.commands.close()

    def stop(self) -> None:
        self._stopped.set()

    def _read_commands(self, until: float) -> None:
        """Every process reads every command: partitions are assigned, not shared in a group.

        Reading starts at the beginning (commands are few) and ignores what was sent before this
        process started, so a command sent while the topic was still being created is not lost.
        """
        assert self.commands is not None  # run() made it
        if not self.commands.assignment() and not self._assign_commands(self.commands):
            self._stopped.wait(max(0.0, until - time.monotonic()))
            return
        while not self._stopped.is_set() and time.monotonic() < until:
            for message in self.commands.consume(10, min(0.25, max(0.0, until - time.monotonic()))):
                if message.error() is None:
                    command = self._parse(message.value())
                    if command is not None and command.get("sent_at", 0) >= self.started:
                        self.apply(command)

    def _parse(self, value: bytes | None) -> dict[str, Any] | None:
        """A command, or None (reported) when the message is not one."""
        try:
            command = json.loads(value or b"")
            if isinstance(command, dict) and isinstance(command.get("sent_at", 0), (int, float)):
                return command
            raise ValueError("a command is a JSON object with a numeric sent_at")
        except ValueError as exc:
            self.monitor.error("reporter.malformed_command", error=describe(exc), value=repr(value)[:200])
            return None

    def _assign_commands(self, commands: Consumer) -> bool:
        topic = self.config.commands_topic
        metadata = commands.list_topics(topic, timeout=5).topics.get(topic)
        if metadata is None or metadata.error is not None or not metadata.partitions:
            return False
        commands.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in metadata.partitions])
        return True

    # -- commands --------------------------------------------------------------------------------

    def apply(self, command: dict[str, Any]) -> None:
        if command.get("process") not in (self.id, "*"):
            return
        action = command.get("command")
        self.apply_command(str(action), command.get("topic"), command.get("partition"))
        self.monitor.instrument("app.command", command=action, topic=command.get("topic"),
                                       partition=command.get("partition"))

    # -- reports ---------------------------------------------------------------------------------

    def report(self) -> None:
        producer.produce_async(self.config.reports_topic, self.process_report(self.snapshot()), key=self.id)

    def process_report(self, snapshot: ServerSnapshot) -> dict[str, Any]:
        """The server's snapshot with what only this process can measure (psutil) beside its estimates."""
        brokers = set().union(*(listener.broker_ids for listener in snapshot.listeners))
        estimate = ResourceEstimate(
            subscription_groups=len(snapshot.listeners), concurrency=snapshot.workers.concurrency,
            brokers=max(1, len(brokers)), swarm_nodes=None if snapshot.node is None else 1,
            metrics=snapshot.metrics, reporting=True, transactional_producers=snapshot.transactional_producers,
        )
        connections = [c for c in self.process.net_connections(kind="tcp") if c.raddr and c.status == psutil.CONN_ESTABLISHED]
        workers = snapshot.workers
        return {
            "id": self.id, "hostname": socket.gethostname(), "pid": os.getpid(), "node": snapshot.node,
            "started_at": self.started_at, "reported_at": _now(), "report_interval_ms": self.config.report_interval_ms,
            "state": "stopped" if self._stopped.is_set() else snapshot.state,
            "concurrency": workers.concurrency, "busy": workers.busy, "queued": workers.queued,
            "processed": workers.processed,
            "topics": [{"consumer_group": group, "topic": topic, "processed": count}
                       for (group, topic), count in sorted(workers.processed_by_topic.items())],
            "dependencies_unavailable": list(snapshot.dependencies_unavailable),
            "listeners": [{"subscription_group": li.subscription_group, "consumer_group": li.consumer_group,
                           "topics": li.topics, "polled_s_ago": round(li.polled_s_ago, 1),
                           "max_poll_interval_s": li.max_poll_interval_s, "brokers": li.brokers,
                           "brokers_unreachable": list(li.brokers_unreachable)} for li in snapshot.listeners],
            "threads": {"real": self.process.num_threads(), "estimate": estimate.threads_per_process},
            "rss_mb": round(self.process.memory_info().rss / 2**20, 1),
            "cpu_percent": self.process.cpu_percent(),
            "tcp": {"real": sum(1 for c in connections if c.raddr.port in self.broker_ports),
                    "estimate": estimate.tcp_per_process},
            "db_connections": {"real": sum(1 for c in connections if c.raddr.port in self.db_ports),
                               "bound": estimate.db_connections_per_process},
            "partitions": [asdict(p) for p in snapshot.partitions],
            "producer": producer.state(),
            "shutdown_blocked": self.shutdown_blocked,
        }

    def on_app_shutdown_blocked(self, _event: str, payload: dict[str, Any]) -> None:
        self.shutdown_blocked.append(payload)

    # -- errors ----------------------------------------------------------------------------------

    def on_error_occurred(self, _event: str, payload: dict[str, Any]) -> None:
        exc = payload.get("exception")
        record = {k: v for k, v in payload.items() if k != "exception"}
        record.update(process=self.id, at=_now(),
                      error_class=f"{type(exc).__module__}.{type(exc).__qualname__}" if exc else None,
                      traceback="".join(traceback.format_exception(exc)) if exc else None)
        producer.produce_async(self.config.errors_topic, json.loads(json.dumps(record, default=str)), key=self.id)
