"""A partition's pause tracker (Karafka's ``TimeTrackers::Pause``): when it may run jobs and fetch.

Three holds, each with its own deadline (monotonic seconds), all dropped with the coordinator
when the partition is re-assigned:

- the **retry backoff** after a failed batch, growing with the attempt count;
- the **consumer's pause** (``BaseConsumer.pause``) or an operator's from the admin, which
  lasts until resumed;
- a filter's **fetch pause**: jobs go on with what is buffered, fetching waits.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..conf import KarafkaConfig

FOREVER = float("inf")


@dataclass(frozen=True)
class Backoff:
    """Pause before retrying a failed batch: ``timeout * 2**(attempt-1)``, capped."""

    timeout_ms: int
    max_timeout_ms: int
    exponential: bool = True

    @classmethod
    def from_config(cls, config: KarafkaConfig) -> Backoff:
        return cls(config.pause_timeout_ms, config.pause_max_timeout_ms, config.pause_with_exponential_backoff)

    def seconds(self, attempt: int) -> float:
        millis = self.timeout_ms * (2 ** (attempt - 1) if self.exponential else 1)
        return min(millis, self.max_timeout_ms) / 1000


class Pause:
    def __init__(self, backoff: Backoff):
        self.backoff = backoff
        self.attempt = 0  # failures of the batch being retried
        self.waits = 0  # retries while a dependency was unavailable: they lengthen the backoff, count toward nothing
        self._retry_at = 0.0
        self._until = 0.0
        self._fetch_until = 0.0
        self._held_since: float | None = None  # when jobs stopped being due (for the admin's flags)

    def _hold(self, now: float) -> None:
        if self._held_since is None or self.due(now):
            self._held_since = now

    # -- the retry backoff -----------------------------------------------------------------------

    def fail(self, now: float, hold: bool = True, counted: bool = True) -> float:
        """A batch failed: count the attempt (unless a dependency was unavailable: ``counted``
        False) and (with ``hold``) hold jobs for the backoff, which is returned in seconds."""
        if counted:
            self.attempt += 1
        else:
            self.waits += 1
        delay = self.backoff.seconds(self.attempt + self.waits)
        if hold:
            self._hold(now)
            self._retry_at = now + delay
        return delay

    def next_delay(self) -> float:
        """The backoff the next failure will get (a virtual part's, before its batch settled)."""
        return self.backoff.seconds(self.attempt + 1)

    def succeeded(self, recovered: bool) -> None:
        """A batch succeeded: no retry is pending; ``recovered`` starts the attempt count over."""
        self._retry_at = 0.0
        self.waits = 0
        if recovered:
            self.attempt = 0

    # -- the consumer's (or an operator's) pause --------------------------------------------------

    def pause_until(self, until: float) -> None:
        """Hold jobs until ``until`` (monotonic; :data:`FOREVER` until :meth:`resume`)."""
        self._hold(time.monotonic())
        self._until = until

    def resume(self) -> None:
        self._until = 0.0

    @property
    def until_resumed(self) -> bool:
        """Paused with no end: an operator's pause from the admin."""
        return self._until == FOREVER

    # -- a filter's fetch pause ------------------------------------------------------------------

    def pause_fetch_until(self, until: float) -> None:
        self._fetch_until = max(self._fetch_until, until)

    # -- reading ---------------------------------------------------------------------------------

    def due(self, now: float) -> bool:
        """May a job start now (no backoff and no pause holds it)?"""
        return now >= self._retry_at and now >= self._until

    def fetch_due(self, now: float) -> bool:
        """May the partition be fetched now?"""
        return self.due(now) and now >= self._fetch_until

    def held_for(self, now: float) -> float | None:
        """How long jobs have been held by a backoff or a pause; None while they are due."""
        if self._held_since is None or self.due(now):
            return None
        return now - self._held_since

    @property
    def ends_at(self) -> float:
        """When jobs are due again (monotonic): the later of the backoff and the pause."""
        return max(self._retry_at, self._until)
