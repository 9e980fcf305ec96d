"""Runs one consumer's lifecycle for one partition: build, consume, hooks, errors, DLQ.

The executor is where a job meets the user's code, so it is also where database hygiene and
error handling wrap it. Consumer exceptions never escape: the batch goes back to the
coordinator and is retried after a backoff, or dead-lettered once out of retries. Critical
errors (``MemoryError``, ``SystemExit``, ``KeyboardInterrupt``, anything not an
``Exception``) are never retried nor dead-lettered: the batch is returned uncommitted and the
error escapes to the worker, which shuts the server down gracefully.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from ..conf import get_config
from ..instrumentation import Monitor
from ..instrumentation.privacy import payloads_allowed
from ..messages import Messages
from . import db, dead_letter_queue, offset_storage
from .coordinator import Coordinator
from .dependencies import Dependencies
from .jobs import Job, ServiceJob
from .jobs_queue import JobsQueue
from .transactions import Transaction, TransactionalProducers, transactional_id_base

CRITICAL_ERRORS = (MemoryError, SystemExit, KeyboardInterrupt)


def is_critical(error: BaseException) -> bool:
    return isinstance(error, CRITICAL_ERRORS) or not isinstance(error, Exception)


class Executor:
    def __init__(self, jobs: JobsQueue, monitor: Monitor, db_hooks: Any = db,
                 transactions: TransactionalProducers | None = None):
        self.jobs = jobs
        self.monitor = monitor
        config = get_config()
        self.transactions = transactions or TransactionalProducers(
            config.producer_kafka, transactional_id_base(config.client_id, config.kafka, None), config.concurrency)
        #: per subscription group, its consumer's group metadata (the listeners register them)
        self.group_metadata: dict[str, Callable[[], Any]] = {}
        self.dependencies = Dependencies(monitor, config.transient_error_timeout_ms)
        self.error_payloads = config.error_payloads
        self.db = db_hooks  # before_job()/after_job(); the test client turns them off, as Django's does

    def run(self, job: Job | ServiceJob) -> int:
        """Run a job and chain the partition's next batch; returns messages processed."""
        if isinstance(job, ServiceJob):
            self._run_service(job)
            return 0
        coordinator = job.coordinator
        if not coordinator.job_started():  # revoked while the job was queued
            coordinator.abandon(job)
            return 0
        try:
            return self._run(job)
        except Exception as exc:  # a bug of ours escaped: the batch goes back uncommitted, the worker stops the server
            coordinator.fail(job, exc, halt=True, blame=False, counted=False)
            raise
        finally:
            job.raw = []  # its consumer keeps the job (a mark in shutdown() is the last batch's), not its messages
            hook = coordinator.job_ended()
            if hook is not None:  # the partition was revoked (or the server stopped) meanwhile
                self.run_hook(coordinator, hook)

    def _run(self, job: Job) -> int:
        coordinator = job.coordinator
        if job.error is not None:
            delay = coordinator.fail(job, job.error)
            self._error(coordinator, job, job.error, "consumer.partitioner.error", retry_in_s=delay)
            return 0
        if coordinator.dead_letter_due(job):
            return self._dead_letter(job)
        self.db.before_job()
        started = time.monotonic()
        raw = job.messages if coordinator.filters else job.raw
        try:
            consumer = coordinator.consumers.get(job.slot)
            if consumer is None:
                try:
                    consumer = coordinator.consumers[job.slot] = self.build(coordinator)
                except Exception as exc:  # initialized() raised: discard the instance, blame no message
                    delay = coordinator.fail(job, exc, blame=False)
                    self._error(coordinator, job, exc, "consumer.initialized.error", retry_in_s=delay)
                    return 0
            consumer._job = job
            consumer.attempt = coordinator.pause.attempt
            if job.tick:
                consumer.tick()
            elif coordinator.route.offsets_in_database:
                self._consume_in_transaction(consumer, job, raw)
            elif coordinator.route.transactional:
                self._consume_in_kafka_transaction(consumer, job, raw)
            elif raw:
                self._consume(consumer, coordinator, raw)
        except BaseException as exc:
            critical = is_critical(exc)
            if not critical and not job.tick and self._wait_for_dependency(coordinator, job, exc):
                return 0
            delay = coordinator.fail(job, exc, halt=critical)
            kind = "consumer.tick.error" if job.tick else "consumer.consume.error"
            self._error(coordinator, job, exc, "consumer.consume.critical" if critical else kind,
                        retry_in_s=None if critical else delay)
            if critical:
                raise
            return 0
        finally:
            self.db.after_job()
        # Filtered-out messages alone (no consumer call) are marked unless the consumer owns its offsets.
        self._completed(job, started, mark_last=not (coordinator.route.manual_offset_management or job.marks_void))
        return len(raw)

    def _consume(self, consumer: Any, coordinator: Coordinator, raw: list) -> None:
        route = coordinator.route
        consumer.messages = messages = Messages(raw, route.deserializer)
        try:
            with self.monitor.around("consumer.consume", consumer=consumer, messages=messages, route=route):
                consumer.consume(messages)
        finally:  # a partition's consumer outlives the batch: with many partitions, kept batches add up
            consumer.messages = Messages([], route.deserializer)  # (the collector walks each kept message)

    def _consume_in_transaction(self, consumer: Any, job: Job, raw: list) -> None:
        """Offsets in the database: the batch's writes and the partition's next offset commit
        together; an outbox message already processed is left out of the batch."""
        coordinator = job.coordinator
        with offset_storage.batch_transaction(coordinator) as batch:
            fresh = offset_storage.drop_received(coordinator.route, raw) if raw else raw
            if fresh:
                self._consume(consumer, coordinator, fresh)
            if job.marks_void:  # stopped short on a revocation
                batch.discard()
                job.marked = None
            else:
                batch.store(job.marked if coordinator.route.manual_offset_management else job.raw[-1].offset() + 1)

    def _consume_in_kafka_transaction(self, consumer: Any, job: Job, raw: list) -> None:
        """A transactional route: what the batch produces and its next offset commit together."""
        coordinator = job.coordinator
        with self._transaction(coordinator) as txn:
            if raw:  # filtered out entirely: the transaction only moves the offset
                self._consume(consumer, coordinator, raw)
            if not (coordinator.route.manual_offset_management or job.marks_void):
                txn.offset = job.raw[-1].offset() + 1
        job.marked = None if job.marks_void else txn.offset  # marked once committed (manual offset management)

    def _transaction(self, coordinator: Coordinator) -> AbstractContextManager[Transaction]:
        return self.transactions.transaction(coordinator, self.group_metadata.get(coordinator.route.subscription_group))

    def _wait_for_dependency(self, coordinator: Coordinator, job: Job, exc: BaseException) -> bool:
        """A dependency is unavailable: retry after the backoff, blaming and counting nothing."""
        name = self.dependencies.unavailable(exc, coordinator)
        if name is None:
            return False
        if coordinator.revoked or getattr(exc, "rebalanced", False):  # a rebalance fenced its transaction:
            coordinator.fail(job, exc, blame=False, counted=False)  # the batch runs again (here or at its new owner)
            return True
        if coordinator.retry.dependency_since is None:
            coordinator.retry.dependency_since = time.monotonic()
        coordinator.retry.dependency = name
        coordinator.fail(job, exc, blame=False, counted=False)
        self.dependencies.failed(name, exc)
        return True

    def _completed(self, job: Job, started: float, mark_last: bool, dead_lettered: bool = False) -> None:
        coordinator = job.coordinator
        if coordinator.retry.dependency_since is not None:
            if not dead_lettered and coordinator.retry.dependency is not None:  # a batch went through: it answers again
                self.dependencies.recovered(coordinator.retry.dependency)
            coordinator.retry.dependency = coordinator.retry.dependency_since = None
        for following in coordinator.complete(job, mark_last=mark_last, dead_lettered=dead_lettered):
            self.jobs.put(following)
        if job.tick:
            self.monitor.instrument("consumer.ticked", topic=coordinator.topic, partition=coordinator.partition)
        elif not dead_lettered and self.monitor.has_subscribers("consumer.consumed"):  # a DLQ dispatch is its own event
            self.monitor.instrument(
                "consumer.consumed",
                topic=coordinator.topic,
                partition=coordinator.partition,
                consumer_group=coordinator.route.consumer_group,
                first_offset=job.raw[0].offset(),
                last_offset=job.raw[-1].offset(),
                size=len(job.raw),
                time_ms=round((time.monotonic() - started) * 1000, 3),
            )

    def _dead_letter(self, job: Job) -> int:
        coordinator = job.coordinator
        [raw] = job.raw
        error = coordinator.retry.last_error
        started = time.monotonic()
        route, dlq = coordinator.route, coordinator.route.dead_letter_queue
        assert dlq is not None  # dead_letter_due() is true only for a route with one
        mark = not route.manual_offset_management or dlq.mark_after_dispatch
        try:
            with self.monitor.around("dead_letter_queue.dispatch", raw=raw, route=route, error=error):
                if route.transactional:  # the dead letter and the offset move past it commit together
                    with self._transaction(coordinator) as txn:
                        dead_letter_queue.dispatch(raw, route, error, send=txn.produce_sync)
                        txn.offset = raw.offset() + 1 if mark else None
                else:
                    dead_letter_queue.dispatch(raw, route, error)
            if mark and route.offsets_in_database:  # its own transaction, once the DLQ has the message
                self.db.before_job()
                try:
                    with offset_storage.batch_transaction(coordinator) as batch:
                        batch.store(raw.offset() + 1)
                finally:
                    self.db.after_job()
        except Exception as exc:
            delay = coordinator.fail(job, exc)
            self._error(coordinator, job, exc, "dead_letter_queue.dispatch.error", retry_in_s=delay)
            return 0
        self.monitor.instrument(
            "dead_letter_queue.dispatched",
            consumer_group=coordinator.route.consumer_group,
            topic=coordinator.topic,
            partition=coordinator.partition,
            offset=raw.offset(),
            dead_letter_topic=dlq.topic,
            attempts=coordinator.pause.attempt,
            error=f"{type(error).__name__}: {error}",
        )
        self._completed(job, started, mark_last=mark, dead_lettered=True)
        return 1

    def _error(self, coordinator: Coordinator, job: Job, exc: BaseException, kind: str, **extra: Any) -> None:
        """Report a failure of the job; called once its fate is decided, and never raises."""
        try:
            excerpt = self._payload_excerpt(job)
        except Exception as failure:  # the privacy decision or a payload we cannot cut: report without it
            self.monitor.reporting_failed("executor.payload_excerpt", "error.occurred", failure)
            excerpt = None
        self.monitor.error(
            kind, exc,
            consumer=coordinator.route.consumer_path,
            consumer_group=coordinator.route.consumer_group,
            payload_excerpt=excerpt,
            topic=coordinator.topic,
            partition=coordinator.partition,
            first_offset=job.raw[0].offset() if job.raw else None,
            last_offset=job.raw[-1].offset() if job.raw else None,
            attempt=coordinator.pause.attempt,
            **extra,
        )

    def _payload_excerpt(self, job: Job) -> str | None:
        messages = job.messages  # a tick has none; skip markers have no payload
        first = messages[0].value() if messages and payloads_allowed(self.error_payloads) else None
        return first[:500].decode("utf-8", "replace") if isinstance(first, bytes) else None

    def _run_service(self, job: ServiceJob) -> None:
        """Work of the server itself (the outbox relay), with the same connection hygiene."""
        self.db.before_job()
        try:
            job.call()
        except Exception as exc:
            self.monitor.error(f"{job.name}.error", exc)
        finally:
            self.db.after_job()
            job.done.set()

    def build(self, coordinator: Coordinator) -> Any:
        """A new, initialized consumer instance for the partition (``initialized()`` may raise)."""
        consumer = coordinator.route.consumer_class()
        consumer._attach(coordinator, self.transactions, self.group_metadata.get(coordinator.route.subscription_group))
        consumer.initialized()
        return consumer

    def run_hook(self, coordinator: Coordinator, hook: str) -> None:
        """Run ``revoked``/``shutdown`` on the calling (listener) thread with the same hygiene.
        A hook that fails because a dependency is unavailable (a rebalance during a database
        outage) counts as a retry of that outage, not as an error of its own: hooks are not retried."""
        if not coordinator.consumers:
            return
        self.db.before_job()
        try:
            for consumer in coordinator.consumers.values():
                try:
                    getattr(consumer, hook)()
                except Exception as exc:
                    dependency = self.dependencies.unavailable(exc, coordinator)
                    if dependency is not None:
                        self.dependencies.failed(dependency, exc)
                        continue
                    self.monitor.error(f"consumer.{hook}.error", exc, consumer=coordinator.route.consumer_path,
                                       consumer_group=coordinator.route.consumer_group, topic=coordinator.topic,
                                       partition=coordinator.partition)
        finally:
            self.db.after_job()
        self.monitor.instrument(f"consumer.{hook}", topic=coordinator.topic, partition=coordinator.partition)
