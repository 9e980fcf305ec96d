"""Brokers for development and tests, importable without Django: what Tansu and Apache Kafka share.

``make_broker(kind)`` is the one place that picks a broker: ``KARAFKA_TEST_BROKER`` (``kafka``, the
reference, or ``tansu``, the demo's pip-installed broker) decides for the test suite and benchmarks.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Iterator, Protocol


class BrokerError(RuntimeError):
    """A broker could not be installed or started; the message says what to do."""


class Broker(Protocol):
    bootstrap_servers: str

    def start(self) -> "Broker": ...
    def stop(self) -> None: ...
    def describe(self) -> str: ...
    def nodes_running(self) -> Iterator[tuple[int, int, str]]: ...


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive free ports (a cluster's listeners sit side by side)."""
    for _ in range(200):
        first = free_port()
        if first + count < 65536 and all(port_is_free(first + i) for i in range(count)):
            return first
    raise BrokerError(f"no {count} consecutive free ports found")


def wait_for_port(host: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise BrokerError(f"nothing listens on {host}:{port} after {timeout}s")
