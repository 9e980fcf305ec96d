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
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import psutil
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from django.conf import settings

from ..producer import producer
from ..resources import ResourceEstimate
from .client_logs import client_logger

if TYPE_CHECKING:
    from ..server import Server


def process_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _ports(addresses: str) -> set[int]:
    return {int(a.rsplit(":", 1)[1]) for a in addresses.split(",") if ":" in a}


class Reporter(threading.Thread):
    def __init__(self, server: "Server"):
        super().__init__(name="karafka.reporter", daemon=True)
        self.server = server
        self.config = server.config
        self.id = process_id()
        self.started_at = _now()
        self.started = time.time()
        self.process = psutil.Process()
        self.process.cpu_percent()  # the first call only starts the measurement
        self.broker_ports = _ports(self.config.bootstrap_servers or "")
        self.db_ports = {int(db.get("PORT") or 5432) for db in settings.DATABASES.values() if db.get("HOST")}
        self._stopped = threading.Event()
        self.commands: Consumer | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def run(self) -> None:
        self.commands = Consumer({
            **{k: v for k, v in self.config.kafka.items() if k not in ("statistics.interval.ms",)},
            "group.id": f"{self.config.client_id}-commands-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False,
            "logger": client_logger("consumer"),
        })
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
                        self.server.monitor.instrument("error.occurred", type="reporter.error",
                                                       error=f"{type(exc).__name__}: {exc}", exception=exc)
                    failing = True
                    self._stopped.wait(max(0.0, until - time.monotonic()))
            self.report()  # the last word: "stopped"
        finally:
            self.commands.close()

    def stop(self) -> None:
        self._stopped.set()

    def _read_commands(self, until: float) -> None:
        """Every process reads every command: partitions are assigned, not shared in a group.

        Reading starts at the beginning (commands are few) and ignores what was sent before this
        process started, so a command sent while the topic was still being created is not lost.
        """
        if not self.commands.assignment() and not self._assign_commands():
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
            self.server.monitor.instrument("error.occurred", type="reporter.malformed_command",
                                           error=f"{type(exc).__name__}: {exc}", value=repr(value)[:200])
            return None

    def _assign_commands(self) -> bool:
        topic = self.config.commands_topic
        metadata = self.commands.list_topics(topic, timeout=5).topics.get(topic)
        if metadata is None or metadata.error is not None or not metadata.partitions:
            return False
        self.commands.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in metadata.partitions])
        return True

    # -- commands --------------------------------------------------------------------------------

    def apply(self, command: dict[str, Any]) -> None:
        if command.get("process") not in (self.id, "*"):
            return
        action = command.get("command")
        if action == "quiet":
            self.server.quiet()
        elif action == "stop":
            self.server.stop()
        elif action in ("pause", "resume"):
            for listener in self.server.listeners:
                coordinator = listener.coordinators.get((command.get("topic"), command.get("partition")))
                if coordinator is not None:
                    coordinator.paused_until = float("inf") if action == "pause" else 0.0
        self.server.monitor.instrument("app.command", command=action, topic=command.get("topic"),
                                       partition=command.get("partition"))

    # -- reports ---------------------------------------------------------------------------------

    def report(self) -> None:
        producer.produce_async(self.config.reports_topic, self.snapshot(), key=self.id)

    def snapshot(self) -> dict[str, Any]:
        server = self.server
        estimate = ResourceEstimate(
            subscription_groups=len(server.listeners), concurrency=server.concurrency,
            brokers=self._brokers(), swarm_nodes=None if server.node is None else 1,
            metrics=server.metrics_port is not None, reporting=True,
        )
        connections = [c for c in self.process.net_connections(kind="tcp") if c.raddr and c.status == psutil.CONN_ESTABLISHED]
        partitions = []
        for listener in server.listeners:
            stats = listener.statistics.get("topics", {})
            for (topic, partition), coordinator in list(listener.coordinators.items()):
                p = stats.get(topic, {}).get("partitions", {}).get(str(partition), {})
                partitions.append({
                    "consumer_group": listener.subscription_group.consumer_group, "topic": topic, "partition": partition,
                    "committed": p.get("committed_offset"), "high_watermark": p.get("hi_offset"),
                    "lag": p.get("consumer_lag"), "paused": coordinator.paused_until == float("inf"),
                    "fetch_paused": coordinator.fetch_paused, "last_processed_at": coordinator.last_processed_at,
                    "errors": len(coordinator.errors),
                })
        return {
            "id": self.id, "hostname": socket.gethostname(), "pid": os.getpid(), "node": server.node,
            "started_at": self.started_at, "reported_at": _now(), "report_interval_ms": self.config.report_interval_ms,
            "state": "stopped" if self._stopped.is_set() else server.state,
            "concurrency": server.concurrency, "busy": server.workers.busy, "queued": len(server.jobs),
            "processed": server.workers.processed,
            "listeners": [{"subscription_group": l.subscription_group.name, "consumer_group": l.subscription_group.consumer_group,
                           "topics": l.subscription_group.topics, "polled_s_ago": round(time.monotonic() - l.last_poll_at, 1)}
                          for l in server.listeners],
            "threads": {"real": self.process.num_threads(), "estimate": estimate.threads_per_process},
            "rss_mb": round(self.process.memory_info().rss / 2**20, 1),
            "cpu_percent": self.process.cpu_percent(),
            "tcp": {"real": sum(1 for c in connections if c.raddr.port in self.broker_ports),
                    "estimate": estimate.tcp_per_process},
            "db_connections": {"real": sum(1 for c in connections if c.raddr.port in self.db_ports),
                               "bound": estimate.db_connections_per_process},
            "partitions": partitions,
            "producer": producer.state(),
        }

    def _brokers(self) -> int:
        """Brokers of the cluster as librdkafka knows them (its statistics), at least one."""
        known = {b.get("nodeid") for l in self.server.listeners for b in l.statistics.get("brokers", {}).values()}
        return max(1, len({n for n in known if isinstance(n, int) and n >= 0}))

    # -- errors ----------------------------------------------------------------------------------

    def on_error_occurred(self, _event: str, payload: dict[str, Any]) -> None:
        exc = payload.get("exception")
        record = {k: v for k, v in payload.items() if k != "exception"}
        record.update(process=self.id, at=_now(),
                      error_class=f"{type(exc).__module__}.{type(exc).__qualname__}" if exc else None,
                      traceback="".join(traceback.format_exception(exc)) if exc else None)
        producer.produce_async(self.config.errors_topic, json.loads(json.dumps(record, default=str)), key=self.id)
