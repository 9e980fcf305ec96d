"""The ``@route`` decorator: consumers declared in an app's ``consumers.py``.

Decorated routes are collected at import time (``apps.py`` autodiscovers ``consumers``
modules) and merged with ``KARAFKA['ROUTES']`` by the builder.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_declared: list[dict[str, Any]] = []


def route(topic: str, **options: Any) -> Callable[[type], type]:
    """Route ``topic`` to the decorated ``BaseConsumer`` subclass.

    Options are the keys of a ``KARAFKA['ROUTES']`` entry (``consumer_group``,
    ``subscription_group``, ``deserializer``, ``initial_offset``, ``active``, ...).
    """

    def register(consumer_class: type) -> type:
        _declared.append({**options, "topic": topic, "consumer": consumer_class})
        return consumer_class

    return register


def declared_routes() -> list[dict[str, Any]]:
    return list(_declared)
