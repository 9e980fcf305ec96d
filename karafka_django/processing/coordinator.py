"""Per topic-partition state: the buffer, the jobs in flight, the marked offset, pauses and retries.

The listener adds fetched messages; a worker that finishes a job takes the next batch itself
(no round trip through the listener, so a busy partition never waits for a poll). Everything
that needs the Kafka client (seek, pause/resume fetching, storing offsets) is only *recorded*
here and applied by the listener, the client's single owner.

Invariant: one batch per partition is in flight at a time (``busy``), and its messages are the
lowest unprocessed offsets, so batches run in offset order and never concurrently. With virtual
partitions that batch runs as several parts at once (see ``virtual_partitions.py``); a periodic
tick is a job of its own, so it never overlaps ``consume`` either.

The coordinator holds a partition's parts, each with one job: its buffer and backpressure
(``buffer.py``), its offsets (``partition_offsets.py``), its retry state (``retry_state.py``), its
pause tracker (``pause.py``) and the jobs executing now (``execution.py``). Two lifecycles are
named apart: a *batch in flight* (``busy``: from the moment it is taken from the buffer until it
completes, fails or is abandoned) and a *job executing* (``job_started``/``job_ended``, on a worker).

Locking: ``_lock`` guards the buffer, ``busy`` and the batch bookkeeping, the retry state's
isolation and errors, and the virtual batch's marks; methods whose name starts with ``_`` are
called with it held. Listener-only state (``fetch_paused``, the stored offset, applying a seek)
and worker-only state (the dependency waited for) take no lock.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from ..routing.route import Route
from .buffer import BufferBudget, PartitionBuffer
from .execution import Execution
from .jobs import Job, SkipMarker
from .partition_offsets import PartitionOffsets
from .pause import Backoff, Pause
from .retry_state import RetryState
from .virtual_partitions import VirtualBatch, split


class Coordinator:
    def __init__(self, topic: str, partition: int, route: Route, max_messages: int | None, backoff: Backoff,
                 budget: BufferBudget | None = None, predecessor: Coordinator | None = None):
        self.topic = topic
        self.partition = partition
        self.route = route
        # The coordinator of an earlier assignment of this partition whose job outlived the
        # revocation wait: nothing starts here until it ended (one batch per partition at a time).
        self.predecessor = predecessor
        self.consumers: dict[int, Any] = {}  # slot -> BaseConsumer, built by the executor
        self.filters = [factory() for factory in route.filters]
        self._lock = threading.Lock()
        self.buffer = PartitionBuffer(max_messages, budget or BufferBudget(0))
        self.offsets = PartitionOffsets()
        self.retry = RetryState()
        self.pause = Pause(backoff)
        self.execution = Execution(self._lock)
        self.busy = False  # a batch (or tick) of this partition is in flight: queued or executing
        self.revoked = False  # taken away by a rebalance
        self.closing = False  # shutdown or quiet mode: no new batch
        self.fetch_paused = False  # the listener's: is fetching paused in librdkafka
        self.last_activity = time.monotonic()  # messages arrived or a batch ended (for ticks)

    # -- listener side ---------------------------------------------------------------------------

    def add(self, raw: list) -> list[Job]:
        """Buffer freshly fetched messages; returns jobs when the partition was idle."""
        with self._lock:
            if self.revoked or self.offsets.seek_to is not None:
                return []  # fetched before a seek or revocation: the new position re-reads them
            self.buffer.extend(raw)
            self.last_activity = time.monotonic()
            if not self.busy:
                self.buffer.progressed_at = self.last_activity
            return self._take(self.last_activity)

    def refetch(self, offset: int, until: float | None) -> None:
        """A filter wants the partition read again from ``offset`` (after ``until``, monotonic)."""
        with self._lock:
            self.offsets.seek_to = offset
            if until is not None:
                self.pause.pause_fetch_until(until)

    def due_jobs(self, now: float) -> list[Job]:
        """Jobs that became possible: a backoff or pause ran out, or a periodic tick is due."""
        if self.busy:
            return []
        if len(self.buffer):
            with self._lock:
                return self._take(now)
        periodic = self.route.periodic_interval_ms
        if periodic and not self.closing and not self.revoked and now - self.last_activity >= periodic / 1000:
            with self._lock:
                if not self.busy and not len(self.buffer):
                    self.busy = True
                    return [Job(self, [], tick=True)]
        return []

    def judge_fetch_pause(self, now: float) -> bool:
        """Should fetching of this partition be paused now? (Judging a full buffer updates its
        hysteresis: the listener calls this once per turn.)"""
        return self.closing or self.offsets.unknown or self.buffer.judge_full(now) or not self.pause.fetch_due(now)

    def start_at(self, offset: int | None) -> None:
        """Its offsets, unknown at assignment, are read now: start at ``offset`` (what was
        fetched meanwhile is dropped and read again from there), or where Kafka said if None."""
        with self._lock:
            if offset is not None:
                self.offsets.db_offset = self.offsets.seek_to = offset
                self.buffer.drop()
            self.offsets.unknown = False

    def holds_fetch(self) -> bool:
        """Past the bound while its consumer keeps ending batches (as :meth:`judge_fetch_pause`
        last judged): the listener waits for it rather than fetch more or pause the partition.
        A partition that takes no fetches anyway (closing, paused) holds nothing."""
        return self.buffer.holds() and not self.closing and not self.fetch_paused

    def needs_ticks(self, now: float) -> bool:
        """True while something here changes with time, so the listener polls briefly."""
        return (self.fetch_paused or self.offsets.seek_to is not None or self.offsets.unknown or not self.pause.due(now)
                or bool(self.route.periodic_interval_ms) or self._predecessor_running())

    def seek_applied(self) -> None:
        with self._lock:
            self.offsets.seek_to = None

    def revoke(self) -> None:
        """Taken away by a rebalance: no job starts any more (queued ones are abandoned)."""
        with self._lock:
            self.revoked = True
            self.buffer.drop()

    def close(self) -> None:
        """Stop dispatching (shutdown or quiet mode); jobs in flight finish."""
        with self._lock:
            self.closing = True

    def stalled(self, now: float, timeout_s: float) -> str | None:
        """Why the partition is stuck, when its consumed offset has not moved for ``timeout_s``
        while it has work waiting; None otherwise. A pause until resumed (an operator's) is not
        stuck: it waits on purpose. A restart would not help: this is a flag, not unhealthiness."""
        if now - self.offsets.moved_at < timeout_s or self.pause.until_resumed or self.revoked:
            return None
        error = self.retry.last_error
        if error is not None:
            return f"failing: {type(error).__name__}: {error}"[:200]
        if self.busy:
            return "a batch running"
        if len(self.buffer):
            return "messages waiting"
        return None

    # -- worker side -----------------------------------------------------------------------------

    def job_started(self) -> bool:
        """A worker is about to execute a job of this partition: False if it was revoked meanwhile."""
        with self._lock:
            if self.revoked:
                return False
            self.execution.started()
            return True

    def job_ended(self) -> str | None:
        """The worker's job is over; returns a hook it must now run (see ``Execution.defer``)."""
        return self.execution.ended()

    def mark_consumed(self, job: Job, offset: int) -> None:
        """The consumer running ``job`` marked ``offset``; a virtual part only advances its own share.

        With offsets in the database the mark counts only once the batch's transaction commits."""
        if self.route.offsets_in_database:
            job.marked = max(job.marked or 0, offset + 1)
            return
        if job.batch is None:
            self.offsets.mark(offset + 1)
            return
        with self._lock:
            job.batch.mark(job.part, offset)
            self.offsets.mark(job.batch.safe_offset())

    def request_seek(self, offset: int) -> None:
        self.offsets.requested_seek = offset

    def dead_letter_due(self, job: Job) -> bool:
        """Did this message fail on its own and run out of retries, so it goes to the DLQ now?"""
        return self.retry.dead_letter_due(job.raw, self.pause.attempt, self.route.dead_letter_queue)

    def complete(self, job: Job, mark_last: bool, dead_lettered: bool = False) -> list[Job]:
        """The job succeeded (or its message was dead-lettered): mark it, hand back the next jobs."""
        with self._lock:
            if job.tick:
                return self._batch_over()
            if job.batch is not None:
                if mark_last:
                    job.batch.mark_part_done(job.part)
                    self.offsets.mark(job.batch.safe_offset())
                job.batch.pending -= 1
                if job.batch.pending:
                    return []
                if job.batch.errors:
                    self._put_back(job.batch.raw, job.batch.errors[-1], job.batch.blame)
                    return self._batch_over()
            elif mark_last:
                self.offsets.mark(job.raw[-1].offset() + 1)
            elif job.marked is not None:
                self.offsets.mark(job.marked)
            self.offsets.last_processed_at = time.time()
            self.retry.passed(job.batch.last_offset if job.batch is not None else job.raw[-1].offset())
            self.pause.succeeded(self.retry.recovered(dead_lettered, self.route.dead_letter_queue))
            seek = self.offsets.requested_seek
            if seek is not None and not self.revoked:
                self.offsets.seek_to, self.offsets.requested_seek = seek, None
                self.buffer.drop()
            return self._batch_over()

    def fail(self, job: Job, error: BaseException, halt: bool = False, blame: bool = True, counted: bool = True) -> float:
        """The job raised: put its unmarked messages back in front and back off.

        Returns the backoff in seconds. Nothing is skipped: the retry starts at the first
        message not marked, and the buffer behind it is kept. A failed virtual part waits for
        the other parts of its batch; the batch then retries from its lowest unfinished offset.
        ``halt`` (a critical error) also stops dispatching: no retry, no dead letter.
        ``blame=False`` (the consumer could not even be set up) retries the whole batch after
        the backoff without isolating or dead-lettering any of its messages. ``counted=False``
        (a dependency was unavailable) also leaves the attempt count toward ``max_retries`` alone.
        """
        with self._lock:
            self.closing = self.closing or halt
            if job.tick:
                self.retry.record(error)
                self._batch_over()
                return 0.0
            if job.batch is not None:
                job.batch.errors.append(error)
                job.batch.blame |= blame
                job.batch.pending -= 1
                if job.batch.pending:
                    return self.pause.next_delay()
                raw, blame = job.batch.raw, job.batch.blame
            else:
                raw = job.raw
            delay = self._put_back(raw, error, blame, counted)
            self._batch_over()
            return delay

    def abandon(self, job: Job) -> None:
        """A queued job of a partition revoked before it ran."""
        with self._lock:
            if job.batch is not None:
                job.batch.pending -= 1
                if job.batch.pending:
                    return
            self._batch_over()

    # -- internal (called with the lock held) ------------------------------------------------------

    def _put_back(self, raw: list, error: BaseException, blame: bool = True, counted: bool = True) -> float:
        """After a failed batch: back off, remember the error, and put its unmarked messages in front."""
        delay = self.pause.fail(time.monotonic(), hold=not self.revoked, counted=counted)
        self.retry.record(error)
        self.offsets.requested_seek = None
        if blame:
            self.retry.blame(raw)
        if not self.revoked:
            marked = self.offsets.marked
            self.buffer.put_back(raw if marked is None else [m for m in raw if m.offset() >= marked])
        return delay

    def _batch_over(self) -> list[Job]:
        """The batch in flight is over: start the next one, or become idle."""
        self.busy = False
        self.last_activity = time.monotonic()
        self.buffer.batch_ended(self.last_activity)
        return [] if self.revoked else self._take(self.last_activity)

    def _take(self, now: float) -> list[Job]:
        """The next batch, when one may start: the partition idle, open, due and not seeking."""
        if (self.busy or not len(self.buffer) or self.closing or self.revoked or self.offsets.seek_to is not None
                or self.offsets.unknown or not self.pause.due(now) or self._predecessor_running()):
            return []
        batch = self.buffer.take(self.retry.batch_size(self.buffer.messages[0].offset(), self.buffer.batch_messages))
        self.busy = True
        virtual = self.route.virtual_partitions
        real = [m for m in batch if type(m) is not SkipMarker] if self.filters else batch
        if virtual is None or len(real) <= 1:
            return [Job(self, batch)]
        try:
            parts = split(real, self.route.deserializer, virtual.partitioner, virtual.max_partitions)
        except Exception as exc:  # the user's partitioner: the batch fails like a consume would
            return [Job(self, batch, error=exc)]
        shared = VirtualBatch(batch, list(parts.values()))
        return [Job(self, part, slot=slot, part=index, batch=shared) for index, (slot, part) in enumerate(parts.items())]

    def _predecessor_running(self) -> bool:
        return self.predecessor is not None and self.predecessor.execution.count > 0

    def __repr__(self) -> str:
        return f"<Coordinator {self.topic}/{self.partition} busy={self.busy} buffered={len(self.buffer)} marked={self.offsets.marked}>"
