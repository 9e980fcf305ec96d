"""The one place the package builds librdkafka clients.

Every client (the listeners' consumers, the producer, admin clients, readers, the reporter's
command reader) starts from settings derived from ``KAFKA`` (``KarafkaConfig.consumer_kafka``,
``producer_kafka`` or ``tool_kafka``), so the cluster's credentials and TLS settings are never
lost, and gets the package's log bridge (:func:`client_logger`). A caller adds only what its role
needs.
"""

from __future__ import annotations

from typing import Any

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from ..instrumentation.client_logs import client_logger
from .faults import failure_of


def consumer(kafka: dict[str, Any], **role: Any) -> Consumer:
    return Consumer(_settings(kafka, role, "consumer"))


def producer(kafka: dict[str, Any], **role: Any) -> Producer:
    return Producer(_settings(kafka, role, "producer"))


def admin(kafka: dict[str, Any], failures: Failures | None = None) -> AdminClient:
    return AdminClient(_settings(kafka, {"error_cb": failures.on_error} if failures else {}, "admin"))


class Failures:
    """What makes a short-lived client (a command's) useless, in the words the server's listener
    uses: wrong credentials or a fatal error. A request then only times out; :meth:`explain`
    says why instead."""

    def __init__(self) -> None:
        self.failure: str | None = None

    def on_error(self, error: Any) -> None:
        self.failure = self.failure or failure_of(error)

    def explain(self, exc: BaseException, client: AdminClient | Consumer | None) -> str:
        if client is not None:
            client.poll(0)  # serve the error callbacks librdkafka queued meanwhile
        return f"the cluster refused this client: {self.failure}" if self.failure else str(exc)


def _settings(kafka: dict[str, Any], role: dict[str, Any], kind: str) -> dict[str, Any]:
    return {**kafka, **role, "logger": client_logger(kind)}
