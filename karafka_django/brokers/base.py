"""What every development broker shares: the error, the protocol, ports."""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol


class BrokerError(RuntimeError):
    """A broker could not be installed or started; the message says what to do."""


class Broker(Protocol):
    @property
    def bootstrap_servers(self) -> str: ...
    @property
    def ports(self) -> set[int]: ...  # every node's client port (what a client's TCP connections go to)

    def start(self) -> Broker: ...
    def stop(self) -> None: ...
    def describe(self) -> str: ...
    def nodes_running(self) -> Iterator[tuple[int, int, str]]: ...


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


def ephemeral_ports() -> tuple[int, int]:
    """The range the kernel takes outgoing connections' local ports from."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive free ports, below the ephemeral range: a node that is
    stopped and started again must find its port free, and a port in that range can meanwhile
    become some client's local port."""
    low, _ = ephemeral_ports()
    for _ in range(500):
        first = random.randrange(10_000, max(10_001, low - count))
        if all(port_is_free(first + i) for i in range(count)):
            return first
    raise BrokerError(f"no {count} consecutive free ports found below {low}")


def wait_for_port(host: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise BrokerError(f"nothing listens on {host}:{port} after {timeout}s")
