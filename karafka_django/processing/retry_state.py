"""What a partition remembers after a batch failed, until it recovers.

After a batch fails the partition is *isolating*: up to the failed batch's last offset it is
retried one message at a time, so the messages that work are processed (once) and the one that
fails is found, retried with backoff and, past the route's ``max_retries``, dead-lettered. A
dependency that is down (``processing.dependencies``) is waited for without counting attempts.

Locking: the coordinator's lock guards the isolation and the errors; ``dependency`` and
``dependency_since`` are touched only by the worker running the partition's job.
"""

from __future__ import annotations

from ..routing.route import DeadLetterQueue

#: Errors kept per partition (the newest): enough for the admin, bounded for a poison loop.
KEPT_ERRORS = 100


class RetryState:
    def __init__(self) -> None:
        self.isolate_until: int | None = None  # retry one by one up to this offset
        self.failed_offset: int | None = None  # the message that failed on its own last
        self.errors: list[BaseException] = []  # since the partition last recovered
        self.dependency: str | None = None  # the dependency its batches wait for
        self.dependency_since: float | None = None  # monotonic

    @property
    def last_error(self) -> BaseException | None:
        return self.errors[-1] if self.errors else None

    def record(self, error: BaseException) -> None:
        self.errors = [*self.errors[-(KEPT_ERRORS - 1):], error]

    def blame(self, raw: list) -> None:
        """``raw`` failed as a batch: isolate up to its last message (a lone message is *the* one)."""
        last = raw[-1].offset()
        if len(raw) == 1:
            self.failed_offset = last
        self.isolate_until = last if self.isolate_until is None else max(self.isolate_until, last)

    def batch_size(self, first_offset: int, max_messages: int) -> int:
        """One message while isolating up to the failed batch's end, else ``max_messages``."""
        if self.isolate_until is not None:
            if first_offset <= self.isolate_until:
                return 1
            self.isolate_until = None
        return max_messages

    def passed(self, last_offset: int) -> None:
        """A batch ending at ``last_offset`` succeeded: isolation over once past the failed batch."""
        if self.isolate_until is not None and last_offset >= self.isolate_until:
            self.isolate_until = None

    def recovered(self, dead_lettered: bool, dlq: DeadLetterQueue | None) -> bool:
        """Is the partition well again: not isolating any more, its failing message dead-lettered,
        or an independent DLQ (each message's attempts count alone)? Forgets the errors if so."""
        well = self.isolate_until is None or dead_lettered or (dlq is not None and dlq.independent)
        if well:
            self.errors.clear()
        return well

    def dead_letter_due(self, raw: list, attempt: int, dlq: DeadLetterQueue | None) -> bool:
        """Did this lone message fail on its own and run out of retries, so it goes to the DLQ now?"""
        return dlq is not None and len(raw) == 1 and raw[0].offset() == self.failed_offset and attempt > dlq.max_retries
