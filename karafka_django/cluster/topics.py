"""Declarative topics: routes declare their topic (``"config": {"partitions": 6, ...}``) and
``manage.py karafka_topics`` plans and applies the difference, like Django migrations.

A plan is computed from the cluster's metadata and described configs. It creates missing
topics, adds partitions and aligns declared configs; it never shrinks a topic (Kafka cannot)
or deletes one unless asked (``karafka_topics delete``, with confirmation).
"""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
    ResourceType,
)

from ..conf import KarafkaConfig
from ..connection import clients
from ..instrumentation import Monitor
from ..routing import Routing, SubscriptionGroup, TopicSpec
from ..routing.builder import kafka_tasks_topics

TASKS_TOPIC_PARTITIONS = 6  # a route with "config" on the tasks topic chooses otherwise
REPORTS_RETENTION_MS = str(7 * 24 * 3600 * 1000)


def topics_to_manage(config: KarafkaConfig, routing: Routing) -> dict[str, TopicSpec]:
    """The topics routes declare, plus the framework's own when it uses them (the reports topic
    with REPORTING, the Kafka Tasks backends' topics): those are created if missing, else left as they are."""
    specs = dict(routing.declared_topics)
    for spec in own_topics(config, routing.tasks_topics):
        specs.setdefault(spec.name, spec)
    return specs


def own_topics(config: KarafkaConfig, tasks_topics: list[str]) -> list[TopicSpec]:
    own = [TopicSpec(topic, TASKS_TOPIC_PARTITIONS, create_only=True) for topic in tasks_topics]
    if config.reporting:  # the admin's charts reach 7 days back
        own.append(TopicSpec(config.reports_topic, 1, configs={"retention.ms": REPORTS_RETENTION_MS}, create_only=True))
    return own


def create_missing(kafka: dict, specs: list[TopicSpec]) -> list[str]:
    """Create the topics of ``specs`` the cluster lacks, before their first message (a broker that
    auto-creates topics would give them its default partition count and configs); returns the
    names created. Raises ``KafkaException`` when the cluster cannot be asked or refuses."""
    topics, created = Topics(kafka), []
    for change in topics.plan({spec.name: spec for spec in specs}):
        if change.action == "create":
            try:
                topics.apply([change])
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:  # another process was first: as good
                    raise
                continue
            created.append(change.topic)
    return created


def create_own_topics(config: KarafkaConfig, subscription_groups: list[SubscriptionGroup], monitor: Monitor) -> None:
    """At a server's start: the framework's topics it uses (its Tasks topics, the reports topic),
    created when missing, before anything is produced to them or subscribed; a route's declared
    config wins. A cluster that cannot be asked or refuses (no permission) is logged, not fatal:
    ``karafka_topics migrate`` or an operator creates them then."""
    routes = {route.topic: route for group in subscription_groups for route in group.routes}
    tasks = [topic for topic, _consumer in kafka_tasks_topics() if topic in routes]
    specs = [(routes[spec.name].topic_config if spec.name in routes else None) or spec for spec in own_topics(config, tasks)]
    if not specs:
        return
    try:
        created = create_missing(config.producer_kafka, specs)
    except KafkaException as exc:
        monitor.error("topics.create_error", error=str(exc), topics=",".join(s.name for s in specs))
        return
    if created:
        monitor.instrument("topics.created", topics=",".join(created))


@dataclass(frozen=True)
class Change:
    action: str  # create | add_partitions | alter_config | refused
    topic: str
    detail: str
    spec: TopicSpec
    config: tuple[str, str] | None = None

    def __str__(self) -> str:
        return f"{self.action:<15} {self.topic}: {self.detail}"


class Topics:
    def __init__(self, kafka: dict, failures: clients.Failures | None = None):
        """``kafka``: the settings of an admin client (the cluster and its credentials), e.g.
        ``KarafkaConfig.producer_kafka``."""
        self.admin = clients.admin(kafka, failures)

    def plan(self, specs: dict[str, TopicSpec]) -> list[Change]:
        metadata = self.admin.list_topics(timeout=10).topics
        changes = []
        for name, spec in sorted(specs.items()):
            if name not in metadata:
                changes.append(Change("create", name, f"{spec.partitions} partitions, replication {spec.replication_factor}"
                                      + (f", {spec.configs}" if spec.configs else ""), spec))
                continue
            if spec.create_only:
                continue
            current = len(metadata[name].partitions)
            if spec.partitions > current:
                changes.append(Change("add_partitions", name, f"{current} -> {spec.partitions}", spec))
            elif spec.partitions < current:
                changes.append(Change("refused", name, f"declares {spec.partitions} partitions but has {current}: "
                                      "Kafka cannot remove partitions (recreate the topic to shrink it)", spec))
            described = self._configs(name)
            for key, value in sorted(spec.configs.items()):
                if described.get(key) != value:
                    changes.append(Change("alter_config", name, f"{key}: {described.get(key, '(default)')} -> {value}",
                                          spec, (key, value)))
        return changes

    def apply(self, changes: list[Change]) -> None:
        for change in changes:
            if change.action == "create":
                spec = change.spec
                new = NewTopic(spec.name, spec.partitions, spec.replication_factor, config=spec.configs)
                self._wait(self.admin.create_topics([new]))
            elif change.action == "add_partitions":
                self._wait(self.admin.create_partitions([NewPartitions(change.topic, change.spec.partitions)]))
            elif change.action == "alter_config":
                assert change.config is not None  # an alter_config change names its config
                key, value = change.config
                resource = ConfigResource(ResourceType.TOPIC, change.topic,
                                          incremental_configs=[ConfigEntry(key, value, incremental_operation=AlterConfigOpType.SET)])
                self._wait(self.admin.incremental_alter_configs([resource]))

    def delete(self, names: list[str]) -> None:
        self._wait(self.admin.delete_topics(names))

    def _configs(self, name: str) -> dict[str, str]:
        futures = self.admin.describe_configs([ConfigResource(ResourceType.TOPIC, name)])
        return {key: entry.value for future in futures.values() for key, entry in future.result(10).items()}

    @staticmethod
    def _wait(futures: dict) -> None:
        for future in futures.values():
            future.result(30)
