"""Apache Kafka for development and tests: KRaft nodes run from Kafka's own jars.

The jars come from Maven (:mod:`.kafka_jars`); no tarball or container image is needed.

Layout: every node is a combined broker and controller (``process.roles=broker,controller``) with a
static quorum of all nodes, so a three-node cluster keeps its quorum with one node down, and every
node holds the data of the topics it replicates. Brokers listen on ``port .. port+n-1`` and
controllers on the next ``n`` ports. The internal topics are replicated to ``min(n, 3)`` nodes with
a min ISR of ``min(n, 2)``, as production would, so one node can run alone.

Test API: ``start()``, ``kill(node)`` (SIGKILL), ``stop(node)`` (controlled shutdown),
``start(node)`` again with its data, ``leader(topic, partition)``, ``coordinator(group)``.
"""

from __future__ import annotations

import base64
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .base import BrokerError, free_ports, wait_for_port
from .kafka_jars import KAFKA_VERSION, classpath, java
from .kafka_properties import LOG4J2, node_properties

READY_TIMEOUT_S = 120.0



def new_cluster_id() -> str:
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


@dataclass
class Node:
    """One KRaft node: its ports, its directory (configuration, data, logs) and its process."""

    node_id: int
    host: str
    port: int
    controller_port: int
    directory: Path
    process: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.directory / "server.properties"

    @property
    def formatted(self) -> bool:
        return (self.directory / "data" / "meta.properties").exists()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def started(self) -> subprocess.Popen:
        """The node's process (it has been started)."""
        if self.process is None:
            raise BrokerError(f"node {self.node_id} was never started")
        return self.process

    def log_tail(self, lines: int = 20) -> str:
        logs = [self.directory / "stdout.log", self.directory / "server.log"]
        text = "\n".join(p.read_text(errors="replace") for p in logs if p.exists())
        return "\n".join(text.splitlines()[-lines:])


