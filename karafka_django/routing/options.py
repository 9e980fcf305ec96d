"""Every option a route declares: the keys, their defaults, and how each is parsed and checked.

Adding a route option means a key in :data:`ROUTE_KEYS`, its parser here, and a field on
:class:`~karafka_django.routing.route.Route`. Parsing never raises: problems become
``karafka.E02x``-``E05x`` check errors.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from ..consumer import BaseConsumer
from ..deserializers import json_deserializer
from ..problems import Problem, did_you_mean
from .route import DeadLetterQueue, Route, VirtualPartitions
from .topic_spec import parse_spec

ROUTE_KEYS = (
    "topic",
    "consumer",
    "consumer_group",
    "subscription_group",
    "deserializer",
    "initial_offset",
    "active",
    "manual_offset_management",
    "dead_letter_queue",
    "filters",
    "virtual_partitions",
    "periodic",
    "config",
    "offset_storage",
    "database",
    "transient_errors",
    "transactional",
    "kafka",
)
INITIAL_OFFSETS = ("earliest", "latest")
OFFSET_STORAGES = ("kafka", "database")
DEAD_LETTER_QUEUE_KEYS = ("topic", "max_retries", "independent", "mark_after_dispatch")


def _resolve(value: Any, what: str, where: str, problems: list[Problem], check_id: str) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return import_string(value)
    except ImportError as exc:
        problems.append(Problem(check_id, f"{where}: cannot import {what} '{value}': {exc}"))
        return None


def _dead_letter_queue(raw: Any, topic: str, where: str, problems: list[Problem]) -> DeadLetterQueue | None:
    """The route's DLQ; ``None`` without one or when invalid (the problems say why)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        problems.append(Problem("karafka.E030", f"{where}: dead_letter_queue must be a dict, got {raw!r}."))
        return None
    valid = True
    for key in raw:
        if key not in DEAD_LETTER_QUEUE_KEYS:
            problems.append(Problem("karafka.E031", f"{where}: dead_letter_queue has an unknown key '{key}'.",
                                    did_you_mean(key, DEAD_LETTER_QUEUE_KEYS)))
            valid = False
    if "topic" not in raw or not (raw["topic"] is False or (isinstance(raw["topic"], str) and raw["topic"])):
        problems.append(Problem("karafka.E032", f"{where}: dead_letter_queue needs a 'topic' (a name, or False to skip failing messages).",
                                "Skipping a message that keeps failing loses it: choose False only on purpose."))
        valid = False
    elif raw["topic"] == topic:
        problems.append(Problem("karafka.E033", f"{where}: the dead letter queue topic is the topic itself ('{topic}')."))
        valid = False
    retries = raw.get("max_retries", 3)
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        problems.append(Problem("karafka.E034", f"{where}: dead_letter_queue max_retries must be an integer >= 0, got {retries!r}."))
        valid = False
    flags = {name: raw.get(name, False) for name in ("independent", "mark_after_dispatch")}
    for name, value in flags.items():
        if not isinstance(value, bool):
            problems.append(Problem("karafka.E035", f"{where}: dead_letter_queue {name} must be True or False."))
            valid = False
    if not valid:
        return None
    return DeadLetterQueue(topic=raw["topic"] or None, max_retries=retries, **flags)


def _filters(raw: Any, where: str, problems: list[Problem]) -> tuple:
    """Filter factories (one instance per partition); none when invalid (the problems say why)."""
    if raw is None:
        return ()
    if not isinstance(raw, (list, tuple)):
        problems.append(Problem("karafka.E040", f"{where}: filters must be a list."))
        return ()
    factories = []
    for spec in raw:
        options: dict[str, Any] = {}
        if isinstance(spec, dict):
            options = {k: v for k, v in spec.items() if k != "class"}
            spec = spec.get("class")
            if spec is None:
                problems.append(Problem("karafka.E041", f"{where}: a filter given as a dict needs a 'class'."))
                return ()
        factory = _resolve(spec, "filter", where, problems, "karafka.E042")
        if factory is None:
            return ()
        try:
            inspect.signature(factory).bind(**options)
        except (TypeError, ValueError) as exc:
            problems.append(Problem("karafka.E043", f"{where}: filter {spec!r} does not take {options}: {exc}"))
            return ()
        factories.append(functools.partial(factory, **options) if options else factory)
    return tuple(factories)


