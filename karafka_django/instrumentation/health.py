"""Liveness: is every listener polling and are the workers making progress?

Unhealthy when a listener has not polled within its ``max.poll.interval.ms`` (librdkafka would
drop it from the group), when its client has reached no broker for that long, when its client
failed (authentication, fatal error), or when jobs wait while no worker finished one for that
long (the pool is stuck). Meant for a Kubernetes liveness probe on ``/healthz``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..producer import producer

if TYPE_CHECKING:
    from ..server import Server


def check_health(server: "Server") -> tuple[bool, dict[str, Any]]:
    now = time.monotonic()
    problems = []
    for listener in server.listeners:
        silent = now - listener.last_poll_at
        if silent > listener.max_poll_interval_s:
            problems.append(f"listener {listener.subscription_group.name} has not polled for {silent:.1f}s")
        down = listener.faults.down_for(now)
        if down > listener.max_poll_interval_s:
            problems.append(f"listener {listener.subscription_group.name} reached no broker for {down:.1f}s")
        if listener.faults.failure:
            problems.append(f"listener {listener.subscription_group.name} failed: {listener.faults.failure}")
    limit = max((listener.max_poll_interval_s for listener in server.listeners), default=300.0)
    idle_for = now - server.workers.last_finished_at
    if len(server.jobs) and idle_for > limit:
        problems.append(f"{len(server.jobs)} jobs wait and no worker finished one for {idle_for:.1f}s")
    return not problems, {"healthy": not problems, "problems": problems, **server.status(), "producer": producer.state()}
