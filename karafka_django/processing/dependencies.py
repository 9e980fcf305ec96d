"""A dependency that is down is a state of the process, not a failure of the message.

When a batch fails because the database cannot be reached (Django's ``OperationalError`` or
``InterfaceError`` while a probe of the route's database fails too), because its Kafka
transaction was refused (``TransactionFailed``: the transaction coordinator away, a fenced
producer), or with an exception class the project declared transient (``TRANSIENT_ERRORS``, a
route's ``transient_errors``: a service's connection error), the partition retries with the
usual backoff up to ``PAUSE_MAX_TIMEOUT_MS``, but the failure does not count toward
``max_retries``: nothing is dead-lettered or skipped because a dependency was away. The log says
when the dependency went away and when it came back (with the retries in between counted), not a
traceback per attempt.

A partition that keeps failing with a transient error for longer than
``TRANSIENT_ERROR_TIMEOUT_MS`` is failing on its own (a message that always times out): from then
on its failures are ordinary ones, so it is retried, isolated and dead-lettered as usual.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import InterfaceError, OperationalError, connections

from ..errors import TransactionFailed
from ..instrumentation import Monitor

if TYPE_CHECKING:
    from .coordinator import Coordinator

DATABASE = "database"
KAFKA_TRANSACTIONS = "kafka transactions"


def causes(error: BaseException) -> Iterator[BaseException]:
    """The error and what it was raised from or during (a wrapper's cause counts too)."""
    seen: set[int] = set()
    found: BaseException | None = error
    while found is not None and id(found) not in seen:
        seen.add(id(found))
        yield found
        found = found.__cause__ or found.__context__


def database_reachable(alias: str) -> bool:
    """Can this thread reach the database now? Uses (and, when broken, replaces) the thread's
    own connection, so a probe never adds a connection to the process's bound."""
    connection = connections[alias]
    try:
        connection.close_if_unusable_or_obsolete()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:  # noqa: BLE001 - any failure to reach it is the answer
        connection.close()
        return False


def database_unavailable(error: BaseException, aliases: list[str]) -> bool:
    """Is ``error`` a database error raised because one of ``aliases`` cannot be reached now?"""
    return (any(isinstance(cause, (OperationalError, InterfaceError)) for cause in causes(error))
            and not all(database_reachable(alias) for alias in aliases))


@dataclass
class Outage:
    since: float  # monotonic
    error: str
    retries: int = 0


class Dependencies:
    """The process's view of its dependencies: which are unavailable, since when, how many retries."""

    def __init__(self, monitor: Monitor, timeout_ms: int):
        self.monitor = monitor
        self.timeout_s = timeout_ms / 1000
        self._outages: dict[str, Outage] = {}
        self._lock = threading.Lock()

    def unavailable(self, error: BaseException, coordinator: Coordinator) -> str | None:
        """The dependency ``error`` says is unavailable, or None when it is the message's own failure
        (including a transient error that has lasted past the bound for this partition)."""
        waiting_since = coordinator.retry.dependency_since
        if waiting_since is not None and time.monotonic() - waiting_since > self.timeout_s:
            return None
        declared = coordinator.route.transient_errors  # KARAFKA['TRANSIENT_ERRORS'] and the route's own
        chain = list(causes(error))
        for cause in chain:
            if declared and isinstance(cause, declared):
                return type(cause).__name__
            if isinstance(cause, TransactionFailed):
                return KAFKA_TRANSACTIONS
        return DATABASE if database_unavailable(error, [coordinator.route.database]) else None

    def failed(self, name: str, error: BaseException) -> None:
        with self._lock:
            outage = self._outages.get(name)
            if outage is not None:
                outage.retries += 1
                return
            text = " ".join(f"{type(error).__name__}: {error}".split())  # one line: libpq's messages have several
            self._outages[name] = Outage(time.monotonic(), text[:300])
        self.monitor.instrument("dependency.state_changed", dependency=name, state="unavailable",
                                error=self._outages[name].error)

    def recovered(self, name: str) -> None:
        with self._lock:
            outage = self._outages.pop(name, None)
        if outage is not None:
            self.monitor.instrument("dependency.state_changed", dependency=name, state="available",
                                    unavailable_s=round(time.monotonic() - outage.since, 1), retries=outage.retries)

    def snapshot(self, now: float) -> tuple[dict, ...]:
        with self._lock:
            return tuple({"dependency": name, "since_s": round(now - o.since, 1), "retries": o.retries, "error": o.error}
                         for name, o in sorted(self._outages.items()))
