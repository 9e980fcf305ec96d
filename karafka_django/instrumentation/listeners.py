"""The listeners named in ``KARAFKA['LISTENERS']``: built once per process when Django is
ready and subscribed to the monitor, so the web process's producer and the server alike report
through them. Each entry is a dotted path, or a dict with ``"class"`` and keyword arguments:

    "LISTENERS": ["karafka_django.instrumentation.vendors.sentry.SentryListener",
                  {"class": "karafka_django.instrumentation.vendors.statsd.StatsdListener", "port": 8125}]
"""

from __future__ import annotations

import logging
from typing import Any

from django.utils.module_loading import import_string

from ..problems import Problem
from .monitor import Monitor

logger = logging.getLogger("karafka_django.listeners")

_subscribed: list[object] = []


def build(raw: Any) -> tuple[list[object], list[Problem]]:
    """The listener objects ``raw`` names, and the problems of those that cannot be built."""
    listeners: list[object] = []
    problems: list[Problem] = []
    if not isinstance(raw, (list, tuple)):
        return [], [Problem("karafka.E080", "KARAFKA['LISTENERS'] must be a list of dotted paths or dicts.")]
    for index, item in enumerate(raw):
        where = f"KARAFKA['LISTENERS'][{index}]"
        if isinstance(item, str):
            path, options = item, {}
        elif isinstance(item, dict) and isinstance(item.get("class"), str):
            path, options = item["class"], {k: v for k, v in item.items() if k != "class"}
        else:
            problems.append(Problem("karafka.E080", f"{where} must be a dotted path or a dict with 'class', got {item!r}."))
            continue
        try:
            listener_class = import_string(path)
        except ImportError as exc:
            problems.append(Problem("karafka.E081", f"{where}: cannot import '{path}': {exc}.",
                                    "Install the integration's extra, e.g. pip install 'karafka_django[otel]'."))
            continue
        try:
            listeners.append(listener_class(**options))
        except Exception as exc:
            problems.append(Problem("karafka.E082", f"{where}: {path}({', '.join(options)}) failed: {exc}."))
    return listeners, problems


def subscribe_configured(monitor: Monitor, raw: Any) -> list[object]:
    """Subscribe the configured listeners (once per process); problems are logged here and
    reported by ``manage.py check``."""
    if _subscribed:
        return _subscribed
    listeners, problems = build(raw)
    for problem in problems:
        logger.warning("%s: %s", problem.id, problem.msg)
    for listener in listeners:
        monitor.subscribe(listener)
    _subscribed.extend(listeners)
    return _subscribed