def _virtual_partitions(raw: Any, where: str, problems: list[Problem]) -> VirtualPartitions | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or "partitioner" not in raw:
        problems.append(Problem("karafka.E044", f"{where}: virtual_partitions must be a dict with a 'partitioner'."))
        return None
    partitioner = _resolve(raw["partitioner"], "partitioner", where, problems, "karafka.E045")
    size = raw.get("max_partitions", 5)
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        problems.append(Problem("karafka.E046", f"{where}: virtual_partitions max_partitions must be an integer >= 1."))
        return None
    return None if partitioner is None else VirtualPartitions(partitioner, size)


def _periodic(raw: Any, where: str, problems: list[Problem]) -> int | None:
    if raw is None:
        return None
    interval = raw.get("interval_ms") if isinstance(raw, dict) else None
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
        problems.append(Problem("karafka.E047", f"{where}: periodic must be {{'interval_ms': <integer >= 1>}}."))
        return None
    return interval


def exception_classes(raw: Any, what: str, problems: list[Problem], check_id: str) -> tuple[type, ...]:
    """Exception classes from a list of dotted paths (or classes); none when invalid (problems added)."""
    if raw is None:
        return ()
    if not isinstance(raw, (list, tuple)):
        problems.append(Problem(check_id, f"{what} must be a list of exception classes (dotted paths), got {raw!r}."))
        return ()
    classes = []
    for spec in raw:
        found = _resolve(spec, "exception class", what, problems, check_id)
        if found is None:
            return ()
        if not (isinstance(found, type) and issubclass(found, Exception)):
            problems.append(Problem(check_id, f"{what}: {spec!r} is not an Exception subclass."))
            return ()
        classes.append(found)
    return tuple(classes)


def _offset_storage(raw: dict[str, Any], where: str, problems: list[Problem]) -> tuple[str, str]:
    """``(storage, database alias)``; Kafka's when they cannot hold together (the problems say why).

    Offsets in the database are exactly-once only when one transaction covers a whole batch and
    its offset: not with virtual partitions (parts commit apart), and not when a dead-lettered
    message under manual offset management would be left unmarked (its offset never stored).
    """
    storage, alias = raw.get("offset_storage", "kafka"), raw.get("database", "default")
    if storage not in OFFSET_STORAGES:
        problems.append(Problem("karafka.E026", f"{where}: offset_storage must be one of {OFFSET_STORAGES}, got {storage!r}."))
        return "kafka", "default"
    if storage == "kafka":
        if "database" in raw:
            problems.append(Problem("karafka.E027", f"{where}: 'database' applies only with offset_storage 'database'."))
            return "kafka", "default"
        return storage, alias
    if alias not in settings.DATABASES:
        problems.append(Problem("karafka.E027", f"{where}: database '{alias}' is not in settings.DATABASES.",
                                did_you_mean(str(alias), list(settings.DATABASES))))
        return "kafka", "default"
    if raw.get("virtual_partitions") is not None:
        problems.append(Problem("karafka.E028", f"{where}: offset_storage 'database' cannot be combined with virtual_partitions.",
                                "Virtual parts of a batch finish apart; one transaction must cover the whole batch."))
        return "kafka", "default"
    dlq = raw.get("dead_letter_queue")
    if raw.get("manual_offset_management") and isinstance(dlq, dict) and not dlq.get("mark_after_dispatch"):
        problems.append(Problem("karafka.E029", f"{where}: with offset_storage 'database' and manual_offset_management, "
                                "a dead-lettered message must be marked: set dead_letter_queue mark_after_dispatch.",
                                "Otherwise its offset is never stored and the partition replays it forever."))
        return "kafka", "default"
    return storage, alias


