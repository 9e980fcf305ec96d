"""Where newly assigned partitions start when their route keeps offsets in the database: the end
of their last committed batch, read on the listener thread (with a worker's DB hygiene).

When the database cannot be reached at assignment (a rebalance during an outage), those
partitions wait: their offsets are *unknown*, so they take no batch and fetch nothing; the
listener asks again every backoff and, once the database answers, seeks them to their stored
offset. The outage is the process's ``database unavailable`` state, not a crashed listener.
"""

from __future__ import annotations

from collections.abc import Callable

from ..routing.route import Route
from . import db
from .coordinator import Coordinator
from .dependencies import DATABASE, Dependencies, database_unavailable
from .offset_storage import load

Key = tuple[str, int]


def _read(route_for: Callable[[str], Route], keys: list[Key]) -> dict[Key, int]:
    by_topic: dict[str, list[int]] = {}
    for topic, partition in keys:
        by_topic.setdefault(topic, []).append(partition)
    db.before_job()
    try:
        return {(topic, partition): offset for topic, partitions in by_topic.items()
                for partition, offset in load(route_for(topic), topic, partitions).items()}
    finally:
        db.after_job()


class AssignedOffsets:
    def __init__(self, route_for: Callable[[str], Route], dependencies: Dependencies, retry_s: float):
        self.route_for = route_for
        self.dependencies = dependencies
        self.retry_s = retry_s
        self.unknown: set[Key] = set()  # assigned while the database could not say where they start
        self._retry_at = 0.0

    def stored(self, keys: list[Key], now: float) -> dict[Key, int]:
        """The stored offsets of ``keys`` whose route keeps them in the database; the keys that
        could not be read (the database is down) become unknown."""
        wanted = [key for key in keys if self.route_for(key[0]).offsets_in_database]
        if not wanted:
            return {}
        try:
            return _read(self.route_for, wanted)
        except Exception as exc:
            if not database_unavailable(exc, sorted({self.route_for(topic).database for topic, _ in wanted})):
                raise
            self.dependencies.failed(DATABASE, exc)
            self.unknown |= set(wanted)
            self._retry_at = now + self.retry_s
            return {}

    def retry(self, coordinators: dict[Key, Coordinator], now: float) -> None:
        """Once per backoff while some are unknown: read them again and, if the database
        answers, have the listener seek each to its stored offset (or let it start where Kafka
        says, when nothing is stored yet)."""
        self.unknown &= set(coordinators)  # revoked meanwhile: not ours to start any more
        if not self.unknown or now < self._retry_at:
            return
        keys, self.unknown = sorted(self.unknown), set()
        found = self.stored(keys, now)
        if self.unknown:
            return
        self.dependencies.recovered(DATABASE)
        for key in keys:
            coordinators[key].start_at(found.get(key))
