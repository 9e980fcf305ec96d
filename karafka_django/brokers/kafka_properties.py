"""The configuration of a development KRaft node (``server.properties``) and its logging."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .kafka import Node

LOG4J2 = """status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = {path}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
"""


def node_properties(node: Node, voters: str, count: int, sasl_users: dict[str, str] | None) -> dict[str, object]:
    """A combined broker and controller of a static quorum (``voters``) of ``count`` nodes."""
    replicas, min_isr = min(count, 3), min(count, 2)
    properties: dict[str, object] = {
        "process.roles": "broker,controller",
        "node.id": node.node_id,
        "controller.quorum.voters": voters,
        "listeners": f"PLAINTEXT://{node.host}:{node.port},CONTROLLER://{node.host}:{node.controller_port}",
        "advertised.listeners": f"PLAINTEXT://{node.address}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": node.directory / "data",
        "num.partitions": 1,
        "default.replication.factor": replicas,
        "min.insync.replicas": min_isr,
        "offsets.topic.replication.factor": replicas,
        "offsets.topic.num.partitions": 10,
        "transaction.state.log.replication.factor": replicas,
        "transaction.state.log.min.isr": min_isr,
        "transaction.state.log.num.partitions": 10,
        "share.coordinator.state.topic.replication.factor": replicas,
        "share.coordinator.state.topic.min.isr": min_isr,
        # A development broker: a group forms at once, a lost node is fenced in seconds.
        "group.initial.rebalance.delay.ms": 0,
        "broker.heartbeat.interval.ms": 500,
        "broker.session.timeout.ms": 3000,
        # The consumer group protocol (KIP-848) keeps sessions and heartbeats on the broker: as short
        # as the classic members' session.timeout.ms in the tests (a killed member leaves in seconds).
        "group.consumer.min.session.timeout.ms": 6000,
        "group.consumer.session.timeout.ms": 6000,
        "group.consumer.min.heartbeat.interval.ms": 1000,
        "group.consumer.heartbeat.interval.ms": 1000,
    }
    if sasl_users is not None:
        properties.update(sasl_properties(node, sasl_users))
    return properties


def sasl_properties(node: Node, users: dict[str, str]) -> dict[str, str]:
    """Clients and nodes on one SASL_PLAINTEXT listener with PLAIN and static users."""
    declared = " ".join(f'user_{name}="{password}"' for name, password in users.items())
    return {
        "listeners": f"SASL_PLAINTEXT://{node.host}:{node.port},CONTROLLER://{node.host}:{node.controller_port}",
        "advertised.listeners": f"SASL_PLAINTEXT://{node.address}",
        "inter.broker.listener.name": "SASL_PLAINTEXT",
        "listener.security.protocol.map": "SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
        "sasl.enabled.mechanisms": "PLAIN",
        "sasl.mechanism.inter.broker.protocol": "PLAIN",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config":
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="karafka-broker" password="{users["karafka-broker"]}" {declared};',
    }