def _transactional(raw: dict[str, Any], where: str, problems: list[Problem]) -> bool:
    """Each batch in a Kafka transaction: not with offsets in the database (two commits, one
    would be first) nor virtual partitions (a batch's parts finish apart, one transaction must
    hold the whole batch)."""
    value = raw.get("transactional", False)
    if not isinstance(value, bool):
        problems.append(Problem("karafka.E049", f"{where}: transactional must be True or False, got {value!r}."))
        return False
    if value and raw.get("offset_storage", "kafka") == "database":
        problems.append(Problem("karafka.E049", f"{where}: transactional cannot be combined with offset_storage 'database'.",
                                "Offsets go either with the database's transaction or with Kafka's: choose one."))
    if value and raw.get("virtual_partitions") is not None:
        problems.append(Problem("karafka.E049", f"{where}: transactional cannot be combined with virtual_partitions.",
                                "Virtual parts of a batch finish apart; one transaction must cover the whole batch."))
    return value


def parse_route(raw: dict[str, Any], default_group: str, where: str, problems: list[Problem]) -> Route | None:
    """A :class:`Route` from one declaration (validated already to have a topic and a consumer),
    or None with the reasons added to ``problems``."""
    before = len(problems)  # a parser reports what is invalid as a problem: any new one refuses the route
    consumer_class = _resolve(raw["consumer"], "consumer", where, problems, "karafka.E020")
    if consumer_class is None:
        return None
    if str(raw["topic"]).startswith("^"):
        try:
            re.compile(str(raw["topic"]))
        except re.error as exc:
            problems.append(Problem("karafka.E048", f"{where}: topic pattern {raw['topic']!r} is not a regular expression: {exc}."))
            return None
        if raw.get("config") is not None:
            problems.append(Problem("karafka.E048", f"{where}: a pattern route cannot declare a topic's config.",
                                    "Declare each topic in a route of its own, or create them with karafka_topics."))
            return None
    if not (isinstance(consumer_class, type) and issubclass(consumer_class, BaseConsumer)):
        problems.append(Problem("karafka.E021", f"{where}: consumer {consumer_class!r} is not a BaseConsumer subclass."))
        return None
    deserializer: Callable | None = _resolve(
        raw.get("deserializer", json_deserializer), "deserializer", where, problems, "karafka.E022"
    )
    if deserializer is None:
        return None
    initial_offset = raw.get("initial_offset", "earliest")
    if initial_offset not in INITIAL_OFFSETS:
        problems.append(Problem("karafka.E023", f"{where}: initial_offset must be one of {INITIAL_OFFSETS}, got {initial_offset!r}."))
        return None
    dead_letter_queue = _dead_letter_queue(raw.get("dead_letter_queue"), str(raw["topic"]), where, problems)
    filters = _filters(raw.get("filters"), where, problems)
    virtual_partitions = _virtual_partitions(raw.get("virtual_partitions"), where, problems)
    periodic = _periodic(raw.get("periodic"), where, problems)
    topic_config = None
    if raw.get("config") is not None:
        topic_config = parse_spec(str(raw["topic"]), raw["config"], where, problems)
    offset_storage = _offset_storage(raw, where, problems)
    transient_errors = exception_classes(raw.get("transient_errors"), f"{where}: transient_errors", problems, "karafka.E036")
    transactional = _transactional(raw, where, problems)
    kafka = raw.get("kafka") or {}
    if not (isinstance(kafka, dict) and all(isinstance(k, str) and isinstance(v, (str, int, float, bool)) for k, v in kafka.items())):
        problems.append(Problem("karafka.E037", f"{where}: kafka must be a dict of librdkafka settings, got {kafka!r}."))
    if len(problems) > before:
        return None
    consumer_group = str(raw.get("consumer_group") or default_group)
    return Route(
        topic=str(raw["topic"]),
        dead_letter_queue=dead_letter_queue,
        filters=filters,
        virtual_partitions=virtual_partitions,
        periodic_interval_ms=periodic,
        topic_config=topic_config,
        consumer_class=consumer_class,
        consumer_group=consumer_group,
        subscription_group=str(raw.get("subscription_group") or consumer_group),
        deserializer=deserializer,
        initial_offset=initial_offset,
        active=bool(raw.get("active", True)),
        manual_offset_management=bool(raw.get("manual_offset_management", False)),
        offset_storage=offset_storage[0],
        database=offset_storage[1],
        transient_errors=transient_errors,
        transactional=transactional,
        kafka=tuple(sorted(kafka.items())),
    )
