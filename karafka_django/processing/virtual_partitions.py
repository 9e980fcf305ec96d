"""Virtual partitions: one Kafka partition's batch split into parallel, per-key ordered parts.

A batch is split by the route's partitioner into up to ``max_partitions`` virtual batches that
different workers run at once; each keeps offset order within itself, and a key always lands
in the same virtual partition, so per-key order holds across batches too (batches of one
partition still run one after another).

The virtual offset manager keeps the commit honest: the partition's mark only advances to the
highest offset below which every message of every virtual batch is done, so a crash never
skips a message that a slower virtual batch had not finished.
"""

from __future__ import annotations

import zlib
from bisect import bisect_right
from collections.abc import Callable
from typing import Any

from ..messages import message_class


def slot_of(value: Any, slots: int) -> int:
    """An int partitions by itself; anything else by a stable hash (not ``hash()``: it varies by process)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value % slots
    data = value if isinstance(value, bytes) else str(value).encode()
    return zlib.crc32(data) % slots


class VirtualBatch:
    """The shared state of one split batch: the parts in flight and what of them is done."""

    def __init__(self, raw: list, parts: list[list]):
        self.raw = raw
        self.last_offset = raw[-1].offset()
        self.offsets = [[m.offset() for m in part] for part in parts]
        self.done = [0] * len(parts)  # per part: how many of its messages are done
        self.pending = len(parts)
        self.errors: list[BaseException] = []
        self.blame = False  # did a part fail in the consumer (not only while setting it up)

    def mark(self, part: int, offset: int) -> None:
        """Everything of ``part`` up to ``offset`` is done."""
        self.done[part] = max(self.done[part], bisect_right(self.offsets[part], offset))

    def mark_part_done(self, part: int) -> None:
        self.done[part] = len(self.offsets[part])

    def safe_offset(self) -> int:
        """The offset to commit: the lowest not-done offset of any part (all below it are done)."""
        unfinished = [offsets[done] for offsets, done in zip(self.offsets, self.done) if done < len(offsets)]
        return min(unfinished) if unfinished else self.last_offset + 1


def split(raw: list, deserializer: Callable, partitioner: Callable, max_partitions: int) -> dict[int, list]:
    """Split ``raw`` (in offset order) into non-empty parts by slot, each in offset order."""
    wrap = message_class(deserializer)
    parts: dict[int, list] = {}
    for message in raw:
        parts.setdefault(slot_of(partitioner(wrap(message)), max_partitions), []).append(message)
    return dict(sorted(parts.items()))
