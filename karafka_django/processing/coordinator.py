"""Per topic-partition state: the buffer, the jobs in flight, the marked offset, pauses and retries.

The listener adds fetched messages; a worker that finishes a job takes the next batch itself
(no round trip through the listener, so a busy partition never waits for a poll). Everything
that needs the Kafka client (seek, pause/resume fetching, storing offsets) is only *recorded*
here and applied by the listener, the client's single owner.

Invariant: one batch per partition is in flight at a time (``busy``), and its messages are the
lowest unprocessed offsets, so batches run in offset order and never concurrently. With virtual
partitions that batch runs as several parts at once (see ``virtual_partitions.py``); a periodic
tick is a job of its own, so it never overlaps ``consume`` either.

After a batch fails, the partition is *isolating*: up to the failed batch's last offset it is
retried one message at a time, so the messages that work are processed (once) and the one that
fails is found, retried with backoff and, past the route's ``max_retries``, dead-lettered.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from ..routing import Route
from .jobs import Job, SkipMarker
from .pause import Backoff, Pause
from .virtual_partitions import VirtualBatch, split

#: Messages taken from librdkafka in one call, at most (it hands over what it holds): large, so
#: that the listener's work per call is small next to the messages'. Batches handed to
#: consumers are MAX_MESSAGES.
FETCH_BATCH = 10_000
#: Smallest per-partition buffer before fetching of that partition is paused.
MIN_BUFFER_BOUND = 2000
#: A buffer past its bound pauses fetching only once its consumer is behind: no batch of the
#: partition ended for this long (or since work came to it while idle). While the consumer
#: keeps ending batches, the listener waits for it instead (see ``holds_fetch``): a pause would
#: make librdkafka drop and re-fetch what it prefetched, and a consumer that keeps up trails a
#: fast fetch only for a few GIL switches.
BEHIND_AFTER_S = 0.05
#: The longest the listener holds its fetch for one buffer (it polls nothing meanwhile, so
#: rebalances wait): past the bound this long, the partition is paused instead.
MAX_HOLD_S = 0.25
#: A buffer pauses fetching at once past this many fetches (or bounds, if larger): memory.
HARD_BOUND_FACTOR = 3


class BufferBudget:
    """The process-wide bound on fetched message bytes not yet processed (``MAX_BUFFERED_BYTES``):
    buffered or in a batch in flight. Shared by every coordinator; 0 means no byte bound.
    Updated once per fetched run or batch, never per message."""

    def __init__(self, limit: int):
        self.limit = limit
        self.used = 0
        self._lock = threading.Lock()

    def add(self, size: int) -> None:
        if size:
            with self._lock:
                self.used += size

    def above(self, fraction: float) -> bool:
        return bool(self.limit) and self.used >= self.limit * fraction


class Coordinator:
    def __init__(self, topic: str, partition: int, route: Route, max_messages: int, backoff: Backoff,
                 budget: BufferBudget | None = None, predecessor: Coordinator | None = None):
        self.topic = topic
        self.partition = partition
        self.route = route
        self.max_messages = max_messages
        self.buffer_bound = max(10 * max_messages, MIN_BUFFER_BOUND)
        self.hard_bound = HARD_BOUND_FACTOR * max(self.buffer_bound, FETCH_BATCH)
        self.pause = Pause(backoff)
        self.budget = budget or BufferBudget(0)
        # The coordinator of an earlier assignment of this partition whose job outlived the
        # revocation wait: nothing starts here until it ended (one batch per partition at a time).
        self.predecessor = predecessor
        self.consumers: dict[int, Any] = {}  # slot -> BaseConsumer, built by the executor
        self.filters = [factory() for factory in route.filters]

        self._lock = threading.Lock()
        self._buffer: list = []
        self._buffered_bytes = 0  # of the buffer
        self._inflight_bytes = 0  # of the batch in flight (the budget counts both)
        self.busy = False  # a batch (or tick) of this partition is queued or running
        self.running = 0  # jobs a worker is executing right now
        self.running_since: float | None = None  # monotonic, while a job runs
        # When a batch (or tick) last ended, or work arrived while none was in flight.
        self.progressed_at = time.monotonic()
        self._ran = threading.Condition(self._lock)
        self._deferred_hook: str | None = None  # revoked/shutdown, for the last running job to call
        self._full = False  # fetching paused for a full buffer, until it drained to half
        self._over_bound_since: float | None = None  # monotonic, while the buffer is past its bound

        self.marked: int | None = None  # next offset to commit: last processed + 1
        self.db_offset: int | None = None  # offsets in the database: the stored next offset as this owner knows it
        self.stored: int | None = None  # last offset the listener handed to librdkafka
        self.seek_to: int | None = None  # a seek the listener must apply
        self._requested_seek: int | None = None  # asked for by the consumer during a job
        self.revoked = False  # taken away by a rebalance
        self.closing = False
        self.fetch_paused = False  # owned by the listener: is fetching paused in librdkafka
        self.isolate_until: int | None = None  # retry one by one up to this offset
        self.failed_offset: int | None = None  # the message that failed on its own last
        self.errors: list[BaseException] = []  # since the partition last recovered
        # The dependency its batches wait for (processing.dependencies), and since when (monotonic);
        # only the worker running the partition's job touches them.
        self.dependency: str | None = None
        self.dependency_since: float | None = None
        self.last_activity = time.monotonic()  # messages arrived or a job ran (for ticks)
        self.last_processed_at: float | None = None
        self.moved_at = time.monotonic()  # when the consumed offset last moved (or the partition was assigned)

    # -- listener side ---------------------------------------------------------------------------

    def add(self, raw: list) -> list[Job]:
        """Buffer freshly fetched messages; returns jobs when the partition was idle."""
        with self._lock:
            if self.revoked or self.seek_to is not None:
                return []  # fetched before a seek or revocation: the new position re-reads them
            self._buffer.extend(raw)
            size = sum(map(len, raw))
            self._buffered_bytes += size
            self.budget.add(size)
            self.last_activity = time.monotonic()
            if not self.busy:
                self.progressed_at = self.last_activity
            return self._take(self.last_activity)

    def refetch(self, offset: int, until: float | None) -> None:
        """A filter wants the partition read again from ``offset`` (after ``until``, monotonic)."""
        with self._lock:
            self.seek_to = offset
            if until is not None:
                self.pause.pause_fetch_until(until)

    def due_jobs(self, now: float) -> list[Job]:
        """Jobs that became possible: a backoff or pause ran out, or a periodic tick is due."""
        if self.busy:
            return []
        if self._buffer:
            with self._lock:
                return self._take(now)
        periodic = self.route.periodic_interval_ms
        if periodic and not self.closing and not self.revoked and now - self.last_activity >= periodic / 1000:
            with self._lock:
                if not self.busy and not self._buffer:
                    self._start()
                    return [Job(self, [], tick=True)]
        return []

    def wants_fetch_paused(self, now: float) -> bool:
        return (
            self.closing
            or self._buffer_full(now)
            or not self.pause.fetch_due(now)
        )

    def _buffer_full(self, now: float) -> bool:
        """Past the count bound with the consumer behind (or for ``MAX_HOLD_S``), past the hard
        bound, or past the process's byte budget; once full, full until drained to half of both
        (hysteresis: librdkafka drops its prefetched data on every pause)."""
        size = len(self._buffer)
        if size < self.buffer_bound:
            self._over_bound_since = None
        elif self._over_bound_since is None:
            self._over_bound_since = now
        if self._full:
            self._full = size > self.buffer_bound // 2 or self.budget.above(0.5)
        else:
            over = self._over_bound_since
            self._full = ((over is not None and (now - self.progressed_at >= BEHIND_AFTER_S or now - over >= MAX_HOLD_S))
                          or size >= self.hard_bound or self.budget.above(1.0))
        return self._full

    def holds_fetch(self) -> bool:
        """Past the bound while its consumer keeps ending batches (as :meth:`wants_fetch_paused`
        last judged): the listener waits for it rather than fetch more or pause the partition.
        A partition that takes no fetches anyway (closing, paused) holds nothing."""
        return (len(self._buffer) >= self.buffer_bound and not self._full
                and not self.closing and not self.fetch_paused)

    def wait_for_progress(self, timeout: float) -> None:
        """Until a job of this partition ends, at most ``timeout`` seconds."""
        with self._ran:
            self._ran.wait(timeout)

    def needs_ticks(self, now: float) -> bool:
        """True while something here changes with time, so the listener polls briefly."""
        return (
            self.fetch_paused
            or self.seek_to is not None
            or not self.pause.due(now)
            or bool(self.route.periodic_interval_ms)
            or (self.predecessor is not None and self.predecessor.running > 0)
        )

    def seek_applied(self) -> None:
        with self._lock:
            self.seek_to = None

    def revoke(self) -> None:
        """Taken away by a rebalance: no job starts any more (queued ones are abandoned)."""
        with self._lock:
            self.revoked = True
            self._drop_buffer()

    def wait_running(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` s) until no job of this partition is executing."""
        with self._ran:
            return self._ran.wait_for(lambda: self.running == 0, max(0.0, timeout))

    def begin(self) -> bool:
        """A worker is about to run a job of this partition: False if it was revoked meanwhile."""
        with self._lock:
            if self.revoked:
                return False
            if not self.running:
                self.running_since = time.monotonic()
            self.running += 1
            return True

    def end(self) -> str | None:
        """The worker's job is over; returns a hook it must now run (see :meth:`defer_hook`)."""
        with self._ran:
            self.running -= 1
            if not self.running:
                self.running_since = None
            self._ran.notify_all()
            if self.running or self._deferred_hook is None:
                return None
            hook, self._deferred_hook = self._deferred_hook, None
            return hook

    def defer_hook(self, hook: str) -> bool:
        """Have ``hook`` run by the worker whose job outlived the wait, after that job, so a
        hook never runs beside ``consume``. False when no job runs: the caller runs it now."""
        with self._lock:
            if not self.running:
                return False
            self._deferred_hook = hook
            return True

    def close(self) -> None:
        """Stop dispatching (shutdown or quiet mode); jobs in flight finish."""
        with self._lock:
            self.closing = True

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    @property
    def last_error(self) -> BaseException | None:
        return self.errors[-1] if self.errors else None

    # -- worker side -----------------------------------------------------------------------------

    def mark(self, offset: int) -> None:
        """Record ``offset`` as the next one to commit; marks only move forward."""
        if self.marked is None or offset > self.marked:
            self.marked = offset
            self.moved_at = time.monotonic()

    def stalled(self, now: float, timeout_s: float) -> str | None:
        """Why the partition is stuck, when its consumed offset has not moved for ``timeout_s``
        while it has work waiting; None otherwise. A pause until resumed (an operator's) is not
        stuck: it waits on purpose. A restart would not help: this is a flag, not unhealthiness."""
        if now - self.moved_at < timeout_s or self.pause.until_resumed or self.revoked:
            return None
        if self.errors:
            error = self.errors[-1]
            return f"failing: {type(error).__name__}: {error}"[:200]
        if self.busy:
            return "a batch running"
        if self._buffer:
            return "messages waiting"
        return None

    def mark_consumed(self, job: Job, offset: int) -> None:
        """The consumer running ``job`` marked ``offset``; a virtual part only advances its own share.

        With offsets in the database the mark counts only once the batch's transaction commits."""
        if self.route.offsets_in_database:
            job.marked = max(job.marked or 0, offset + 1)
            return
        if job.batch is None:
            self.mark(offset + 1)
            return
        with self._lock:
            job.batch.mark(job.part, offset)
            self.mark(job.batch.safe_offset())

    def request_seek(self, offset: int) -> None:
        self._requested_seek = offset

    def dead_letter_due(self, job: Job) -> bool:
        """Did this message fail on its own and run out of retries, so it goes to the DLQ now?"""
        dlq = self.route.dead_letter_queue
        return (
            dlq is not None
            and len(job.raw) == 1
            and job.raw[0].offset() == self.failed_offset
            and self.pause.attempt > dlq.max_retries
        )

    def complete(self, job: Job, mark_last: bool, dead_lettered: bool = False) -> list[Job]:
        """The job succeeded (or its message was dead-lettered): mark it, hand back the next jobs."""
        with self._lock:
            if job.tick:
                return self._finish()
            if job.batch is not None:
                if mark_last:
                    job.batch.mark_part_done(job.part)
                    self.mark(job.batch.safe_offset())
                job.batch.pending -= 1
                if job.batch.pending:
                    return []
                if job.batch.errors:
                    self._failed(job.batch.raw, job.batch.errors[-1], job.batch.blame)
                    return self._finish()
            elif mark_last:
                self.mark(job.raw[-1].offset() + 1)
            elif job.marked is not None:
                self.mark(job.marked)
            self.last_processed_at = time.time()
            last = job.batch.last_offset if job.batch is not None else job.raw[-1].offset()
            if self.isolate_until is not None and last >= self.isolate_until:
                self.isolate_until = None
            dlq = self.route.dead_letter_queue
            recovered = self.isolate_until is None or dead_lettered or (dlq is not None and dlq.independent)
            self.pause.succeeded(recovered)
            if recovered:
                self.errors.clear()
            if self._requested_seek is not None and not self.revoked:
                self.seek_to, self._requested_seek = self._requested_seek, None
                self._drop_buffer()
            return self._finish()

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
                self.errors = [*self.errors[-99:], error]
                self._finish()
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
            delay = self._failed(raw, error, blame, counted)
            self._finish()
            return delay

    def abandon(self, job: Job) -> None:
        """A queued job of a partition revoked before it ran."""
        with self._lock:
            if job.batch is not None:
                job.batch.pending -= 1
                if job.batch.pending:
                    return
            self._finish()

    # -- internal (called with the lock held) ------------------------------------------------------

    def _failed(self, raw: list, error: BaseException, blame: bool = True, counted: bool = True) -> float:
        delay = self.pause.fail(time.monotonic(), hold=not self.revoked, counted=counted)
        self.errors = [*self.errors[-99:], error]
        self._requested_seek = None
        if blame:
            last = raw[-1].offset()
            if len(raw) == 1:
                self.failed_offset = last
            self.isolate_until = last if self.isolate_until is None else max(self.isolate_until, last)
        if not self.revoked:
            marked = self.marked
            back = raw if marked is None else [m for m in raw if m.offset() >= marked]
            self._buffer[:0] = back
            size = sum(map(len, back))
            self._buffered_bytes += size
            self.budget.add(size)
        return delay

    def _bytes_of_first(self, count: int) -> int:
        """Bytes of the first ``count`` buffered messages: exact for the whole buffer (the usual
        batch), else its share of the buffer's bytes. Sizes are read once, when a run arrives;
        an estimate's error leaves the budget when the buffer next empties."""
        total = len(self._buffer)
        return self._buffered_bytes if count >= total else self._buffered_bytes * count // total

    def _drop_buffer(self) -> None:
        self.budget.add(-self._buffered_bytes)
        self._buffered_bytes = 0
        self._buffer.clear()

    def _finish(self) -> list[Job]:
        """The batch in flight is over: start the next one, or become idle."""
        self.budget.add(-self._inflight_bytes)
        self._inflight_bytes = 0
        self.busy = False
        self.last_activity = self.progressed_at = time.monotonic()
        return [] if self.revoked else self._take(self.last_activity)

    def _start(self) -> None:
        self.busy = True

    def _take(self, now: float) -> list[Job]:
        if (
            self.busy
            or not self._buffer
            or self.closing
            or self.revoked
            or self.seek_to is not None
            or not self.pause.due(now)
            or (self.predecessor is not None and self.predecessor.running > 0)
        ):
            return []
        size = self.max_messages
        if self.isolate_until is not None:
            if self._buffer[0].offset() <= self.isolate_until:
                size = 1
            else:
                self.isolate_until = None
        batch = self._buffer[:size]
        self._inflight_bytes = self._bytes_of_first(len(batch))
        self._buffered_bytes -= self._inflight_bytes
        del self._buffer[:size]
        self._start()
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

    def __repr__(self) -> str:
        return f"<Coordinator {self.topic}/{self.partition} busy={self.busy} buffered={len(self._buffer)} marked={self.marked}>"
