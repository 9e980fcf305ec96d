"""What every development broker shares: the error, the protocol, ports."""

from __future__ import annotations

import socket
import time
from typing import Iterator, Protocol


class BrokerError(RuntimeError):
    """A broker could not be installed or started; the message says what to do."""


class Broker(Protocol):
    bootstrap_servers: str
    ports: set[int]  # every node's client port (what a client's TCP connections go to)

    def start(self) -> "Broker": ...
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
