"""Client faults as states: what librdkafka's error callback says, logged when it changes.

librdkafka retries a broken connection every few milliseconds and reports every attempt. A
server under a persistent fault must say it once and act: the listener keeps one
``ClientFaults`` and emits ``connection.client.state_changed`` (``down``, ``up``, ``degraded``,
``failed``) only when the state changes. ``degraded``: a broker answers but another one the client
was connected to does not (a node of the cluster lost); its node ids are in ``unreachable``.
Authentication failures and fatal errors are ``failed``: the server stops gracefully with
``EXIT_CLIENT_FAULT``; but a fatal error that a new client instance cures (a KIP-848 member whose
session the group dropped: ``GROUP_ID_NOT_FOUND``, ``UNKNOWN_MEMBER_ID``, a fenced member epoch)
is ``rejoining``: the listener replaces its client, which joins the group again. Other errors
are reported at most once per ``REPEAT_WINDOW_S`` for the same text (numbers that change between
retries aside).
"""

from __future__ import annotations

import time
from typing import Any

from confluent_kafka import KafkaError

from ..instrumentation import Monitor
from ..instrumentation.client_logs import shape

#: Errors that retrying does not cure: the credentials or the client itself are wrong.
FAILING_CODES = {
    KafkaError._AUTHENTICATION,
    KafkaError.SASL_AUTHENTICATION_FAILED,
    KafkaError.TOPIC_AUTHORIZATION_FAILED,
    KafkaError.GROUP_AUTHORIZATION_FAILED,
    KafkaError.CLUSTER_AUTHORIZATION_FAILED,
    KafkaError._SSL,
    KafkaError._INVALID_ARG,
}
#: librdkafka broker states of a connection that was wanted and is not there (never connected is INIT).
UNREACHABLE_STATES = frozenset({"DOWN", "CONNECT", "TRY_CONNECT"})
#: The same error text is reported again only after this long.
REPEAT_WINDOW_S = 30.0


class ClientFaults:
    def __init__(self, monitor: Monitor, **context: Any):
        self.monitor = monitor
        self.context = context  # subscription_group=... or client="producer"
        self.state = "connecting"
        self.down_since: float | None = None
        self.unreachable: tuple[int, ...] = ()  # node ids of brokers lost while others answer
        self.failure: str | None = None  # why the client cannot work (authentication, fatal)
        self.rejoin: str | None = None  # why the client must be replaced by a new one (it cannot go on)
        self.last_error: str | None = None
        self._reported: dict[str, float] = {}
        self._suppressed = 0

    def on_error(self, error: Any) -> None:
        """librdkafka's ``error_cb`` (on the polling thread)."""
        code, text = error.code(), error.str()
        self.last_error = text
        failure = failure_of(error)
        if failure is not None and a_new_client_cures(error):
            if self.rejoin is None:
                self.rejoin = failure
                self._change("rejoining", error=failure)
            return
        if failure is not None:
            if self.failure is None:
                self.failure = failure
                self._change("failed", error=self.failure, fatal=error.fatal())
            return
        if code == KafkaError._ALL_BROKERS_DOWN:
            if self.state != "down":
                self.down_since = time.monotonic()
                self._change("down", error=text)
            return
        now, key = time.monotonic(), shape(text)
        if now - self._reported.get(key, -REPEAT_WINDOW_S) < REPEAT_WINDOW_S:
            self._suppressed += 1
            return
        self._reported[key] = now
        self.monitor.error("connection.client.error", error=text, repeated=self._suppressed, **self.context)
        self._suppressed = 0

    def rejoined(self) -> None:
        """A new client replaced the one that could not go on."""
        self.rejoin = None
        self.state = "connecting"

    def on_reachable(self) -> None:
        """A broker answered (messages arrived)."""
        if self.state in ("connecting", "down"):
            self._set("up", self.unreachable)

    def on_statistics(self, statistics: dict[str, Any]) -> None:
        """librdkafka's statistics: which brokers are up, and which were lost."""
        if self.failure is None and brokers_up(statistics):
            unreachable = unreachable_brokers(statistics)
            self._set("degraded" if unreachable else "up", unreachable)

    def _set(self, state: str, unreachable: tuple[int, ...]) -> None:
        previous, was_unreachable = self.state, self.unreachable
        self.state, self.unreachable, self.down_since = state, unreachable, None
        if (state, unreachable) != (previous, was_unreachable) and (previous, state) != ("connecting", "up"):
            self._change(state, **({"unreachable": ",".join(map(str, unreachable))} if unreachable else {}))

    def down_for(self, now: float) -> float:
        return 0.0 if self.down_since is None else now - self.down_since

    def _change(self, state: str, **details: Any) -> None:
        self.state = state
        self.monitor.instrument("connection.client.state_changed", state=state, **self.context, **details)


#: What to do about a failure, by phrases of its text (all of them present).
REMEDIES = {
    ("ConsumerGroupHeartbeat", "not supported"): "the cluster does not offer group.protocol 'consumer' (KIP-848): it needs "
                                             "Kafka 4.0+ with the protocol enabled; or set group.protocol 'classic'",
}
#: Fatal errors of a group member that a new client instance recovers from: the group dropped
#: this member (its session expired, the group was emptied) or fenced its epoch; a new member
#: joins with a new id. A duplicate static id (UNRELEASED_INSTANCE_ID, FENCED_INSTANCE_ID) is not
#: one: the newcomer would be fenced in turn. librdkafka wraps them in ``_FATAL`` and names them
#: in its text, in its own words (read from it here).
CURED_BY_A_NEW_CLIENT = tuple(KafkaError(code).str() for code in (
    KafkaError.GROUP_ID_NOT_FOUND, KafkaError.UNKNOWN_MEMBER_ID, KafkaError.FENCED_MEMBER_EPOCH))


def a_new_client_cures(error: Any) -> bool:
    return any(phrase in error.str() for phrase in CURED_BY_A_NEW_CLIENT)


def failure_of(error: Any) -> str | None:
    """Why a client cannot work when ``error`` says so (authentication, a fatal error), as one
    line, with what to do about it when that is known."""
    if not (error.fatal() or error.code() in FAILING_CODES or error.code() == KafkaError._FATAL):
        return None
    text = f"{error.name()}: {error.str()}"
    remedy = next((remedy for phrases, remedy in REMEDIES.items() if all(p in text for p in phrases)), None)
    return f"{text} ({remedy})" if remedy else text


def brokers_up(statistics: dict[str, Any]) -> bool:
    """Does librdkafka's statistics document show a broker connection that is up?"""
    return any(b.get("state") == "UP" for b in statistics.get("brokers", {}).values() if b.get("nodeid", -1) >= 0)


def unreachable_brokers(statistics: dict[str, Any]) -> tuple[int, ...]:
    """Node ids of the brokers whose connection librdkafka has lost (and keeps trying)."""
    return tuple(sorted(b["nodeid"] for b in statistics.get("brokers", {}).values()
                        if b.get("nodeid", -1) >= 0 and b.get("state") in UNREACHABLE_STATES))
