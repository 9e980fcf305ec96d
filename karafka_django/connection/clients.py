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


def consumer(kafka: dict[str, Any], **role: Any) -> Consumer:
    return Consumer(_settings(kafka, role, "consumer"))


def producer(kafka: dict[str, Any], **role: Any) -> Producer:
    return Producer(_settings(kafka, role, "producer"))


def admin(kafka: dict[str, Any]) -> AdminClient:
    return AdminClient(_settings(kafka, {}, "admin"))


def _settings(kafka: dict[str, Any], role: dict[str, Any], kind: str) -> dict[str, Any]:
    return {**kafka, **role, "logger": client_logger(kind)}
