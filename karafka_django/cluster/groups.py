"""Consumer-group offsets as an operator changes them (Karafka's Admin consumer-group API):
list groups, show lag, move a group (seek), copy one group's offsets to another, delete one.

Kafka refuses to change the offsets of a group that has live members (the members would
overwrite them at their next commit); these operations check first and refuse with a clear
message, and every change is planned (``old -> new``) before it is applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from confluent_kafka import (
    ConsumerGroupState,
    ConsumerGroupTopicPartitions,
    TopicPartition,
)

from ..connection import clients
from .positions import Position, PositionReader

LIVE_STATES = {ConsumerGroupState.STABLE, ConsumerGroupState.PREPARING_REBALANCING,
               ConsumerGroupState.COMPLETING_REBALANCING}


class GroupInUse(RuntimeError):
    """The group has live members: stop its servers first."""


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    committed: int | None  # None: the group has no offset for this partition
    high_watermark: int

    @property
    def lag(self) -> int | None:
        return None if self.committed is None else max(self.high_watermark - self.committed, 0)


@dataclass(frozen=True)
class GroupSummary:
    name: str
    state: str
    members: int
    lag: int


@dataclass(frozen=True)
class OffsetChange:
    topic: str
    partition: int
    old: int | None
    new: int

    def __str__(self) -> str:
        old = "(none)" if self.old is None else self.old
        return f"{self.topic}/{self.partition}: {old} -> {self.new}"


class Groups:
    def __init__(self, kafka: dict[str, Any], timeout: float = 30, failures: clients.Failures | None = None):
        self.kafka, self.timeout = kafka, timeout
        self.admin = clients.admin(kafka, failures)

    # -- reading ---------------------------------------------------------------------------------

    def state(self, group: str) -> tuple[ConsumerGroupState, int]:
        """The group's state and how many members it has (some brokers do not list members)."""
        described = self.admin.describe_consumer_groups([group])[group].result(self.timeout)
        return described.state, len(described.members)

    def exists(self, group: str) -> bool:
        """Does the broker know the group (members or committed offsets)?"""
        return group in {g.group_id for g in self.admin.list_consumer_groups().result(self.timeout).valid}

    def committed(self, group: str) -> dict[tuple[str, int], int]:
        """The group's committed offsets, asked through a consumer of the group (it joins nothing):
        librdkafka's admin ListConsumerGroupOffsets crashes the process when the coordinator answers
        NOT_COORDINATOR (librdkafka issue 5040: a fresh cluster, a coordinator moving); a consumer
        retries that."""
        consumer = clients.consumer(self.kafka, **{"group.id": group, "enable.auto.commit": False})
        try:
            topics = consumer.list_topics(timeout=self.timeout).topics
            partitions = [TopicPartition(name, p) for name, topic in topics.items() if not name.startswith("__")
                          for p in topic.partitions]
            found = consumer.committed(partitions, timeout=self.timeout) if partitions else []
        finally:
            consumer.close()
        return {(tp.topic, tp.partition): tp.offset for tp in found if tp.offset >= 0}

    def lag(self, group: str) -> list[PartitionLag]:
        """Every partition of the topics the group has offsets in: committed, high watermark, lag."""
        committed = self.committed(group)
        rows = []
        with PositionReader(self.kafka, self.timeout) as reader:
            for topic in sorted({topic for topic, _ in committed}):
                for partition in reader.partitions(topic):
                    rows.append(PartitionLag(topic, partition, committed.get((topic, partition)),
                                             reader.watermarks(topic, partition)[1]))
        return rows

    def summaries(self) -> list[GroupSummary]:
        names = sorted(g.group_id for g in self.admin.list_consumer_groups().result(self.timeout).valid)
        summaries = []
        for name in names:
            state, members = self.state(name)
            lag = sum(row.lag or 0 for row in self.lag(name))
            summaries.append(GroupSummary(name, state.name.lower(), members, lag))
        return summaries

    # -- planning --------------------------------------------------------------------------------

    def plan_seek(self, group: str, topic: str, position: Position | None = None,
                  offsets: dict[int, int] | None = None) -> list[OffsetChange]:
        """Move ``group`` on ``topic``: every partition to ``position``, or the given partitions
        to the given offsets."""
        committed = self.committed(group)
        with PositionReader(self.kafka, self.timeout) as reader:
            partitions = reader.partitions(topic)
            if offsets is not None:
                unknown = sorted(set(offsets) - set(partitions))
                if unknown:
                    raise ValueError(f"topic '{topic}' has no partition {unknown[0]} (it has {len(partitions)})")
                targets = offsets
            else:
                if position is None:
                    raise ValueError("a seek needs a position or offsets")
                targets = {p: reader.offset(topic, p, position) for p in partitions}
        return [OffsetChange(topic, p, committed.get((topic, p)), new) for p, new in sorted(targets.items())]

    def plan_copy(self, source: str, target: str) -> list[OffsetChange]:
        """Give ``target`` the committed offsets of ``source``."""
        theirs, ours = self.committed(source), self.committed(target)
        return [OffsetChange(topic, partition, ours.get((topic, partition)), offset)
                for (topic, partition), offset in sorted(theirs.items())]

    # -- changing --------------------------------------------------------------------------------

    def refuse_if_live(self, group: str) -> None:
        state, members = self.state(group)
        if state in LIVE_STATES:
            raise GroupInUse(f"consumer group '{group}' is {state.name.lower()}"
                             + (f" with {members} members" if members else "")
                             + ": stop its servers first (Kafka rejects offset changes of a group with live members).")

    def apply(self, group: str, changes: list[OffsetChange]) -> None:
        self.refuse_if_live(group)
        if not changes:
            return
        request = ConsumerGroupTopicPartitions(group, [TopicPartition(c.topic, c.partition, c.new) for c in changes])
        answer = self.admin.alter_consumer_group_offsets([request])[group].result(self.timeout)
        failed = [f"{tp.topic}/{tp.partition}: {tp.error}" for tp in answer.topic_partitions if tp.error is not None]
        if failed:
            raise RuntimeError("the broker refused: " + "; ".join(failed))

    def delete(self, group: str) -> None:
        self.refuse_if_live(group)
        self.admin.delete_consumer_groups([group])[group].result(self.timeout)
