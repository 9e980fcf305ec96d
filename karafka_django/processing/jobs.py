"""What a worker runs: a batch of one partition, one virtual part of it, or a periodic tick."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from .virtual_partitions import VirtualBatch

if TYPE_CHECKING:
    from .coordinator import Coordinator


class SkipMarker:
    """Stands in the buffer for filtered-out messages at the end of a run: marking it commits past them."""

    __slots__ = ("_offset",)

    def __init__(self, offset: int):
        self._offset = offset

    def offset(self) -> int:
        return self._offset

    def __len__(self) -> int:
        return 0


class Job:
    """Work for a worker: a batch (or one virtual part of it), or a periodic tick (``raw`` empty)."""

    __slots__ = ("coordinator", "raw", "slot", "part", "batch", "tick", "error", "marked", "marks_void")

    def __init__(self, coordinator: Coordinator, raw: list, slot: int = 0, part: int = 0,
                 batch: VirtualBatch | None = None, tick: bool = False, error: Exception | None = None):
        self.coordinator = coordinator
        self.raw = raw
        self.slot = slot  # which consumer instance of the partition runs it
        self.part = part
        self.batch = batch
        self.tick = tick
        self.error = error  # the batch failed before a consumer saw it (a raising partitioner)
        self.marked: int | None = None  # offsets in the database: a mark waits for the transaction
        self.marks_void = False  # the consumer saw its partition revoked: it may have stopped short

    @property
    def messages(self) -> list:
        """The messages the consumer sees (skip markers left out)."""
        return [m for m in self.raw if type(m) is not SkipMarker]


class ServiceJob:
    """Work of the server itself on the worker pool (the outbox relay): it runs under the same
    database connection bound as consumers' jobs."""

    __slots__ = ("name", "call", "done")

    def __init__(self, name: str, call: Callable[[], object]):
        self.name = name
        self.call = call
        self.done = threading.Event()
