"""System checks: every configuration problem as ``karafka.E0xx`` (``manage.py check``)."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, Warning, register

from .conf import get_config
from .routing import build_routing


@register("karafka")
def check_karafka(app_configs: Any = None, **kwargs: Any) -> list:
    config = get_config()
    routing = build_routing(config)
    messages: list = [Error(p.msg, hint=p.hint, id=p.id) for p in [*config.problems, *routing.problems]]
    if not messages and not routing.routes:
        messages.append(Warning(
            "No consumers are routed.",
            hint="Add KARAFKA['ROUTES'] or @route consumers in an app's consumers.py.",
            id="karafka.W001",
        ))
    return messages
