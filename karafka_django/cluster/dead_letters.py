"""Dead letters after the bug is fixed: list a DLQ topic and replay its messages to the topics
they came from (Karafka Web's "republish").

A replay re-produces key, payload and the message's own headers (the DLQ's bookkeeping headers
taken off) to the original topic, with a ``replayed_from`` header (DLQ topic/partition/offset).
Replays read the DLQ from where the last one stopped: the consumer group
``<CLIENT_ID>-dlq-replay`` holds that position, so running a replay twice replays nothing the
second time. Messages a selection passed over stay behind the position; move it back with
``karafka_groups seek`` to look at them again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from ..conf import KarafkaConfig
from ..processing.dead_letter_queue import DLQ_HEADERS, PAYLOAD_DROPPED_HEADER
from ..producing.producer import producer
from .groups import Groups, OffsetChange
from .reader import Read, TopicReader

REPLAYED_FROM_HEADER = "replayed_from"


@dataclass(frozen=True)
class DeadLetter:
    read: Read  # the message as it is in the DLQ

    def _header(self, name: str) -> str | None:
        return self.read.headers.get(name)

    @property
    def original(self) -> tuple[str, int, int] | None:
        """(topic, partition, offset) it was consumed from; None for a message without DLQ headers."""
        topic, partition, offset = (self._header(f"original_{n}") for n in ("topic", "partition", "offset"))
        if topic is None or partition is None or offset is None:
            return None
        return topic, int(partition), int(offset)

    @property
    def error_class(self) -> str:
        return self._header("error_class") or ""

    @property
    def error_message(self) -> str:
        return self._header("error_message") or ""

    @property
    def address(self) -> str:
        return f"{self.read.topic}/{self.read.partition}/{self.read.offset}"


def replay_group(config: KarafkaConfig) -> str:
    return f"{config.client_id}-dlq-replay"


class DeadLetters:
    def __init__(self, config: KarafkaConfig, reader: TopicReader, topic: str):
        self.reader, self.config, self.topic = reader, config, topic

    def read(self, starts: dict[int, int] | None = None) -> list[DeadLetter]:
        """The DLQ's messages (from ``starts`` per partition, else all), oldest first per partition."""
        partitions = self.reader.partitions(self.topic)
        if not partitions:
            raise ValueError(f"topic '{self.topic}' does not exist")
        ranges = {p: ((starts or {}).get(p, 0), None) for p in partitions}
        return [DeadLetter(read) for read in self.reader.read(self.topic, ranges)]

    def page(self, number: int, per_page: int) -> tuple[list[DeadLetter], int]:
        """Newest first: page ``number`` (from 1) and how many messages there are."""
        letters = sorted(self.read(), key=lambda d: (d.read.timestamp or datetime.min, d.read.offset), reverse=True)
        return letters[(number - 1) * per_page:number * per_page], len(letters)

    def find(self, partition: int, offset: int) -> DeadLetter | None:
        found = self.reader.read(self.topic, {partition: (offset, offset + 1)})
        return DeadLetter(found[0]) if found and found[0].offset == offset else None

    def republish(self, letter: DeadLetter) -> None:
        """Produce ``letter`` to the topic it came from (synchronously: raises when not acknowledged)."""
        original = letter.original
        if original is None:
            raise ValueError(f"{letter.address} has no original_topic header: it was not dead-lettered by karafka_django")
        if any(key == PAYLOAD_DROPPED_HEADER for key, _ in letter.read.raw_headers):
            raise ValueError(f"{letter.address} was dead-lettered without its payload (too large): replay it from "
                             f"{original[0]}/{original[1]} at offset {original[2]} (karafka_groups seek)")
        headers = [(k, v) for k, v in letter.read.raw_headers if k not in DLQ_HEADERS and k != REPLAYED_FROM_HEADER]
        headers.append((REPLAYED_FROM_HEADER, letter.address.encode()))
        producer.produce_sync(original[0], letter.read.value, key=letter.read.raw_key, headers=headers)

    def replay(self, originals: Iterable[tuple[str, int, int]] = (), since: datetime | None = None,
               limit: int | None = None, dry_run: bool = False) -> list[DeadLetter]:
        """Replay from the replay group's position: every message, or those whose original
        (topic, partition, offset) is in ``originals``, or stamped at or after ``since``; at most
        ``limit``, in offset order per partition. The position moves past every message read
        (to the last replayed one when the limit stopped it). Returns the replayed (with
        ``dry_run``, the ones it would replay)."""
        group, wanted = replay_group(self.config), set(originals)
        groups = Groups(self.config.tool_kafka)
        position = {p: o for (t, p), o in groups.committed(group).items() if t == self.topic}
        letters = sorted(self.read(position), key=lambda d: (d.read.partition, d.read.offset))
        replayed: list[DeadLetter] = []
        read_up_to = dict(position)
        try:
            for letter in letters:
                if limit is not None and len(replayed) >= limit:
                    break
                selected = (not wanted or letter.original in wanted) and (
                    since is None or (letter.read.timestamp is not None and letter.read.timestamp >= since))
                if selected:
                    if not dry_run:
                        self.republish(letter)
                    replayed.append(letter)
                read_up_to[letter.read.partition] = letter.read.offset + 1
        finally:  # a failed produce keeps what was replayed before it: a re-run continues there
            if not dry_run:
                groups.apply(group, [OffsetChange(self.topic, p, position.get(p), o)
                                     for p, o in sorted(read_up_to.items()) if position.get(p) != o])
        return replayed
