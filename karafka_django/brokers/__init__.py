"""Brokers for development and tests, importable without Django: what Tansu and Apache Kafka share.

``make_broker(kind)`` is the one place that picks a broker: ``KARAFKA_TEST_BROKER`` (``kafka``, the
reference, or ``tansu``, the demo's pip-installed broker) decides for the test suite and benchmarks.
"""

from __future__ import annotations

import os
from pathlib import Path

from .base import Broker, BrokerError, free_port, free_ports, wait_for_port

__all__ = ["Broker", "BrokerError", "broker_kind", "free_port", "free_ports", "make_broker", "wait_for_port"]

KINDS = ("kafka", "tansu")


def broker_kind() -> str:
    kind = os.environ.get("KARAFKA_TEST_BROKER", "kafka")
    if kind not in KINDS:
        raise BrokerError(f"KARAFKA_TEST_BROKER={kind!r}: use one of {', '.join(KINDS)}")
    return kind


def make_broker(kind: str | None = None, *, brokers: int = 1, port: int | None = None,
                directory: Path | None = None) -> Broker:
    """A broker of ``kind`` (default: ``broker_kind()``), not started yet. ``directory`` keeps its files:
    Kafka's data (reused by the next start) and logs; Tansu, memory only, writes just its log there."""
    kind = kind or broker_kind()
    if kind == "tansu":
        if brokers != 1:
            raise BrokerError("Tansu runs as one memory-only node: a cluster needs Apache Kafka")
        from .tansu import EmbeddedBroker
        return EmbeddedBroker(port, Path(directory) / "tansu.log" if directory else None)
    from .kafka import KafkaCluster
    return KafkaCluster(brokers=brokers, port=port, data_dir=directory)
