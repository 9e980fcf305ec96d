"""The consumer server process: listeners + worker pool + signals + graceful shutdown.

Threads: one listener per subscription group, CONCURRENCY workers, and the producer's report
thread once something produces. Database connections: at most one per worker and one per
listener (hooks run there), so never more than CONCURRENCY + subscription groups per alias;
this main thread closes its own before starting and touches the database no more.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.db import connections

from ..cluster.topics import create_own_topics
from ..conf import KarafkaConfig
from ..connection.listener import Listener
from ..connection.statistics import listener_snapshot
from ..instrumentation import Monitor
from ..instrumentation import monitor as default_monitor
from ..instrumentation.resources import buffer_split
from ..instrumentation.snapshot import ServerSnapshot, WorkersSnapshot
from ..instrumentation.stack_dump import dump_thread_stacks
from ..processing.buffer import BufferBudget
from ..processing.executor import Executor
from ..processing.jobs import Job, ServiceJob
from ..processing.jobs_queue import JobsQueue
from ..processing.pause import FOREVER
from ..processing.transactions import TransactionalProducers, transactional_id_base
from ..processing.worker import WorkerPool
from ..producing.outbox import OutboxRelay
from ..producing.producer import producer
from ..routing.route import SubscriptionGroup

if TYPE_CHECKING:
    from ..instrumentation.http_endpoint import HttpEndpoint
    from ..instrumentation.reporter import Reporter

logger = logging.getLogger("karafka_django.server")

#: 3: a Kafka client cannot work (authentication failed, a fatal librdkafka error).
EXIT_OK, EXIT_ERROR, EXIT_FORCED, EXIT_CLIENT_FAULT = 0, 1, 2, 3
#: A repeated stop signal within this window is the same request delivered twice (to the
#: process and to its group, as `timeout` and some supervisors do), not an order to force.
REPEATED_SIGNAL_WINDOW_S = 1.0


class Server:
    def __init__(
        self,
        config: KarafkaConfig,
        subscription_groups: list[SubscriptionGroup],
        concurrency: int | None = None,
        monitor: Monitor = default_monitor,
        metrics_port: int | None = None,
        node: int | None = None,
    ):
        self.config = config
        self.subscription_groups = subscription_groups
        self.concurrency = concurrency or config.concurrency
        self.monitor = monitor
        self.jobs = JobsQueue()
        transactions = TransactionalProducers(config.producer_kafka, transactional_id_base(config.client_id, config.kafka, node),
                                              self.concurrency)
        self.executor = Executor(self.jobs, monitor, transactions=transactions)
        self.workers = WorkerPool(self.concurrency, self.jobs, self.executor, self._on_critical)
        budget_bytes, prefetch_kbytes = buffer_split(config.max_buffered_bytes, config.kafka, len(subscription_groups))
        self.buffer_budget = BufferBudget(budget_bytes)
        self.listeners = [Listener(sg, config, self.jobs, self.executor, monitor, self.buffer_budget, prefetch_kbytes, node)
                          for sg in subscription_groups]
        self.metrics_port = metrics_port
        self.reporter: Reporter | None = None
        self.node = node  # the swarm node index, None outside a swarm
        self.http: HttpEndpoint | None = None
        self._subscribed: list[object] = []  # listeners this server subscribed to the (process-wide) monitor
        self.state = "initialized"
        databases = {"default", *(r.database for sg in subscription_groups for r in sg.routes if r.offsets_in_database)}
        self.outbox_relay = OutboxRelay(producer, databases, timedelta(milliseconds=config.outbox_relay_after_ms), monitor,
                                        self.executor.dependencies)
        self._relay_job: ServiceJob | None = None
        self._relay_due_at = 0.0
        self._stalled: set[tuple[str, str, int]] = set()  # partitions reported stalled (consumer.stalled once each)
        self._stop_requested = threading.Event()
        self._exit_code = EXIT_OK
        self._first_stop_signal_at: float | None = None

    @property
    def db_connection_bound(self) -> int:
        return self.concurrency + len(self.listeners)

    # -- lifecycle -------------------------------------------------------------------------------

    def run(self, handle_signals: bool = True) -> int:
        """Run until a signal, :meth:`stop` or a critical error stops the server; returns the exit
        code. ``handle_signals=False`` when the process's main thread belongs to someone else
        (``karafka_django.embedded``)."""
        connections.close_all()
        if handle_signals:
            self.install_signal_handlers()
        create_own_topics(self.config, self.subscription_groups, self.monitor)  # before a report or a subscription
        transactional = any(route.transactional for sg in self.subscription_groups for route in sg.routes)
        if transactional and (refused := self.executor.transactions.start()):  # fences killed predecessors first
            self.monitor.error("transactions.unavailable", error=refused)
            self.monitor.instrument("app.stopped", pid=os.getpid(), exit_code=EXIT_CLIENT_FAULT, processed=0)
            return EXIT_CLIENT_FAULT
        # The endpoint and the reporter (psutil) are imported only when used: a smaller idle process.
        if self.metrics_port is not None:
            from ..instrumentation.http_endpoint import HttpEndpoint

            self.http = HttpEndpoint(self.snapshot, self.metrics_port, render_metrics=self._metrics_renderer())
            self.http.start()
        if self.config.reporting:
            from ..instrumentation.reporter import Reporter

            self.reporter = Reporter(self.config, self.monitor, self.snapshot, self.apply_command)
            self._subscribe(self.reporter)
            self.reporter.start()
        self.workers.start()
        for listener in self.listeners:
            listener.start()
        self.state = "running"
        self.monitor.instrument(
            "app.running", pid=os.getpid(), node=self.node, concurrency=self.concurrency,
            subscription_groups=",".join(sg.name for sg in self.subscription_groups),
            topics=",".join(t for sg in self.subscription_groups for t in sg.topics),
            db_connection_bound=self.db_connection_bound,
        )
        self._supervise()
        return self._shutdown()

    def stop(self) -> None:
        self._stop_requested.set()

    def quiet(self) -> None:
        self.state = "quiet"
        for listener in self.listeners:
            listener.go_quiet()
        self.monitor.instrument("app.quieting", pid=os.getpid())

    def _supervise(self) -> None:
        interval = self.config.status_interval_ms / 1000
        last_processed, last_at = 0, time.monotonic()
        while not self._stop_requested.wait(min(interval, 0.5)):
            if any(listener.faults.failure for listener in self.listeners):
                self._exit_code = EXIT_CLIENT_FAULT
                break
            if gone := [t.name for t in self.listeners if not t.is_alive()] + self.workers.dead():
                logger.critical("%s ended while the server runs: stopping it (exit code 1)", ", ".join(gone))
                self._exit_code = EXIT_ERROR
                break
            self._schedule_outbox_relay(time.monotonic())
            if time.monotonic() - last_at < interval:
                continue
            processed, now, snapshot = self.workers.processed, time.monotonic(), self.snapshot()
            self.monitor.instrument("app.status", **snapshot.status(),
                                    rate=round((processed - last_processed) / (now - last_at)))
            self._report_stalls(snapshot)
            last_processed, last_at = processed, now

    def _report_stalls(self, snapshot: ServerSnapshot) -> None:
        """``consumer.stalled`` once per episode of each stuck partition (the snapshot shows it throughout)."""
        stalled = {(p["consumer_group"], p["topic"], p["partition"]): p for p in snapshot.stalled_partitions}
        for key in stalled.keys() - self._stalled:
            self.monitor.instrument("consumer.stalled", **stalled[key])
        self._stalled = set(stalled)

    def _schedule_outbox_relay(self, now: float) -> None:
        """Every OUTBOX_RELAY_INTERVAL_MS, a relay job for the worker pool (one at a time)."""
        if self.state != "running" or now < self._relay_due_at or (self._relay_job and not self._relay_job.done.is_set()):
            return
        self._relay_due_at = now + self.config.outbox_relay_interval_ms / 1000
        self._relay_job = ServiceJob("outbox.relay", self.outbox_relay)
        self.jobs.put(self._relay_job)

    # -- what the instrumentation reads and sends --------------------------------------------------

    def snapshot(self) -> ServerSnapshot:
        """The one picture of this server that the status line, health, metrics and reports read."""
        now = time.monotonic()
        workers = WorkersSnapshot(concurrency=self.concurrency, busy=self.workers.busy, queued=len(self.jobs),
                                  processed=self.workers.processed, idle_s=now - self.workers.last_finished_at,
                                  processed_by_topic=self.workers.processed_by_topic)
        return ServerSnapshot(node=self.node, state=self.state, metrics=self.metrics_port is not None, workers=workers,
                              listeners=tuple(listener_snapshot(listener, now) for listener in self.listeners),
                              buffered_bytes=self.buffer_budget.used,
                              dependencies_unavailable=self.executor.dependencies.snapshot(now),
                              transactional_producers=self.executor.transactions.open_count)

    def apply_command(self, command: str, topic: str | None = None, partition: int | None = None) -> None:
        """An operator's command from the admin: quiet or stop the process, pause or resume a partition."""
        if command == "quiet":
            self.quiet()
        elif command == "stop":
            self.stop()
        elif command in ("pause", "resume") and topic is not None and partition is not None:
            for listener in self.listeners:
                coordinator = listener.coordinators.get((topic, partition))
                if coordinator is None:
                    continue
                if command == "pause":
                    coordinator.pause.pause_until(FOREVER)
                else:
                    coordinator.pause.resume()

    def _shutdown(self) -> int:
        self.state = "stopping"
        self.monitor.instrument("app.stopping", pid=os.getpid(), timeout_ms=self.config.shutdown_timeout_ms)
        deadline = time.monotonic() + self.config.shutdown_timeout_ms / 1000
        for listener in self.listeners:
            listener.stop(deadline)
        for listener in self.listeners:
            listener.join(max(0.0, deadline - time.monotonic()))
        clean = all(not listener.is_alive() and listener.clean_exit for listener in self.listeners)
        blocking = self.workers.running_jobs()
        clean &= self.workers.stop(max(0.1, deadline - time.monotonic()))
        if not clean:
            self._report_blocking(blocking)
        if self.reporter is not None:
            self.reporter.stop()
            self.reporter.join(max(1.0, deadline - time.monotonic()))
        undelivered = producer.close(max(1.0, deadline - time.monotonic()))
        self.executor.transactions.close()
        if self.http is not None:
            self.http.stop()
        for subscriber in self._subscribed:
            self.monitor.unsubscribe(subscriber)
        code = self._exit_code if (clean and not undelivered) or self._exit_code in (EXIT_ERROR, EXIT_CLIENT_FAULT) else EXIT_FORCED
        self.state = "stopped"
        self.monitor.instrument("app.stopped", pid=os.getpid(), exit_code=code, processed=self.workers.processed)
        return code

    def _report_blocking(self, jobs: list[Job]) -> None:
        """A forced stop names what held it (``app.shutdown_blocked``, a WARNING): each job still
        running, whose offsets are not committed, and each listener that did not finish."""
        now = time.monotonic()
        for job in jobs:
            coordinator = job.coordinator
            since = coordinator.execution.since
            self.monitor.instrument(
                "app.shutdown_blocked", consumer=coordinator.route.consumer_path, topic=coordinator.topic,
                partition=coordinator.partition, first_offset=job.raw[0].offset() if job.raw else None,
                last_offset=job.raw[-1].offset() if job.raw else None, tick=job.tick,
                running_s=None if since is None else round(now - since, 1), committed=False)
        for listener in self.listeners:
            if listener.is_alive() or not listener.clean_exit:
                self.monitor.instrument("app.shutdown_blocked", subscription_group=listener.subscription_group.name,
                                        listener="did not finish" if listener.is_alive() else listener.unclean)

    # -- signals and critical errors -------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGINT, self._on_stop_signal)
        signal.signal(signal.SIGTERM, self._on_stop_signal)
        signal.signal(signal.SIGTSTP, self._on_quiet_signal)
        signal.signal(signal.SIGTTIN, lambda _signum, _frame: dump_thread_stacks())

    def _metrics_renderer(self) -> Any:
        try:
            from ..instrumentation.prometheus import PrometheusListener
        except ImportError:
            return None
        listener = PrometheusListener(self.snapshot, self.monitor.failures)
        self._subscribe(listener)
        return listener.render

    def _subscribe(self, listener: object) -> None:
        """Subscribed until the server stops: an embedded server's process goes on without it."""
        self.monitor.subscribe(listener)
        self._subscribed.append(listener)

    def _on_stop_signal(self, signum: int, _frame: Any) -> None:
        now = time.monotonic()
        self.monitor.instrument("process.notice_signal", signal=signal.Signals(signum).name)
        if self._first_stop_signal_at is None:
            self._first_stop_signal_at = now
        elif now - self._first_stop_signal_at > REPEATED_SIGNAL_WINDOW_S:
            self.monitor.instrument("app.stopped", pid=os.getpid(), exit_code=EXIT_FORCED, forced=True)
            os._exit(EXIT_FORCED)
        self.stop()

    def _on_quiet_signal(self, signum: int, _frame: Any) -> None:
        self.monitor.instrument("process.notice_signal", signal=signal.Signals(signum).name)
        self.quiet()

    def _on_critical(self, error: BaseException) -> None:
        self._exit_code = EXIT_ERROR
        self.stop()
