"""Handing a fetch to the partitions' coordinators: the listener's hot path.

Runs on the listener thread, the only one that fetches; it never runs user code but a route's
filters (which the filters API says run there).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from itertools import groupby
from typing import Any, cast

from confluent_kafka import Message as RawMessage

from ..instrumentation import Monitor
from ..processing import db
from ..processing.coordinator import Coordinator
from ..processing.filter_chain import apply_filters
from ..processing.jobs_queue import JobsQueue
from ..processing.pause import Backoff


def _topic_partition(message: RawMessage) -> tuple[str, int]:
    return message.topic(), message.partition()  # type: ignore[return-value]  # set on every fetched message


class Distributor:
    def __init__(self, single_topic: str | None, jobs: JobsQueue, monitor: Monitor, backoff: Backoff,
                 on_message_error: Callable[[Any], None]):
        self.single_topic = single_topic  # the group reads one topic: runs are told apart by partition alone
        self.jobs = jobs
        self.monitor = monitor
        self.backoff = backoff
        self.on_message_error = on_message_error

    def distribute(self, messages: list, coordinators: dict[tuple[str, int], Coordinator]) -> None:
        """Split a fetch into per-partition runs and give each to its coordinator.

        The hot path: librdkafka returns long runs of one partition, so runs are grouped in C
        (``groupby`` on the partition alone when the group reads one topic), and errors, which
        are rare, are looked for in C first.
        """
        if any(map(RawMessage.error, messages)):
            kept = []
            for message in messages:
                if message.error() is None:
                    kept.append(message)
                else:
                    self.on_message_error(message)
            messages = kept
        topic = self.single_topic
        runs: dict[tuple[str, int], list] = {}
        for found, group in groupby(messages, RawMessage.partition if topic else _topic_partition):
            key = cast(tuple[str, int], (topic, found) if topic else found)
            if key in runs:
                runs[key].extend(group)
            else:
                runs[key] = list(group)
        for key, run in runs.items():
            coordinator = coordinators.get(key)
            if coordinator is None:
                continue  # not ours any more; the new owner reads it from the committed offset
            if coordinator.filters:
                self._filter_and_add(coordinator, run)
                continue
            for job in coordinator.add(run):
                self.jobs.put(job)

    def _filter_and_add(self, coordinator: Coordinator, run: list) -> None:
        """Apply the route's filters to a fetched run (here, on the listener thread), then buffer it.

        A filter that raises has the run read again after the first backoff: nothing of it is
        buffered or skipped, and the error is reported (once per retry) as ``filtering.error``.
        """
        db.before_job()
        try:
            filtered = apply_filters(coordinator, run, self.monitor)
        except Exception as exc:
            coordinator.refetch(run[0].offset(), time.monotonic() + self.backoff.seconds(1))
            self.monitor.error("filtering.error", exc, topic=coordinator.topic, partition=coordinator.partition,
                               first_offset=run[0].offset())
            return
        finally:
            db.after_job()
        for job in coordinator.add(filtered.raw):
            self.jobs.put(job)
        if filtered.refetch_from is not None:
            coordinator.refetch(filtered.refetch_from, filtered.refetch_after)
