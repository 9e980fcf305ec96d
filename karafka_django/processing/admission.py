"""How many of the pool's workers run a job at once: all of them while jobs mostly wait (a
database, an HTTP call), fewer while jobs compute.

The interpreter runs one thread's Python at a time (the GIL): CPU-bound batches on five workers
take turns, and each turn costs a switch, so they finish later than on one or two. The gate
watches the CPU time the running jobs use per second of wall time. Near a whole core, the
interpreter is saturated and one worker fewer may run; well below it while workers wait at the
gate, one more may. Jobs that mostly wait thus keep every worker (``CONCURRENCY`` stays the cap),
and jobs that compute settle at the one or two that the interpreter can run.

Locking: its own lock; workers call ``enter`` before a job and ``leave`` after it.
"""

from __future__ import annotations

import threading
import time

#: How often the limit is reconsidered (seconds of wall time, judged when a job ends): a
#: computing workload settles within a second; a window still sees a few batches end.
WINDOW_S = 0.25
#: Worker CPU per wall second above which the interpreter is saturated: one worker fewer.
SATURATED = 0.85
#: Below it, with workers waiting at the gate: one worker more.
ROOMY = 0.6


class AdmissionGate:
    def __init__(self, concurrency: int):
        self.concurrency = concurrency
        self.limit = concurrency
        self._running = 0
        self._waiting = 0
        self._waited = False  # a worker waited during this window
        self._window_started = time.monotonic()
        self._window_cpu_s = 0.0
        self._changed = threading.Condition()

    def enter(self) -> None:
        """Wait until one more job may run."""
        with self._changed:
            if self._running >= self.limit:
                self._waiting += 1
                self._waited = True
                while self._running >= self.limit:
                    self._changed.wait()
                self._waiting -= 1
            self._running += 1

    def leave(self, cpu_s: float) -> None:
        """A job ended, having used ``cpu_s`` of its thread's CPU time."""
        with self._changed:
            self._running -= 1
            self._window_cpu_s += cpu_s
            now = time.monotonic()
            if now - self._window_started >= WINDOW_S:
                self._reconsider(self._window_cpu_s / (now - self._window_started))
                self._window_started, self._window_cpu_s, self._waited = now, 0.0, self._waiting > 0
            self._changed.notify_all()

    def _reconsider(self, cpu_per_s: float) -> None:
        if cpu_per_s >= SATURATED and self.limit > 1:
            self.limit -= 1
        elif cpu_per_s < ROOMY and self._waited and self.limit < self.concurrency:
            self.limit += 1
