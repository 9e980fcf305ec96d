"""Runs one consumer's lifecycle for one partition: build, consume, hooks, errors.

The executor is where a job meets the user's code, so it is also where database hygiene and
error handling wrap it. Consumer exceptions never escape: the batch goes back to the
coordinator and is retried after a backoff. Only critical errors (not ``Exception``) escape,
after the batch was returned, so nothing is lost when the server shuts down because of them.
"""

from __future__ import annotations

import time
from typing import Any

from ..instrumentation import Monitor
from ..messages import Messages
from . import db
from .coordinator import Coordinator, Job
from .jobs_queue import JobsQueue


class Executor:
    def __init__(self, jobs: JobsQueue, monitor: Monitor):
        self.jobs = jobs
        self.monitor = monitor

    def run(self, job: Job) -> int:
        """Run a job and chain the partition's next batch; returns messages processed."""
        coordinator = job.coordinator
        if coordinator.revoked:
            coordinator.abandon(job)
            return 0
        db.before_job()
        started = time.monotonic()
        try:
            consumer = coordinator.consumer or self._build(coordinator)
            messages = Messages(job.raw, coordinator.route.deserializer)
            consumer.messages = messages
            consumer.attempt = coordinator.attempt
            consumer.consume(messages)
        except Exception as exc:
            delay = coordinator.fail(job, exc)
            self.monitor.instrument(
                "error.occurred",
                type="consumer.consume.error",
                topic=coordinator.topic,
                partition=coordinator.partition,
                first_offset=job.raw[0].offset(),
                last_offset=job.raw[-1].offset(),
                attempt=coordinator.attempt,
                retry_in_s=delay,
                error=f"{type(exc).__name__}: {exc}",
                exception=exc,
            )
            return 0
        except BaseException as exc:
            coordinator.fail(job, exc)
            raise
        finally:
            db.after_job()
        following = coordinator.complete(job, mark_last=not coordinator.route.manual_offset_management)
        if following is not None:
            self.jobs.put(following)
        if self.monitor.has_subscribers("consumer.consumed"):
            self.monitor.instrument(
                "consumer.consumed",
                topic=coordinator.topic,
                partition=coordinator.partition,
                first_offset=job.raw[0].offset(),
                last_offset=job.raw[-1].offset(),
                size=len(job.raw),
                time_ms=round((time.monotonic() - started) * 1000, 3),
            )
        return len(job.raw)

    def _build(self, coordinator: Coordinator) -> Any:
        consumer = coordinator.route.consumer_class()
        consumer._attach(coordinator)
        coordinator.consumer = consumer
        consumer.initialized()
        return consumer

    def run_hook(self, coordinator: Coordinator, hook: str) -> None:
        """Run ``revoked``/``shutdown`` on the calling (listener) thread with the same hygiene."""
        consumer = coordinator.consumer
        if consumer is None:
            return
        db.before_job()
        try:
            getattr(consumer, hook)()
        except Exception as exc:
            self.monitor.instrument(
                "error.occurred",
                type=f"consumer.{hook}.error",
                topic=coordinator.topic,
                partition=coordinator.partition,
                error=f"{type(exc).__name__}: {exc}",
                exception=exc,
            )
        finally:
            db.after_job()