class KafkaCluster:
    """``brokers`` Apache Kafka nodes on ``host``; a context manager that starts and stops them all.

    ``data_dir`` keeps the nodes' data across runs (a temporary directory, removed at ``stop()``,
    unless given).
    """

    def __init__(self, brokers: int = 1, port: int | None = None, data_dir: Path | None = None,
                 host: str = "127.0.0.1", heap: str = "768m", sasl_users: dict[str, str] | None = None,
                 properties: dict[str, object] | None = None):
        """``sasl_users`` (name: password): clients must authenticate with SASL/PLAIN as one of
        them (over plaintext: a development broker); the nodes use a user of their own.
        ``properties``: broker settings over the development defaults (e.g. a feature turned off)."""
        if brokers < 1:
            raise BrokerError("a cluster has at least one broker")
        self.host, self.heap = host, heap
        self.sasl_users = None if sasl_users is None else {**sasl_users, "karafka-broker": uuid.uuid4().hex}
        self.properties = properties or {}
        self.keep_data = data_dir is not None
        self.data_dir = Path(data_dir or Path(tempfile.gettempdir()) / f"karafka-kafka-{uuid.uuid4().hex[:12]}")
        first = port or free_ports(2 * brokers)
        self.nodes = {i: Node(i, host, first + i - 1, first + brokers + i - 1, self.data_dir / f"node-{i}")
                      for i in range(1, brokers + 1)}

    # -- what tests and the command read

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(node.address for node in self.nodes.values())

    @property
    def client_settings(self) -> dict[str, str]:
        """What a client needs to reach the cluster (with the nodes' own SASL identity, if any)."""
        settings = {"bootstrap.servers": self.bootstrap_servers}
        if self.sasl_users is not None:
            settings.update({"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN", "sasl.username": "karafka-broker",
                             "sasl.password": self.sasl_users["karafka-broker"]})
        return settings

    @property
    def ports(self) -> set[int]:
        return {node.port for node in self.nodes.values()}

    def describe(self) -> str:
        count = len(self.nodes)
        return f"Apache Kafka {KAFKA_VERSION} (KRaft, {count} node{'s' if count > 1 else ''})"

    def nodes_running(self) -> Iterator[tuple[int, int, str]]:
        """``(node id, pid, address)`` of each running node."""
        for node in self.nodes.values():
            if node.running:
                yield node.node_id, node.started.pid, node.address

    def leader(self, topic: str, partition: int) -> int:
        """The node id leading ``topic``/``partition``, as a running node's metadata says."""
        metadata = self._admin().list_topics(timeout=10)  # all topics: naming one may create it
        return metadata.topics[topic].partitions[partition].leader

    def coordinator(self, group: str) -> int:
        """The node id of ``group``'s coordinator."""
        admin = self._admin()  # held until the answer: a collected client never completes its futures
        return admin.describe_consumer_groups([group])[group].result(15).coordinator.id

    # -- lifecycle

    def start(self, node: int | None = None, timeout: float = READY_TIMEOUT_S) -> KafkaCluster:
        """Start every node (fetching jars and formatting storage first), or ``node`` again with its data."""
        nodes = [self.nodes[node]] if node is not None else list(self.nodes.values())
        java()
        cp = classpath()
        self._write_configs()
        with ThreadPoolExecutor(len(nodes)) as pool:
            list(pool.map(lambda n: self._format(n, cp), [n for n in nodes if not n.formatted]))
        for each in nodes:
            if not each.running:
                self._launch(each, cp)
        deadline = time.monotonic() + timeout
        for each in nodes:
            self._wait_ready(each, deadline)
        self._wait_for_group_coordinator(deadline)
        return self

    def stop(self, node: int | None = None, timeout: float = 30) -> None:
        """Stop ``node`` (or every node) with SIGTERM, a controlled shutdown; SIGKILL past ``timeout``."""
        nodes = [self.nodes[node]] if node is not None else list(self.nodes.values())
        for each in nodes:
            if each.running:
                each.started.send_signal(signal.SIGTERM)
        for each in nodes:
            if each.process is not None:
                try:
                    each.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    each.process.kill()
                    each.process.wait()
        if node is None and not self.keep_data:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def kill(self, node: int) -> None:
        """SIGKILL ``node``, as a crash or a lost machine would stop it."""
        each = self.nodes[node]
        if each.running:
            each.started.kill()
            each.started.wait()

    def __enter__(self) -> KafkaCluster:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- internals

    def _admin(self):
        from confluent_kafka.admin import AdminClient
        running = ",".join(n.address for n in self.nodes.values() if n.running) or self.bootstrap_servers
        return AdminClient({**self.client_settings, "bootstrap.servers": running})

    def _write_configs(self) -> None:
        cluster_id_file = self.data_dir / "cluster.id"
        if not cluster_id_file.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            cluster_id_file.write_text(new_cluster_id())
        voters = ",".join(f"{n.node_id}@{n.host}:{n.controller_port}" for n in self.nodes.values())
        for node in self.nodes.values():
            node.directory.mkdir(parents=True, exist_ok=True)
            settings = {**node_properties(node, voters, len(self.nodes), self.sasl_users), **self.properties}
            node.config_path.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
            (node.directory / "log4j2.properties").write_text(LOG4J2.format(path=node.directory / "server.log"))

    def _java(self, node: Node, cp: str, main: str, *args: str) -> list[str]:
        return [java(), f"-Xmx{self.heap}", "-Xms128m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
                "-Djava.awt.headless=true", f"-Dlog4j2.configurationFile={node.directory / 'log4j2.properties'}",
                f"-Dkafka.logs.dir={node.directory}", "-cp", cp, main, *args]

    def _format(self, node: Node, cp: str) -> None:
        cluster_id = (self.data_dir / "cluster.id").read_text().strip()
        done = subprocess.run(self._java(node, cp, "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}",
                                         f"--config={node.config_path}", "--ignore-formatted"),
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise BrokerError(f"formatting node {node.node_id} failed: {(done.stderr or done.stdout).strip()[-500:]}")

    def _launch(self, node: Node, cp: str) -> None:
        with open(node.directory / "stdout.log", "ab") as out:
            node.process = subprocess.Popen(self._java(node, cp, "kafka.Kafka", str(node.config_path)),
                                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def _wait_ready(self, node: Node, deadline: float) -> None:
        """Wait until ``node`` answers metadata requests and lists itself among the live brokers."""
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import AdminClient

        try:
            wait_for_port(node.host, node.port, max(deadline - time.monotonic(), 0.1))
        except BrokerError:
            self._failed(node, "its listener never opened")
        admin = AdminClient({**self.client_settings, "bootstrap.servers": node.address, "log_level": 3})
        while time.monotonic() < deadline:
            if not node.running:
                self._failed(node, f"it exited with {node.started.returncode}")
            try:
                if node.node_id in admin.list_topics(timeout=2).brokers:
                    return
            except KafkaException:
                pass
            time.sleep(0.2)
        self._failed(node, "it did not answer in time")

    def _wait_for_group_coordinator(self, deadline: float) -> None:
        """Wait until a group coordinator answers an offset fetch. A fresh cluster creates
        ``__consumer_offsets`` on the first group request and answers NOT_COORDINATOR meanwhile,
        which librdkafka's admin client does not survive (a crash in ListConsumerGroupOffsets,
        librdkafka issue 5040); a consumer retries it. Ready means ready for every client."""
        from confluent_kafka import Consumer, KafkaException, TopicPartition

        probe = Consumer({**self.client_settings, "group.id": "karafka-broker-ready",
                          "enable.auto.commit": False, "log_level": 3})
        try:
            while time.monotonic() < deadline:
                try:
                    probe.committed([TopicPartition("karafka-broker-ready", 0)], timeout=5)
                    return
                except KafkaException:
                    time.sleep(0.2)
        finally:
            probe.close()
        raise BrokerError("Apache Kafka's group coordinator did not answer in time")

    def _failed(self, node: Node, why: str) -> None:
        raise BrokerError(f"Apache Kafka node {node.node_id} did not start ({why}); its log ends:\n{node.log_tail()}")
