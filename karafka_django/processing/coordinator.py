"""Per topic-partition state: the buffer, the job in flight, the marked offset, pauses and retries.

The listener adds fetched messages; a worker that finishes a job takes the next batch itself
(no round trip through the listener, so a busy partition never waits for a poll). Everything
that needs the Kafka client (seek, pause/resume fetching, storing offsets) is only *recorded*
here and applied by the listener, the client's single owner.

Invariant: at most one job per partition exists at a time (``busy``), and its messages are the
lowest unprocessed offsets, so batches run in offset order and never concurrently.

After a batch fails, the partition is *isolating*: up to the failed batch's last offset it is
retried one message at a time, so the messages that work are processed (once) and the one that
fails is found, retried with backoff and, past the route's ``max_retries``, dead-lettered.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from ..routing import Route

#: Messages taken from librdkafka in one poll. Batches handed to consumers are MAX_MESSAGES.
FETCH_BATCH = 1000
#: Smallest per-partition buffer before fetching of that partition is paused.
MIN_BUFFER_BOUND = 2 * FETCH_BATCH


@dataclass(frozen=True)
class Backoff:
    """Pause before retrying a failed batch: ``timeout * 2**(attempt-1)``, capped."""

    timeout_ms: int
    max_timeout_ms: int
    exponential: bool = True

    def seconds(self, attempt: int) -> float:
        millis = self.timeout_ms * (2 ** (attempt - 1) if self.exponential else 1)
        return min(millis, self.max_timeout_ms) / 1000


class Job:
    """One batch of one partition for a worker."""

    __slots__ = ("coordinator", "raw")

    def __init__(self, coordinator: "Coordinator", raw: list):
        self.coordinator = coordinator
        self.raw = raw


class Coordinator:
    def __init__(self, topic: str, partition: int, route: Route, max_messages: int, backoff: Backoff):
        self.topic = topic
        self.partition = partition
        self.route = route
        self.max_messages = max_messages
        self.buffer_bound = max(10 * max_messages, MIN_BUFFER_BOUND)
        self.backoff = backoff
        self.consumer: Any = None  # the BaseConsumer instance, built by the executor on first job

        self._lock = threading.Lock()
        self._buffer: list = []
        self.busy = False
        self.idle = threading.Event()
        self.idle.set()

        self.marked: int | None = None  # next offset to commit: last processed + 1
        self.stored: int | None = None  # last offset the listener handed to librdkafka
        self.attempt = 0
        self.retry_at = 0.0
        self.paused_until = 0.0
        self.seek_to: int | None = None  # a seek the listener must apply
        self._requested_seek: int | None = None  # asked for by the consumer during a job
        self.revoked = False
        self.closing = False
        self.fetch_paused = False  # owned by the listener: is fetching paused in librdkafka
        self.isolate_until: int | None = None  # retry one by one up to this offset
        self.failed_offset: int | None = None  # the message that failed on its own last
        self.errors: list[BaseException] = []  # since the partition last recovered
        self.last_processed_at: float | None = None

    # -- listener side ---------------------------------------------------------------------------

    def add(self, raw: list) -> Job | None:
        """Buffer freshly fetched messages; returns a job when the partition was idle."""
        with self._lock:
            if self.revoked or self.seek_to is not None:
                return None  # fetched before a seek or revocation: the new position re-reads them
            self._buffer.extend(raw)
            return self._take(time.monotonic())

    def due_job(self, now: float) -> Job | None:
        """A job that became possible (retry backoff or a pause ran out)."""
        if self.busy or not self._buffer:
            return None
        with self._lock:
            return self._take(now)

    def wants_fetch_paused(self, now: float) -> bool:
        return (
            self.closing
            or len(self._buffer) >= self.buffer_bound
            or now < self.retry_at
            or now < self.paused_until
        )

    def needs_ticks(self, now: float) -> bool:
        """True while something here changes with time, so the listener polls briefly."""
        return self.fetch_paused or self.seek_to is not None or now < self.retry_at or now < self.paused_until

    def seek_applied(self) -> None:
        with self._lock:
            self.seek_to = None

    def revoke(self) -> None:
        with self._lock:
            self.revoked = True
            self._buffer.clear()

    def close(self) -> None:
        """Stop dispatching (shutdown or quiet mode); a job in flight finishes."""
        with self._lock:
            self.closing = True

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    # -- worker side -----------------------------------------------------------------------------

    def mark(self, offset: int) -> None:
        """Record ``offset`` as the next one to commit; marks only move forward."""
        if self.marked is None or offset > self.marked:
            self.marked = offset

    def request_seek(self, offset: int) -> None:
        self._requested_seek = offset

    def request_pause(self, seconds: float, offset: int | None) -> None:
        self.paused_until = time.monotonic() + seconds
        if offset is not None:
            self._requested_seek = offset

    def request_resume(self) -> None:
        self.paused_until = 0.0

    @property
    def last_error(self) -> BaseException | None:
        return self.errors[-1] if self.errors else None

    def dead_letter_due(self, job: Job) -> bool:
        """Did this message fail on its own and run out of retries, so it goes to the DLQ now?"""
        dlq = self.route.dead_letter_queue
        return (
            dlq is not None
            and len(job.raw) == 1
            and job.raw[0].offset() == self.failed_offset
            and self.attempt > dlq.max_retries
        )

    def complete(self, job: Job, mark_last: bool, dead_lettered: bool = False) -> Job | None:
        """The job succeeded (or its message was dead-lettered): mark it, hand back the next batch."""
        with self._lock:
            self.busy = False
            self.retry_at = 0.0
            self.last_processed_at = time.time()
            if self.isolate_until is not None and job.raw[-1].offset() >= self.isolate_until:
                self.isolate_until = None
            dlq = self.route.dead_letter_queue
            if self.isolate_until is None or dead_lettered or (dlq is not None and dlq.independent):
                self.attempt = 0
                self.errors.clear()
            if mark_last:
                self.mark(job.raw[-1].offset() + 1)
            if self.revoked:  # the listener waits for this job and commits its mark
                self.idle.set()
                return None
            if self._requested_seek is not None:
                self.seek_to, self._requested_seek = self._requested_seek, None
                self._buffer.clear()
            following = self._take(time.monotonic())
            if following is None:
                self.idle.set()
            return following

    def fail(self, job: Job, error: BaseException, halt: bool = False) -> float:
        """The job raised: put its unmarked messages back in front and back off.

        Returns the backoff in seconds. Nothing is skipped: the retry starts at the first
        message the consumer did not mark, and the buffer behind it is kept. ``halt`` (a
        critical error) also stops dispatching, so the batch is neither retried nor dead-lettered.
        """
        with self._lock:
            self.busy = False
            self.closing = self.closing or halt
            self.attempt += 1
            self.errors = [*self.errors[-99:], error]
            self._requested_seek = None
            delay = self.backoff.seconds(self.attempt)
            last = job.raw[-1].offset()
            if len(job.raw) == 1:
                self.failed_offset = last
            self.isolate_until = last if self.isolate_until is None else max(self.isolate_until, last)
            if not self.revoked:
                marked = self.marked
                unprocessed = job.raw if marked is None else [m for m in job.raw if m.offset() >= marked]
                self._buffer[:0] = unprocessed
                self.retry_at = time.monotonic() + delay
            self.idle.set()
            return delay

    def abandon(self, job: Job) -> None:
        """A queued job of a partition revoked before it ran."""
        with self._lock:
            self.busy = False
            self.idle.set()

    # -- internal --------------------------------------------------------------------------------

    def _take(self, now: float) -> Job | None:
        if (
            self.busy
            or not self._buffer
            or self.closing
            or self.revoked
            or self.seek_to is not None
            or now < self.retry_at
            or now < self.paused_until
        ):
            return None
        size = self.max_messages
        if self.isolate_until is not None:
            if self._buffer[0].offset() <= self.isolate_until:
                size = 1
            else:
                self.isolate_until = None
        batch = self._buffer[:size]
        del self._buffer[:size]
        self.busy = True
        self.idle.clear()
        return Job(self, batch)

    def __repr__(self) -> str:
        return f"<Coordinator {self.topic}/{self.partition} busy={self.busy} buffered={len(self._buffer)} marked={self.marked}>"
