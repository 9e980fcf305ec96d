"""The filtering API: decide, on the listener thread, what of a fetched batch is processed.

A route lists filters (``"filters": ["myapp.filters.SkipTestTraffic", {"class": ..., **kwargs}]``).
Each assigned partition gets its own instances, so a filter may keep per-partition state. For
every fetched run of messages of its partition, in offset order, a filter returns a
:class:`FilterResult`:

- ``messages``: what to pass on. Messages left out (and before ``refetch_from``) are *skipped*:
  marked as consumed, so they are never read again, and counted in ``filtering.skipped`` events.
- ``refetch_from``: read the partition again from this offset (what was fetched from there on
  is dropped, not skipped); with ``pause_until`` (a ``time.time()`` value) fetching waits until then.

Filters run before any job is scheduled, on the listener thread, with the same database
connection hygiene as workers: a filter may use the ORM, and that connection is the one per
subscription group in the ``CONCURRENCY + subscription groups`` bound.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from .messages import Message


@dataclass
class FilterResult:
    messages: list[Message]
    refetch_from: int | None = None
    pause_until: float | None = None


class BaseFilter:
    def apply(self, messages: list[Message]) -> FilterResult:
        raise NotImplementedError


@dataclass
class Throttler(BaseFilter):
    """At most ``limit`` messages per ``interval_ms`` for this partition; then fetching pauses."""

    limit: int
    interval_ms: int = 1000
    _window_start: float = field(default=0.0, init=False)
    _count: int = field(default=0, init=False)

    def apply(self, messages: list[Message]) -> FilterResult:
        now, interval = time.time(), self.interval_ms / 1000
        if now - self._window_start >= interval:
            # Windows stay on one grid, so the time a re-fetch takes is not added to every window.
            elapsed_windows = (now - self._window_start) // interval if self._window_start else 0
            self._window_start = self._window_start + elapsed_windows * interval if self._window_start else now
            self._count = 0
        allowed = max(0, self.limit - self._count)
        self._count += min(allowed, len(messages))
        if allowed >= len(messages):
            return FilterResult(messages)
        return FilterResult(messages[:allowed], refetch_from=messages[allowed].offset,
                            pause_until=self._window_start + self.interval_ms / 1000)


@dataclass
class Delayer(BaseFilter):
    """Process a message only once it is ``delay_ms`` old; younger ones wait (fetching pauses)."""

    delay_ms: int

    def apply(self, messages: list[Message]) -> FilterResult:
        horizon = time.time() - self.delay_ms / 1000
        for index, message in enumerate(messages):
            created = message.timestamp
            if created is not None and created.timestamp() > horizon:
                return FilterResult(messages[:index], refetch_from=message.offset,
                                    pause_until=created.timestamp() + self.delay_ms / 1000)
        return FilterResult(messages)


@dataclass
class Expirer(BaseFilter):
    """Skip messages older than ``ttl_ms`` (they are marked consumed and counted)."""

    ttl_ms: int

    def apply(self, messages: list[Message]) -> FilterResult:
        horizon = time.time() - self.ttl_ms / 1000
        return FilterResult([m for m in messages if m.timestamp is None or m.timestamp.timestamp() >= horizon])


__all__ = ["BaseFilter", "Delayer", "Expirer", "FilterResult", "Throttler"]
