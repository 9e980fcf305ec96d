"""The monitor: named events with subscribers, Karafka's notifications bus.

``instrument`` costs a dict lookup when nobody listens, so events can sit on warm paths.
Subscribers run on the thread that emits; one that raises is logged and never breaks processing.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from typing import Any, Callable

logger = logging.getLogger("karafka_django.monitor")

Subscriber = Callable[[str, dict[str, Any]], None]

#: Every event the framework emits. A listener object subscribes to one by having a method
#: named ``on_`` + the event with dots as underscores (``on_error_occurred``).
EVENTS = (
    "app.running",
    "app.quieting",
    "app.stopping",
    "app.stopped",
    "app.status",
    "app.command",
    "process.notice_signal",
    "connection.listener.fetch_loop",
    "connection.listener.partitions_assigned",
    "connection.listener.partitions_revoked",
    "connection.listener.partitions_lost",
    "connection.client.state_changed",
    "consumer.consumed",
    "consumer.revoked",
    "consumer.shutdown",
    "consumer.ticked",
    "filtering.skipped",
    "worker.processed",
    "dead_letter_queue.dispatched",
    "statistics.emitted",
    "swarm.running",
    "swarm.stopped",
    "swarm.node_started",
    "swarm.node_exited",
    "swarm.node_silent",
    "error.occurred",
)


class Monitor:
    def __init__(self) -> None:
        self._subscribers: dict[str, list[Subscriber]] = defaultdict(list)
        self._lock = threading.Lock()

    def subscribe(self, event: str | object, subscriber: Subscriber | None = None) -> None:
        """``subscribe(event, fn)`` calls ``fn(event, payload)`` (``"*"``: every event);
        ``subscribe(listener)`` subscribes each ``on_<event>`` method the object has."""
        if isinstance(event, str):
            assert subscriber is not None
            with self._lock:
                self._subscribers[event] = [*self._subscribers[event], subscriber]
            return
        for name in EVENTS:
            method = getattr(event, "on_" + name.replace(".", "_"), None)
            if method is not None:
                self.subscribe(name, method)

    def unsubscribe(self, event: str, subscriber: Subscriber) -> None:
        with self._lock:
            self._subscribers[event] = [s for s in self._subscribers[event] if s is not subscriber]

    def has_subscribers(self, event: str) -> bool:
        return bool(self._subscribers.get(event) or self._subscribers.get("*"))

    def instrument(self, event: str, **payload: Any) -> None:
        direct, wildcard = self._subscribers.get(event), self._subscribers.get("*")
        if not direct and not wildcard:
            return
        for subscriber in (direct or []) + (wildcard or []):
            try:
                subscriber(event, payload)
            except Exception:
                logger.exception("monitor subscriber %r failed on %s", subscriber, event)


monitor = Monitor()
