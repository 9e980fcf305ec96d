"""The jobs of one partition a worker is executing right now (the parts of a virtual batch run
at once), and the hook (``revoked``/``shutdown``) deferred to the last of them.

Not to be confused with the batch in flight (``Coordinator.busy``): a batch is in flight from
the moment it is taken from the buffer, queued or executing; a job is executing only between
``started`` and ``ended``, on a worker.

Locking: built on the coordinator's lock (its condition shares it); ``started`` is called with
that lock held, the other methods take it.
"""

from __future__ import annotations

import threading
import time


class Execution:
    def __init__(self, lock: threading.Lock):
        self.count = 0  # jobs executing
        self.since: float | None = None  # monotonic, while one executes
        self._ended = threading.Condition(lock)
        self._deferred_hook: str | None = None

    def started(self) -> None:
        if not self.count:
            self.since = time.monotonic()
        self.count += 1

    def ended(self) -> str | None:
        """A job is over; returns the hook its worker must now run (see :meth:`defer`)."""
        with self._ended:
            self.count -= 1
            if not self.count:
                self.since = None
            self._ended.notify_all()
            if self.count or self._deferred_hook is None:
                return None
            hook, self._deferred_hook = self._deferred_hook, None
            return hook

    def defer(self, hook: str) -> bool:
        """Have ``hook`` run by the worker whose job outlived the wait, after that job, so a
        hook never runs beside ``consume``. False when no job executes: the caller runs it now."""
        with self._ended:
            if not self.count:
                return False
            self._deferred_hook = hook
            return True

    def wait_idle(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` s) until no job executes."""
        with self._ended:
            return self._ended.wait_for(lambda: self.count == 0, max(0.0, timeout))

    def wait_for_an_end(self, timeout: float) -> None:
        """Until a job ends, at most ``timeout`` seconds."""
        with self._ended:
            self._ended.wait(timeout)
