"""System checks: every configuration problem as ``karafka.E0xx`` (``manage.py check``)."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.db import connections

from .conf import KarafkaConfig
from .instrumentation.listeners import build as build_listeners
from .loading import load
from .routing import Routing


def _truthy(value: Any) -> bool:
    return str(value).lower() in ("true", "1")


def delivery_overrides(config: KarafkaConfig, routing: Routing) -> list:
    """librdkafka settings in KARAFKA['KAFKA'] that break the at-least-once contract."""
    kafka = config.kafka
    messages: list[CheckMessage] = []
    if _truthy(kafka.get("enable.auto.offset.store")):
        messages.append(Error(
            "KARAFKA['KAFKA'] sets enable.auto.offset.store=true: offsets would be committed before "
            "processing (at-most-once; a crash loses messages).",
            hint="Remove it: the listener stores offsets after each batch is processed.", id="karafka.E060"))
    if not _truthy(kafka.get("enable.auto.commit")):
        messages.append(Warning(
            "KARAFKA['KAFKA'] sets enable.auto.commit=false: processed offsets are committed only on "
            "rebalance and shutdown, so a crash re-processes everything since.",
            hint="Remove it: stored offsets are auto-committed only after processing.", id="karafka.W060"))
    message_timeout = int(config.producer_kafka["message.timeout.ms"])
    if message_timeout > config.producer_sync_timeout_ms:
        messages.append(Warning(
            f"The producer's message.timeout.ms ({message_timeout}) is above PRODUCER_SYNC_TIMEOUT_MS "
            f"({config.producer_sync_timeout_ms}): produce_sync waits for librdkafka's verdict that long, "
            "which a web request may not survive.",
            hint="Set PRODUCER_SYNC_TIMEOUT_MS instead of message.timeout.ms.", id="karafka.W062"))
    reset = kafka.get("auto.offset.reset")
    if reset is not None:
        wanted = {"earliest": ("earliest", "smallest", "beginning"), "latest": ("latest", "largest", "end")}
        for route in routing.routes:
            if str(reset) not in wanted[route.initial_offset]:
                messages.append(Warning(
                    f"KARAFKA['KAFKA'] sets auto.offset.reset={reset!r}, but route '{route.topic}' asks for "
                    f"initial_offset '{route.initial_offset}'; the librdkafka setting wins.",
                    hint="Set the start on the route (initial_offset) and remove auto.offset.reset.", id="karafka.W061"))
    return messages


@register("karafka")
def check_karafka(app_configs: Any = None, **kwargs: Any) -> list:
    loaded = load()
    _, listener_problems = build_listeners(loaded.config.listeners)
    messages: list = [Error(p.msg, hint=p.hint, id=p.id) for p in [*loaded.problems, *listener_problems]]
    messages += delivery_overrides(loaded.config, loaded.routing)
    if not messages and not loaded.routing.routes:
        messages.append(Warning(
            "No consumers are routed.",
            hint="Add KARAFKA['ROUTES'] or @route consumers in an app's consumers.py.",
            id="karafka.W001",
        ))
    return messages


@register(Tags.database)
def check_offset_databases(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list:
    """Routes storing offsets in a database need its transactions (``check --database``, ``migrate``)."""
    loaded = load()
    messages = []
    for route in loaded.routing.routes:
        if route.offsets_in_database and route.database in (databases or ()) and \
                not connections[route.database].features.supports_transactions:
            messages.append(Error(
                f"route '{route.topic}' stores offsets in database '{route.database}', which has no transactions: "
                "the batch's writes and its offset could not commit together.",
                hint="Use a transactional database (PostgreSQL, SQLite, MySQL with InnoDB) or offset_storage 'kafka'.",
                id="karafka.E070"))
    return messages
