"""The shared worker pool: CONCURRENCY threads that run jobs from the jobs queue.

A worker never dies of a job: the executor catches what a consumer raises. Anything that escapes
it (a critical error, or a bug of ours) ends the worker with a CRITICAL line naming the thread and
the exception, and stops the server gracefully (what was processed is committed, exit code 1):
never a silently smaller pool.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ..instrumentation import Monitor
from . import db
from .admission import AdmissionGate
from .executor import Executor
from .jobs import Job, ServiceJob
from .jobs_queue import JobsQueue

logger = logging.getLogger("karafka_django.worker")


class Worker(threading.Thread):
    def __init__(self, index: int, jobs: JobsQueue, executor: Executor, on_critical: Callable[[BaseException], None],
                 gate: AdmissionGate):
        super().__init__(name=f"karafka.worker-{index}", daemon=True)
        self.jobs = jobs
        self.gate = gate
        self.executor = executor
        self.monitor: Monitor = executor.monitor
        self.on_critical = on_critical
        self.current: Job | ServiceJob | None = None  # the job it executes now
        #: messages processed per (consumer group, topic); written only by this thread
        self.processed_by_topic: dict[tuple[str, str], int] = {}
        self.last_finished_at = time.monotonic()

    @property
    def busy(self) -> bool:
        return self.current is not None

    def run(self) -> None:
        try:
            while (job := self.jobs.get()) is not None:
                self._run(job)
        except BaseException as exc:  # critical (SystemExit, MemoryError, ...) or a bug: stop the server
            logger.critical("%s died of %s: %s; stopping the server", self.name, type(exc).__name__, exc, exc_info=True)
            self.on_critical(exc)
        finally:
            db.close_thread_connections()

    def _run(self, job: Job | ServiceJob) -> None:
        gated = isinstance(job, Job)  # the server's own jobs (the outbox relay) never wait
        if gated:
            self.gate.enter()
        cpu_started = time.thread_time()
        self.current = job
        try:
            count = self.executor.run(job)
            if count and isinstance(job, Job):  # only a consume job processes messages
                key = (job.coordinator.route.consumer_group, job.coordinator.topic)
                self.processed_by_topic[key] = self.processed_by_topic.get(key, 0) + count
        finally:
            self.current = None
            self.last_finished_at = time.monotonic()
            if gated:
                self.gate.leave(time.thread_time() - cpu_started)
        if self.monitor.has_subscribers("worker.processed") and type(job) is Job:
            self.monitor.instrument("worker.processed", worker=self.name, topic=job.coordinator.topic,
                                    partition=job.coordinator.partition)


class WorkerPool:
    def __init__(self, concurrency: int, jobs: JobsQueue, executor: Executor, on_critical: Callable[[BaseException], None]):
        self.jobs = jobs
        self.gate = AdmissionGate(concurrency)
        self.workers = [Worker(i, jobs, executor, on_critical, self.gate) for i in range(concurrency)]

    def start(self) -> None:
        for worker in self.workers:
            worker.start()

    def stop(self, timeout: float) -> bool:
        """Ask every worker to finish; True when all of them ended in time."""
        for _ in self.workers:
            self.jobs.put(None)
        for worker in self.workers:
            worker.join(timeout)
        return not any(w.is_alive() for w in self.workers)

    @property
    def busy(self) -> int:
        return sum(w.busy for w in self.workers)

    def dead(self) -> list[str]:
        """Workers that ended while the pool runs (each has logged why)."""
        return [w.name for w in self.workers if w.ident is not None and not w.is_alive()]

    @property
    def processed(self) -> int:
        return sum(sum(w.processed_by_topic.values()) for w in self.workers)

    @property
    def processed_by_topic(self) -> dict[tuple[str, str], int]:
        """Messages processed since start per (consumer group, topic): what per-topic throughput
        charts are drawn from."""
        totals: dict[tuple[str, str], int] = {}
        for worker in self.workers:
            for key, count in list(worker.processed_by_topic.items()):  # a copy: the worker may add a key
                totals[key] = totals.get(key, 0) + count
        return totals

    def running_jobs(self) -> list[Job]:
        """The consume jobs (batches, virtual parts, ticks) workers execute now."""
        return [job for worker in self.workers if isinstance(job := worker.current, Job)]

    @property
    def last_finished_at(self) -> float:
        return max(w.last_finished_at for w in self.workers)
