"""A route's declaration of its topic (``"config": {"partitions": 6, ...}``), which
``manage.py karafka_topics`` plans and applies against the cluster (``topics.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from ..problems import Problem


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int = 1
    configs: dict[str, str] = field(default_factory=dict)
    create_only: bool = False  # the framework's own topics: created when missing, never altered


def parse_spec(topic: str, raw: Any, where: str, problems: list[Problem]) -> TopicSpec | None:
    if not isinstance(raw, dict):
        problems.append(Problem("karafka.E050", f"{where}: config must be a dict with 'partitions'."))
        return None
    partitions, replication = raw.get("partitions"), raw.get("replication_factor", 1)
    for name, value in (("partitions", partitions), ("replication_factor", replication)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            problems.append(Problem("karafka.E051", f"{where}: config '{name}' must be an integer >= 1, got {value!r}."))
            return None
    configs = {k: str(v) for k, v in raw.items() if k not in ("partitions", "replication_factor")}
    return TopicSpec(topic, cast(int, partitions), replication, configs)  # checked above
