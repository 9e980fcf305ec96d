"""What to consume: one route maps a topic to a consumer class inside a consumer group."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .topic_spec import TopicSpec


@dataclass(frozen=True)
class DeadLetterQueue:
    """Where a message goes after ``max_retries`` failed retries; ``topic=None`` skips it instead.

    ``independent``: the retry count restarts after every message that succeeds; otherwise
    it runs on until the partition is past the batch that first failed.
    ``mark_after_dispatch``: under ``manual_offset_management`` the framework marks nothing
    on the consumer's behalf, a dispatched message included, unless this is True.
    """

    topic: str | None
    max_retries: int = 3
    independent: bool = False
    mark_after_dispatch: bool = False


@dataclass(frozen=True)
class VirtualPartitions:
    """Split each batch by ``partitioner(message)`` into up to ``max_partitions`` parallel parts."""

    partitioner: Callable[[Any], Any]
    max_partitions: int


@dataclass(frozen=True)
class Route:
    topic: str
    consumer_class: type
    consumer_group: str
    subscription_group: str
    deserializer: Callable[[Any], Any]
    initial_offset: str = "earliest"
    active: bool = True
    manual_offset_management: bool = False
    dead_letter_queue: DeadLetterQueue | None = None
    filters: tuple[Callable[[], Any], ...] = ()  # factories: one filter instance per partition
    virtual_partitions: VirtualPartitions | None = None
    periodic_interval_ms: int | None = None
    topic_config: TopicSpec | None = None  # when the route declares its topic (karafka_topics)
    offset_storage: str = "kafka"  # or "database": offsets committed with the batch's writes
    database: str = "default"  # the alias whose transactions hold them
    transient_errors: tuple[type, ...] = ()  # a dependency unavailable, not the message failing
    transactional: bool = False  # each batch in a Kafka transaction with its offset
    kafka: tuple[tuple[str, Any], ...] = ()  # librdkafka settings of its subscription group's consumer, over KAFKA

    @property
    def is_pattern(self) -> bool:
        """A topic that starts with ``^`` is a regular expression (librdkafka's convention): the
        route consumes every topic it matches, those created later too."""
        return self.topic.startswith("^")

    def matches(self, topic: str) -> bool:
        return topic == self.topic or (self.is_pattern and re.search(self.topic, topic) is not None)

    @property
    def offsets_in_database(self) -> bool:
        return self.offset_storage == "database"

    @property
    def consumer_path(self) -> str:
        return f"{self.consumer_class.__module__}.{self.consumer_class.__qualname__}"


@dataclass
class SubscriptionGroup:
    """Routes that share one ``confluent_kafka.Consumer`` (and so one listener thread)."""

    name: str
    consumer_group: str
    routes: list[Route] = field(default_factory=list)

    @property
    def topics(self) -> list[str]:
        return [r.topic for r in self.routes]

    @property
    def initial_offset(self) -> str:
        return self.routes[0].initial_offset

    @property
    def kafka(self) -> dict[str, Any]:
        """The routes' own librdkafka settings (one consumer: the routes of a group agree on them)."""
        return dict(self.routes[0].kafka) if self.routes else {}

    def route_for(self, topic: str) -> Route:
        """The route of a topic: the one that names it, else the first pattern it matches."""
        for candidate in self.routes:
            if candidate.topic == topic:
                return candidate
        for candidate in self.routes:
            if candidate.matches(topic):
                return candidate
        raise KeyError(topic)

    def kafka_config(self, base: dict[str, Any], node: int | None = None) -> dict[str, Any]:
        """The librdkafka config of this group's consumer: the user's settings win, the routes'
        ``kafka`` over ``KAFKA``.

        A static member id (``group.instance.id``) gets a stable suffix per subscription group
        and swarm node: two consumers with one id would fence each other out of the group.
        """
        config = {"group.id": self.consumer_group, "auto.offset.reset": self.initial_offset}
        config.update(base)
        config.update(self.kafka)
        config["group.id"] = self.consumer_group
        if config.get("group.instance.id"):
            suffix = self.name if node is None else f"{self.name}-node{node}"
            config["group.instance.id"] = f"{config['group.instance.id']}-{suffix}"
        return config


@dataclass
class ConsumerGroup:
    name: str
    subscription_groups: list[SubscriptionGroup] = field(default_factory=list)
