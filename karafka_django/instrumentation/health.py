"""Liveness: is every listener polling and are the workers making progress?

Unhealthy when a listener has not polled within its ``max.poll.interval.ms`` (librdkafka would
drop it from the group), when its client has reached no broker for that long, when its client
failed (authentication, fatal error), or when jobs wait while no worker finished one for that
long (the pool is stuck). Meant for a Kubernetes liveness probe on ``/healthz``.
"""

from __future__ import annotations

from typing import Any

from ..producing.producer import producer
from .snapshot import ServerSnapshot


def check_health(snapshot: ServerSnapshot) -> tuple[bool, dict[str, Any]]:
    problems = []
    for listener in snapshot.listeners:
        name, limit = listener.subscription_group, listener.max_poll_interval_s
        if listener.polled_s_ago > limit:
            problems.append(f"listener {name} has not polled for {listener.polled_s_ago:.1f}s")
        if listener.brokers_down_s > limit:
            problems.append(f"listener {name} reached no broker for {listener.brokers_down_s:.1f}s")
        if listener.failure:
            problems.append(f"listener {name} failed: {listener.failure}")
    limit = max((listener.max_poll_interval_s for listener in snapshot.listeners), default=300.0)
    workers = snapshot.workers
    if workers.queued and workers.idle_s > limit:
        problems.append(f"{workers.queued} jobs wait and no worker finished one for {workers.idle_s:.1f}s")
    # A dependency that is down keeps the process alive (a restart would not bring it back): shown, not unhealthy.
    return not problems, {"healthy": not problems, "problems": problems, **snapshot.status(), "producer": producer.state(),
                          "dependencies_unavailable": list(snapshot.dependencies_unavailable),
                          "stalled_partitions": snapshot.stalled_partitions}
