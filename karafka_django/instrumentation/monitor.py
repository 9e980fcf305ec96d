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


class Monitor:
    def __init__(self) -> None:
        self._subscribers: dict[str, list[Subscriber]] = defaultdict(list)
        self._lock = threading.Lock()

    def subscribe(self, event: str, subscriber: Subscriber) -> None:
        """Call ``subscriber(event, payload)`` for ``event``; ``"*"`` receives every event."""
        with self._lock:
            self._subscribers[event] = [*self._subscribers[event], subscriber]

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
