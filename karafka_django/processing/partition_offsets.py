"""Where a partition stands: the offset to commit, what the listener stored, a seek to apply.

Locking: ``mark`` is called by the worker running the partition's job (under the coordinator's
lock for virtual parts); ``stored`` and ``seek_to`` are the listener's, the only thread that
talks to the client. Offsets only move forward through ``mark``.
"""

from __future__ import annotations

import time


class PartitionOffsets:
    def __init__(self) -> None:
        self.marked: int | None = None  # next offset to commit: last processed + 1
        self.db_offset: int | None = None  # offsets in the database: the stored next offset as this owner knows it
        self.stored: int | None = None  # last offset the listener handed to librdkafka
        self.seek_to: int | None = None  # a seek the listener must apply
        self.unknown = False  # kept in a database that could not be read at assignment: no batch yet
        self.requested_seek: int | None = None  # asked for by the consumer during a job
        self.moved_at = time.monotonic()  # when the consumed offset last moved (or the partition was assigned)
        self.last_processed_at: float | None = None  # wall clock, for the reports
        #: The end asked of the broker while fetching is paused (the listener's; statistics go stale then)
        self.paused_high_watermark: int | None = None
        #: Kafka transactions commit this partition's offsets (a transactional route, or a consumer's
        #: ``transaction()`` block): the listener never commits them itself, since an earlier mark
        #: committed after a transaction's would move the group back over results already sent.
        self.by_transactions = False

    def hand_over(self) -> int | None:
        """The mark not yet handed to librdkafka, recorded as handed now; None when there is none."""
        if self.marked == self.stored:
            return None
        self.stored = self.marked
        return self.marked

    def mark(self, offset: int) -> None:
        """Record ``offset`` as the next one to commit; marks only move forward."""
        if self.marked is None or offset > self.marked:
            self.marked = offset
            self.moved_at = time.monotonic()
