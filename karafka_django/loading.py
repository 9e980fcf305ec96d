"""The preamble every entry point shares: read the settings, build the routing, collect problems.

``manage.py check`` reports the problems; the commands refuse to run with any of them.
"""

from __future__ import annotations

from typing import NamedTuple

from django.core.management.base import CommandError

from .conf import KarafkaConfig, get_config
from .problems import Problem
from .routing import Routing, build_routing


class Loaded(NamedTuple):
    config: KarafkaConfig
    routing: Routing

    @property
    def problems(self) -> list[Problem]:
        return [*self.config.problems, *self.routing.problems]


def load() -> Loaded:
    """The settings and the routing as they are, problems included (never raises)."""
    config = get_config()
    return Loaded(config, build_routing(config))


def load_or_fail() -> Loaded:
    """The settings and the routing, or a ``CommandError`` that lists every problem."""
    loaded = load()
    if loaded.problems:
        raise CommandError("invalid KARAFKA settings (see manage.py check):\n"
                           + "\n".join(f"{p.id}: {p.msg}" for p in loaded.problems))
    return loaded
