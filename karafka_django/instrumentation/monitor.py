"""The monitor: named events with subscribers, Karafka's notifications bus.

``instrument`` costs a dict lookup when nobody listens, so events can sit on warm paths.
Subscribers run on the thread that emits. A bug in one (ours or a project's) never reaches the
code that emitted: it is logged once per cause (subscriber, event, exception type and the line
that raised), counted (:meth:`Monitor.failures`, ``karafka_instrumentation_failures`` in
``/metrics``), and the event goes on to the other subscribers.

A few blocks can be *wrapped* (:data:`AROUND_EVENTS`): a listener's ``around_<event>(payload)``
returns a context manager the block runs inside (a tracer's span), and may change the payload
(the producer's headers, to carry the trace on).
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from typing import Any

logger = logging.getLogger("karafka_django.monitor")

Subscriber = Callable[[str, dict[str, Any]], None]
Wrapper = Callable[[dict[str, Any]], AbstractContextManager]

#: Blocks a listener can wrap: sending a message (payload: topic, key, headers; a wrapper may
#: replace ``headers``), a consumer's ``consume`` (consumer, messages, route) and a DLQ dispatch
#: (raw, route, error).
AROUND_EVENTS = ("producer.produce", "consumer.consume", "dead_letter_queue.dispatch")

#: Every event the framework emits. A listener object subscribes to one by having a method
#: named ``on_`` + the event with dots as underscores (``on_error_occurred``).
EVENTS = (
    "app.running",
    "app.quieting",
    "app.stopping",
    "app.shutdown_blocked",
    "app.stopped",
    "app.status",
    "app.command",
    "app.reloading",
    "app.reload_failed",
    "dependency.state_changed",
    "topics.created",
    "consumer.stalled",
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
        self._wrappers: dict[str, list[Wrapper]] = {}
        self._lock = threading.Lock()
        self._failures: Counter[tuple[str, str]] = Counter()  # (where, event) -> failures
        self._causes_logged: set[tuple[str, str, str, str]] = set()

    def subscribe(self, event: str | object, subscriber: Subscriber | None = None) -> None:
        """``subscribe(event, fn)`` calls ``fn(event, payload)`` (``"*"``: every event);
        ``subscribe(listener)`` subscribes each ``on_<event>`` method the object has, and its
        ``around_<event>`` methods as wrappers."""
        if isinstance(event, str):
            assert subscriber is not None
            with self._lock:
                self._subscribers[event] = [*self._subscribers[event], subscriber]
            return
        for name, method in _methods(event, "on_", EVENTS):
            self.subscribe(name, method)
        with self._lock:
            for name, method in _methods(event, "around_", AROUND_EVENTS):
                self._wrappers[name] = [*self._wrappers.get(name, []), method]

    def unsubscribe(self, event: str | object, subscriber: Subscriber | None = None) -> None:
        """The reverse of :meth:`subscribe`, in both of its forms."""
        with self._lock:
            if isinstance(event, str):
                self._subscribers[event] = [s for s in self._subscribers[event] if s is not subscriber]
                return
            for name, method in _methods(event, "on_", EVENTS):
                self._subscribers[name] = [s for s in self._subscribers[name] if s != method]
            for name, method in _methods(event, "around_", AROUND_EVENTS):
                self._wrappers[name] = [w for w in self._wrappers.get(name, []) if w != method]

    def around(self, event: str, **payload: Any) -> AbstractContextManager[dict[str, Any]]:
        """Run a block inside the wrappers of ``event``; ``with`` gives the (possibly changed) payload."""
        wrappers = self._wrappers.get(event)
        return _nested(self, wrappers, payload) if wrappers else nullcontext(payload)

    def subscribers(self) -> list[Subscriber | Wrapper]:
        """Every subscribed callable and wrapper, whatever its event (what is listening now)."""
        with self._lock:
            return [*(s for subs in self._subscribers.values() for s in subs),
                    *(w for wrappers in self._wrappers.values() for w in wrappers)]

    def has_subscribers(self, event: str) -> bool:
        return bool(self._subscribers.get(event) or self._subscribers.get("*"))

    def instrument(self, event: str, **payload: Any) -> None:
        direct, wildcard = self._subscribers.get(event), self._subscribers.get("*")
        if not direct and not wildcard:
            return
        for subscriber in (direct or []) + (wildcard or []):
            try:
                subscriber(event, payload)
            except Exception as failure:
                self.reporting_failed(_name(subscriber), event, failure)

    def error(self, kind: str, exception: BaseException | None = None, error: str | None = None, **context: Any) -> None:
        """Publish ``error.occurred`` (``type=kind``, ``error`` "Class: message" unless given).
        Never raises: reporting an error cannot change what happens to what failed."""
        try:
            if error is None:
                error = describe(exception)
            self.instrument("error.occurred", type=kind, **context, error=error, exception=exception)
        except Exception as failure:
            self.reporting_failed("monitor.error", "error.occurred", failure)

    def reporting_failed(self, where: str, event: str, failure: BaseException) -> None:
        """A failure while telling about something (a subscriber, building an event): counted
        always, logged with its traceback the first time its cause is seen."""
        frame = traceback.extract_tb(failure.__traceback__)[-1:] if failure.__traceback__ else []
        line = f"{frame[0].filename}:{frame[0].lineno}" if frame else ""
        cause = (where, event, type(failure).__qualname__, line)
        with self._lock:
            self._failures[(where, event)] += 1
            first = cause not in self._causes_logged
            self._causes_logged.add(cause)
        if first:
            logger.error("instrumentation failed: %s on %s raised %s (logged once per cause, counted after)",
                         where, event, describe(failure), exc_info=(type(failure), failure, failure.__traceback__))

    def failures(self) -> dict[tuple[str, str], int]:
        """Failures of the instrumentation so far, per (subscriber or step, event)."""
        with self._lock:
            return dict(self._failures)


def describe(exception: BaseException | None) -> str:
    """``Class: message``, the form every error line and report uses."""
    if exception is None:
        return ""
    try:
        return f"{type(exception).__name__}: {exception}"
    except Exception:  # its message cannot be made: say so rather than fail while telling about it
        return f"{type(exception).__name__}: <unprintable>"


def _name(subscriber: Any) -> str:
    owner = getattr(subscriber, "__self__", None)
    if owner is not None:
        return f"{type(owner).__qualname__}.{getattr(subscriber, '__name__', '?')}"
    return getattr(subscriber, "__qualname__", None) or repr(subscriber)


def _methods(listener: object, prefix: str, events: tuple[str, ...]) -> Iterator[tuple[str, Any]]:
    for name in events:
        method = getattr(listener, prefix + name.replace(".", "_"), None)
        if method is not None:
            yield name, method


@contextmanager
def _nested(monitor: Monitor, wrappers: list[Wrapper], payload: dict[str, Any]) -> Iterator[dict[str, Any]]:
    with ExitStack() as stack:
        for wrapper in wrappers:
            stack.enter_context(_Guarded(monitor, wrapper, payload))
        yield payload


class _Guarded:
    """One wrapper around a block: a wrapper that fails to enter is skipped, one that fails on
    exit is reported; neither changes the block's own outcome (its exception, or none)."""

    def __init__(self, monitor: Monitor, wrapper: Wrapper, payload: dict[str, Any]):
        self.monitor, self.wrapper, self.payload = monitor, wrapper, payload
        self.entered: AbstractContextManager | None = None

    def __enter__(self) -> None:
        try:
            context = self.wrapper(self.payload)
            context.__enter__()
            self.entered = context
        except Exception as failure:
            self.monitor.reporting_failed(_name(self.wrapper), "around", failure)

    def __exit__(self, *exc_info: Any) -> None:  # never swallows the block's exception
        if self.entered is not None:
            try:
                self.entered.__exit__(*exc_info)
            except Exception as failure:
                self.monitor.reporting_failed(_name(self.wrapper), "around", failure)


monitor = Monitor()
