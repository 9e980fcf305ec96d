"""A partition's fetched messages not yet in a batch, and the backpressure on its fetching.

Locking: a :class:`PartitionBuffer` has no lock of its own; its coordinator's lock guards every
call that changes it. The listener reads its length without the lock: a stale answer costs one
poll, never a message.
"""

from __future__ import annotations

import threading
import time

#: Messages taken from librdkafka in one call, at most (it hands over what it holds): large, so
#: that the listener's work per call is small next to the messages'. Batches handed to
#: consumers are MAX_MESSAGES.
FETCH_BATCH = 10_000
#: With MAX_MESSAGES unset, a batch is what its partition has buffered, up to this many messages
#: and (by the buffered messages' average size) this many payload bytes: large while a backlog
#: drains (a transaction, a hand-over and a consume() call per 1000 messages instead of per 100),
#: small once the partition is caught up (what arrived: the latency of a lone message is the same).
AUTO_BATCH_MESSAGES = 1000
AUTO_BATCH_BYTES = 1 << 20
#: Smallest per-partition buffer before fetching of that partition is paused.
MIN_BUFFER_BOUND = 2000
#: A buffer past its bound pauses fetching only once its consumer is behind: no batch of the
#: partition ended for this long (or since work came to it while idle). While the consumer
#: keeps ending batches, the listener waits for it instead (see ``holds``): a pause would make
#: librdkafka drop and re-fetch what it prefetched, and a consumer that keeps up trails a fast
#: fetch only for a few GIL switches.
BEHIND_AFTER_S = 0.05
#: The longest the listener holds its fetch for one buffer (it polls nothing meanwhile, so
#: rebalances wait): past the bound this long, the partition is paused instead.
MAX_HOLD_S = 0.25
#: A buffer pauses fetching at once past this many fetches (or bounds, if larger): memory.
HARD_BOUND_FACTOR = 3


class BufferBudget:
    """The process-wide bound on fetched message bytes not yet processed (``MAX_BUFFERED_BYTES``):
    buffered or in a batch in flight. Shared by every coordinator; 0 means no byte bound.
    Updated once per fetched run or batch, never per message. Its own lock: partitions share it."""

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


class PartitionBuffer:
    def __init__(self, max_messages: int | None, budget: BufferBudget):
        self.messages: list = []
        #: A batch's size: MAX_MESSAGES when set, else the backlog's, up to AUTO_BATCH_* (see take)
        self.batch_messages = max_messages or AUTO_BATCH_MESSAGES
        self._batch_bytes = None if max_messages else AUTO_BATCH_BYTES
        self.bound = max(10 * self.batch_messages, MIN_BUFFER_BOUND)
        self.hard_bound = HARD_BOUND_FACTOR * max(self.bound, FETCH_BATCH)
        self.budget = budget
        self._bytes = 0  # of the buffered messages
        self._inflight_bytes = 0  # of the batch in flight (the budget counts both)
        # When a batch last ended, or work arrived while none was in flight: is the consumer behind?
        self.progressed_at = time.monotonic()
        self._full = False  # fetching paused for a full buffer, until it drained to half
        self._over_bound_since: float | None = None  # monotonic, while past the bound

    def __len__(self) -> int:
        return len(self.messages)

    def extend(self, raw: list) -> None:
        """Freshly fetched messages, behind the others. Their sizes are read once, here."""
        self.messages.extend(raw)
        self._count_in(raw)

    def put_back(self, raw: list) -> None:
        """Messages of a failed batch, in front again."""
        self.messages[:0] = raw
        self._count_in(raw)

    def take(self, count: int) -> list:
        """The first ``count`` messages, now the batch in flight; with MAX_MESSAGES unset, fewer
        when they would hold more than AUTO_BATCH_BYTES of payloads (by their average size), one
        at least."""
        if self._batch_bytes is not None and self._bytes > self._batch_bytes:
            count = min(count, max(1, self._batch_bytes * len(self.messages) // self._bytes))
        batch = self.messages[:count]
        total = len(self.messages)
        # Exact for the whole buffer (the usual batch), else its share of the bytes; an
        # estimate's error leaves the budget when the buffer next empties.
        self._inflight_bytes = self._bytes if len(batch) >= total else self._bytes * len(batch) // total
        self._bytes -= self._inflight_bytes
        del self.messages[:count]
        return batch

    def batch_ended(self, now: float) -> None:
        self.budget.add(-self._inflight_bytes)
        self._inflight_bytes = 0
        self.progressed_at = now

    def drop(self) -> None:
        """Forget what is buffered (a seek or a revocation re-reads it)."""
        self.budget.add(-self._bytes)
        self._bytes = 0
        self.messages.clear()

    def judge_full(self, now: float) -> bool:
        """Judge, and remember, whether fetching must pause: past the bound with the consumer
        behind (or for ``MAX_HOLD_S``), past the hard bound, or past the process's byte budget;
        once full, full until drained to half of both (hysteresis: librdkafka drops its
        prefetched data on every pause)."""
        size = len(self.messages)
        if size < self.bound:
            self._over_bound_since = None
        elif self._over_bound_since is None:
            self._over_bound_since = now
        if self._full:
            self._full = size > self.bound // 2 or self.budget.above(0.5)
        else:
            over = self._over_bound_since
            self._full = ((over is not None and (now - self.progressed_at >= BEHIND_AFTER_S or now - over >= MAX_HOLD_S))
                          or size >= self.hard_bound or self.budget.above(1.0))
        return self._full

    def holds(self) -> bool:
        """Past the bound but not (last judged) full: its consumer keeps ending batches."""
        return len(self.messages) >= self.bound and not self._full

    def _count_in(self, raw: list) -> None:
        size = sum(map(len, raw))
        self._bytes += size
        self.budget.add(size)
