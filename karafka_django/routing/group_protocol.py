"""Which consumer group protocol a subscription group's consumer speaks, and the settings that
cannot hold with it.

``group.protocol: "consumer"`` (KIP-848, GA in Kafka 4.0): the broker assigns partitions
incrementally, a member joining or leaving no longer stops the others. The assignor, the session
and the heartbeat are then the broker's business (``group.remote.assignor`` picks the broker's
assignor); librdkafka would refuse or ignore the classic settings, so they are named up front.
"""

from __future__ import annotations

from typing import Any

from ..problems import Problem

PROTOCOLS = ("classic", "consumer")
#: Classic settings and where their counterpart lives under the consumer protocol.
CLASSIC_ONLY = {
    "partition.assignment.strategy": "the broker assigns: set group.remote.assignor ('uniform' or 'range') instead",
    "session.timeout.ms": "a broker setting now: group.consumer.session.timeout.ms",
    "heartbeat.interval.ms": "a broker setting now: group.consumer.heartbeat.interval.ms",
    "group.protocol.type": "the classic protocol's embedded protocol type; not used",
}


def protocol(config: dict[str, Any]) -> str:
    return str(config.get("group.protocol", "classic"))


def incremental(config: dict[str, Any]) -> bool:
    """Does the consumer take and give partitions incrementally (cooperative-sticky or KIP-848)?"""
    return protocol(config) == "consumer" or "cooperative" in str(config.get("partition.assignment.strategy", ""))


def protocol_problems(config: dict[str, Any], where: str) -> list[Problem]:
    """What cannot hold in one consumer's librdkafka settings (``where`` names the consumer)."""
    chosen = protocol(config)
    if chosen not in PROTOCOLS:
        return [Problem("karafka.E038", f"{where}: group.protocol must be one of {PROTOCOLS}, got {chosen!r}.")]
    if chosen == "classic":
        if "group.remote.assignor" in config:
            return [Problem("karafka.E039", f"{where}: group.remote.assignor works only with group.protocol 'consumer'.",
                            "Set 'group.protocol': 'consumer', or partition.assignment.strategy for the classic protocol.")]
        return []
    return [Problem("karafka.E039", f"{where}: {key} cannot be set with group.protocol 'consumer': {counterpart}.",
                    f"Remove {key} from KAFKA (or the route's 'kafka').")
            for key, counterpart in CLASSIC_ONLY.items() if key in config]
