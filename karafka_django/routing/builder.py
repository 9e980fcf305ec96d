"""Builds consumer groups and subscription groups from settings and ``@route`` declarations."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from ..conf import KarafkaConfig
from ..problems import Problem, did_you_mean
from .group_protocol import protocol_problems
from .options import ROUTE_KEYS, exception_classes, parse_route
from .registry import declared_routes
from .route import ConsumerGroup, Route, SubscriptionGroup
from .topic_spec import TopicSpec


@dataclass
class Routing:
    consumer_groups: list[ConsumerGroup] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    tasks_topics: list[str] = field(default_factory=list)  # of the Kafka Tasks backends in TASKS

    @property
    def subscription_groups(self) -> list[SubscriptionGroup]:
        return [sg for cg in self.consumer_groups for sg in cg.subscription_groups]

    @property
    def routes(self) -> list[Route]:
        return [r for sg in self.subscription_groups for r in sg.routes]

    @property
    def declared_topics(self) -> dict[str, TopicSpec]:
        """The topics routes declare (``"config"``), for ``karafka_topics``."""
        return {r.topic: r.topic_config for r in self.routes if r.topic_config is not None}

    def select(
        self,
        consumer_groups: list[str] | None = None,
        subscription_groups: list[str] | None = None,
        topics: list[str] | None = None,
    ) -> list[SubscriptionGroup]:
        """The subscription groups a server runs, narrowed like ``karafka server --include-*``."""
        selected = []
        for sg in self.subscription_groups:
            if consumer_groups and sg.consumer_group not in consumer_groups:
                continue
            if subscription_groups and sg.name not in subscription_groups:
                continue
            routes = [r for r in sg.routes if r.active and (not topics or r.topic in topics)]
            if routes:
                selected.append(SubscriptionGroup(sg.name, sg.consumer_group, routes))
        return selected


def _settings_routes(raw_routes: Any, problems: list[Problem]) -> list[tuple[dict[str, Any], str]]:
    """``KARAFKA['ROUTES']`` entries that are dicts with a topic and a consumer, and where each is."""
    if not isinstance(raw_routes, (list, tuple)):
        problems.append(Problem("karafka.E010", "KARAFKA['ROUTES'] must be a list of dicts."))
        return []
    routes = []
    for index, item in enumerate(raw_routes):
        where = f"KARAFKA['ROUTES'][{index}]"
        if not isinstance(item, dict):
            problems.append(Problem("karafka.E010", f"{where} must be a dict, got {item!r}."))
            continue
        _unknown_keys(item, where, problems)
        if not item.get("topic") or not item.get("consumer"):
            problems.append(Problem("karafka.E012", f"{where} needs both 'topic' and 'consumer'."))
            continue
        routes.append((dict(item), where))
    return routes


def _unknown_keys(raw: dict[str, Any], where: str, problems: list[Problem]) -> None:
    for key in raw:
        if key not in ROUTE_KEYS:
            problems.append(Problem("karafka.E011", f"{where} has an unknown key '{key}'.", did_you_mean(key, ROUTE_KEYS)))


def kafka_tasks_topics() -> list[tuple[str, str]]:
    """(topic, consumer path) of each Kafka Tasks backend configured in ``TASKS``."""
    topics = []
    for backend in getattr(settings, "TASKS", {}).values():
        try:
            backend_class = import_string(backend["BACKEND"])
        except (ImportError, KeyError, TypeError):
            continue  # Django's own checks and the first enqueue report a broken backend
        if getattr(backend_class, "kafka_consumer", None) is not None:
            topics.append((backend.get("OPTIONS", {}).get("topic", backend_class.default_topic), backend_class.kafka_consumer))
    return topics


def build_routing(config: KarafkaConfig) -> Routing:
    problems: list[Problem] = []
    candidates = _settings_routes(config.routes, problems)
    for raw in declared_routes():
        where = f"@route('{raw['topic']}') on {raw['consumer'].__module__}.{raw['consumer'].__qualname__}"
        _unknown_keys(raw, where, problems)
        candidates.append((raw, where))
    # A configured Tasks backend whose topic nobody consumes would enqueue forever: route it
    # unless a route names it (that route's options win). Its own subscription group, because a
    # default one reading from "latest" would skip tasks enqueued before the group's first start.
    tasks_topics = kafka_tasks_topics()
    routed = {str(raw["topic"]) for raw, _ in candidates}
    for topic, consumer in tasks_topics:
        if topic not in routed:
            routed.add(topic)
            candidates.append(({"topic": topic, "consumer": consumer, "subscription_group": f"{config.client_id}_tasks"},
                               "TASKS (the Kafka backend's topic)"))

    groups: dict[str, ConsumerGroup] = {}
    seen: dict[tuple[str, str], str] = {}
    # KARAFKA['TRANSIENT_ERRORS'] apply to every route, before each route's own transient_errors.
    transient = exception_classes(config.transient_errors, "KARAFKA['TRANSIENT_ERRORS']", problems, "karafka.E013")
    for raw, where in candidates:
        route = parse_route(raw, config.client_id, where, problems)
        if route is None:
            continue
        if transient:
            route = replace(route, transient_errors=transient + route.transient_errors)
        key = (route.consumer_group, route.topic)
        if key in seen:
            problems.append(Problem(
                "karafka.E024",
                f"{where}: topic '{route.topic}' is already routed in consumer group '{route.consumer_group}' by {seen[key]}.",
                "A topic can be consumed once per consumer group; use another consumer_group to read it twice.",
            ))
            continue
        seen[key] = where
        group = groups.setdefault(route.consumer_group, ConsumerGroup(route.consumer_group))
        sub = next((s for s in group.subscription_groups if s.name == route.subscription_group), None)
        if sub is None:
            sub = SubscriptionGroup(route.subscription_group, route.consumer_group)
            group.subscription_groups.append(sub)
        elif sub.initial_offset != route.initial_offset:
            problems.append(Problem(
                "karafka.E025",
                f"{where}: initial_offset '{route.initial_offset}' differs from '{sub.initial_offset}' of the other "
                f"routes in subscription group '{sub.name}' (one librdkafka consumer has one auto.offset.reset).",
                "Put this route in its own subscription_group.",
            ))
            continue
        elif sub.routes and dict(route.kafka) != sub.kafka:
            problems.append(Problem(
                "karafka.E037",
                f"{where}: kafka {dict(route.kafka)} differs from {sub.kafka} of the other routes in subscription group "
                f"'{sub.name}' (they share one librdkafka consumer).",
                "Give the same 'kafka' to every route of the group, or put this route in its own subscription_group.",
            ))
            continue
        sub.routes.append(route)
    for group in groups.values():
        for sub in group.subscription_groups:
            problems += protocol_problems(sub.kafka_config(config.kafka), f"subscription group '{sub.name}'")
    routing = Routing(list(groups.values()), problems, [topic for topic, _ in tasks_topics])
    declared: dict[str, TopicSpec] = {}
    for route in routing.routes:
        if route.topic_config is not None and declared.setdefault(route.topic, route.topic_config) != route.topic_config:
            problems.append(Problem("karafka.E052", f"topic '{route.topic}' is declared twice with different configs."))
    return routing
