"""What the cluster says about itself (Karafka's ``Admin`` cluster info): brokers, the controller,
topics with their partitions, leaders, replicas and in-sync replicas, topic configs, and the
consumer groups the broker knows. Read-only; used by the admin's cluster and topics pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AlterConfigOpType,
    ConfigResource,
    NewPartitions,
    NewTopic,
)
from confluent_kafka.admin import ConfigEntry as AlterEntry

from ..connection import clients


@dataclass(frozen=True)
class Broker:
    node_id: int
    host: str
    port: int
    controller: bool


@dataclass(frozen=True)
class PartitionInfo:
    partition: int
    leader: int  # -1: no leader (offline)
    replicas: tuple[int, ...]
    isr: tuple[int, ...]

    @property
    def under_replicated(self) -> bool:
        return len(self.isr) < len(self.replicas)


@dataclass(frozen=True)
class TopicInfo:
    name: str
    partitions: tuple[PartitionInfo, ...]
    min_insync_replicas: int | None  # None when the broker did not say

    @property
    def internal(self) -> bool:
        return self.name.startswith("__")

    @property
    def replication_factor(self) -> int:
        return max((len(p.replicas) for p in self.partitions), default=0)

    @property
    def under_replicated(self) -> int:
        return sum(p.under_replicated for p in self.partitions)

    @property
    def under_min_isr(self) -> int:
        """Partitions that refuse ``acks=all`` writes now (fewer in-sync replicas than required)."""
        if self.min_insync_replicas is None:
            return 0
        return sum(len(p.isr) < self.min_insync_replicas for p in self.partitions)

    @property
    def offline(self) -> int:
        return sum(p.leader < 0 for p in self.partitions)


@dataclass(frozen=True)
class ConfigEntry:
    name: str
    value: str | None
    default: bool
    sensitive: bool


@dataclass(frozen=True)
class GroupInfo:
    group_id: str
    state: str
    protocol: str
    members: tuple[dict[str, Any], ...]  # client_id, host, partitions ("topic/partition")
    coordinator: int | None


class Cluster:
    def __init__(self, kafka: dict[str, Any], timeout: float = 10):
        """``kafka``: an admin client's settings (``KarafkaConfig.producer_kafka``: cluster and credentials)."""
        self.admin = clients.admin(kafka)
        self.timeout = timeout

    def brokers(self) -> tuple[str | None, list[Broker]]:
        """The cluster id and its brokers (the controller marked), from a Metadata request, which
        any live broker answers: DescribeCluster waits for the controller, which is what is
        missing right after a broker is lost, when this page matters most."""
        metadata = self.admin.list_topics(timeout=self.timeout)
        brokers = [Broker(b.id, str(b.host), int(b.port), b.id == metadata.controller_id) for b in metadata.brokers.values()]
        return metadata.cluster_id, sorted(brokers, key=lambda b: b.node_id)

    def topics(self, name: str | None = None) -> list[TopicInfo]:
        """Every topic (or only ``name``), internal ones included, with ``min.insync.replicas``.
        Metadata is always asked for every topic: asking for one by name lets a broker with
        ``auto.create.topics.enable`` create it, and a page visit must never create a topic."""
        metadata = self.admin.list_topics(timeout=self.timeout)
        found = {t: m for t, m in metadata.topics.items() if m.error is None and name in (None, t)}
        min_isr = self._min_insync_replicas(list(found))
        return sorted((TopicInfo(t, tuple(sorted((PartitionInfo(p.id, p.leader, tuple(p.replicas), tuple(p.isrs))
                                                 for p in m.partitions.values()), key=lambda p: p.partition)),
                                 min_isr.get(t)) for t, m in found.items()), key=lambda t: (t.internal, t.name))

    def topic(self, name: str) -> TopicInfo | None:
        found = self.topics(name)
        return found[0] if found else None

    def configs(self, topic: str) -> list[ConfigEntry]:
        resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
        entries = self.admin.describe_configs([resource], request_timeout=self.timeout)[resource].result(self.timeout)
        return sorted((ConfigEntry(e.name, e.value, e.is_default, e.is_sensitive) for e in entries.values()),
                      key=lambda e: (e.default, e.name))

    def groups(self) -> list[GroupInfo]:
        """Every consumer group the brokers know, as DescribeConsumerGroups says."""
        listed = sorted(g.group_id for g in self.admin.list_consumer_groups(request_timeout=self.timeout)
                        .result(self.timeout).valid)
        if not listed:
            return []
        groups = []
        for group_id, future in self.admin.describe_consumer_groups(listed, request_timeout=self.timeout).items():
            try:
                d = future.result(self.timeout)
            except KafkaException:
                continue  # gone since it was listed
            members = tuple({"client_id": m.client_id, "host": m.host,
                             "partitions": [f"{tp.topic}/{tp.partition}" for tp in (m.assignment.topic_partitions or ())]}
                            for m in d.members)
            groups.append(GroupInfo(group_id, d.state.name.lower(), d.partition_assignor or "", members,
                                    d.coordinator.id if d.coordinator is not None else None))
        return sorted(groups, key=lambda g: g.group_id)

    # -- changes (the admin's, under send_commands); each raises KafkaException with the broker's reason

    def create_topic(self, name: str, partitions: int, replication_factor: int = -1) -> None:
        """``replication_factor`` -1: the brokers' ``default.replication.factor``."""
        self.admin.create_topics([NewTopic(name, partitions, replication_factor)],
                                 request_timeout=self.timeout)[name].result(self.timeout)

    def add_partitions(self, name: str, total: int) -> None:
        self.admin.create_partitions([NewPartitions(name, total)], request_timeout=self.timeout)[name].result(self.timeout)

    def set_config(self, name: str, key: str, value: str) -> None:
        resource = ConfigResource(ConfigResource.Type.TOPIC, name,
                                  incremental_configs=[AlterEntry(key, value, incremental_operation=AlterConfigOpType.SET)])
        self.admin.incremental_alter_configs([resource], request_timeout=self.timeout)[resource].result(self.timeout)

    def delete_topic(self, name: str) -> None:
        self.admin.delete_topics([name], request_timeout=self.timeout)[name].result(self.timeout)

    def _min_insync_replicas(self, topics: list[str]) -> dict[str, int]:
        if not topics:
            return {}
        resources = [ConfigResource(ConfigResource.Type.TOPIC, t) for t in topics]
        values = {}
        for resource, future in self.admin.describe_configs(resources, request_timeout=self.timeout / 2).items():
            try:
                entry = future.result(self.timeout).get("min.insync.replicas")
            except (KafkaException, TimeoutError):  # e.g. the broker reported as controller is gone: shown blank
                continue
            if entry is not None and entry.value and entry.value.isdecimal():
                values[resource.name] = int(entry.value)
        return values
