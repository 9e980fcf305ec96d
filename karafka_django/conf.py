"""The one place the ``KARAFKA`` setting is read.

Parsing never raises: every problem becomes a :class:`Problem` that ``checks.py`` reports as a
``karafka.E0xx`` error and that ``karafka_server`` refuses to start with. Everything else in the
package reads the typed :class:`KarafkaConfig`, never ``settings.KARAFKA`` itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

from .problems import Problem, did_you_mean

#: librdkafka settings we own as defaults; anything in ``KARAFKA["KAFKA"]`` wins over them.
KAFKA_DEFAULTS: dict[str, Any] = {
    # Offsets are stored by the listener only after a job processed them (at-least-once);
    # librdkafka then auto-commits what was stored.
    "enable.auto.offset.store": False,
    "enable.auto.commit": True,
    # The 1000 ms default throttles a consumer that drains its queue quickly.
    "fetch.queue.backoff.ms": 10,
    # Lag and throughput for reports come from librdkafka's statistics.
    "statistics.interval.ms": 5000,
    "enable.partition.eof": False,
}

#: Consumer-only settings of KARAFKA['KAFKA'] left out of the producer's config
#: (librdkafka warns about them there); KARAFKA['PRODUCER'] is for producer-only settings.
CONSUMER_ONLY_KEYS = {
    "enable.auto.offset.store", "enable.auto.commit", "fetch.queue.backoff.ms", "enable.partition.eof",
    "group.id", "auto.offset.reset", "session.timeout.ms", "max.poll.interval.ms", "auto.commit.interval.ms",
    "heartbeat.interval.ms", "partition.assignment.strategy", "group.instance.id", "fetch.min.bytes",
    "fetch.max.bytes", "fetch.wait.max.ms", "queued.min.messages", "queued.max.messages.kbytes",
    "max.partition.fetch.bytes", "isolation.level", "statistics.interval.ms",
}


DEFAULTS: dict[str, Any] = {
    "KAFKA": {},
    "PRODUCER": {},
    "CLIENT_ID": "karafka",
    "CONCURRENCY": 5,
    "MAX_MESSAGES": 100,
    "MAX_WAIT_TIME_MS": 1000,
    "SHUTDOWN_TIMEOUT_MS": 60000,
    "PAUSE_TIMEOUT_MS": 1000,
    "PAUSE_MAX_TIMEOUT_MS": 30000,
    "PAUSE_WITH_EXPONENTIAL_BACKOFF": True,
    "STATUS_INTERVAL_MS": 5000,
    "SWARM_NODE_REPORT_TIMEOUT_MS": 30000,
    "PRODUCER_SYNC_TIMEOUT_MS": 5000,
    "PRODUCER_QUEUE_FULL_TIMEOUT_MS": 1000,
    "REVOCATION_TIMEOUT_MS": 10000,
    "MAX_BUFFERED_BYTES": 256 * 1024 * 1024,
    "OUTBOX_RELAY_INTERVAL_MS": 10000,
    "OUTBOX_RELAY_AFTER_MS": 30000,
    "TRANSIENT_ERRORS": [],
    "TRANSIENT_ERROR_TIMEOUT_MS": 10 * 60 * 1000,
    "STALLED_PARTITION_TIMEOUT_MS": 5 * 60 * 1000,
    "EXPLORER_PREVIEW_BYTES": 10_000,
    "REPORTING": False,
    "REPORT_INTERVAL_MS": 5000,
    "REPORTS_TOPIC": "karafka_consumers_reports",
    "ERRORS_TOPIC": "karafka_errors",
    "COMMANDS_TOPIC": "karafka_consumers_commands",
    "ROUTES": [],
    "LISTENERS": [],
}

@dataclass(frozen=True)
class KarafkaConfig:
    kafka: dict[str, Any]
    producer_kafka: dict[str, Any]
    client_id: str
    concurrency: int
    max_messages: int
    max_wait_time_ms: int
    shutdown_timeout_ms: int
    pause_timeout_ms: int
    pause_max_timeout_ms: int
    pause_with_exponential_backoff: bool
    status_interval_ms: int
    swarm_node_report_timeout_ms: int
    producer_sync_timeout_ms: int
    producer_queue_full_timeout_ms: int
    revocation_timeout_ms: int
    max_buffered_bytes: int
    outbox_relay_interval_ms: int
    outbox_relay_after_ms: int
    transient_errors: Any  # dotted paths of exception classes; resolved and checked with the routing (E013)
    transient_error_timeout_ms: int
    stalled_partition_timeout_ms: int
    explorer_preview_bytes: int
    reporting: bool
    report_interval_ms: int
    reports_topic: str
    errors_topic: str
    commands_topic: str
    routes: Any  # KARAFKA['ROUTES'] as given: routing/ parses and checks it
    listeners: Any  # KARAFKA['LISTENERS'] as given: instrumentation/listeners.py builds and checks them
    problems: list[Problem] = field(default_factory=list)

    @property
    def bootstrap_servers(self) -> str | None:
        return self.kafka.get("bootstrap.servers")

    @property
    def tool_kafka(self) -> dict[str, Any]:
        """The KAFKA settings for short-lived clients (admin pages, commands, the reporter's
        reader): the same cluster and credentials, no statistics."""
        return {k: v for k, v in self.kafka.items() if k != "statistics.interval.ms"}


def _positive_int(raw: dict, key: str, problems: list[Problem], check_id: str) -> int:
    value = raw.get(key, DEFAULTS[key])
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        problems.append(Problem(check_id, f"KARAFKA['{key}'] must be an integer >= 1, got {value!r}."))
        return DEFAULTS[key]
    return value


def parse(raw: Any) -> KarafkaConfig:
    """Turn a raw ``KARAFKA`` dict into a typed config, collecting problems instead of raising."""
    problems: list[Problem] = []
    if not isinstance(raw, dict):
        problems.append(Problem("karafka.E001", "settings.KARAFKA must be a dict."))
        raw = {}
    for key in raw:
        if key not in DEFAULTS:
            problems.append(Problem("karafka.E002", f"KARAFKA has an unknown key '{key}'.",
                                    did_you_mean(key, list(DEFAULTS))))
    user_kafka = raw.get("KAFKA", {})
    if not isinstance(user_kafka, dict):
        problems.append(Problem("karafka.E003", "KARAFKA['KAFKA'] must be a dict of librdkafka settings."))
        user_kafka = {}
    if not user_kafka.get("bootstrap.servers"):
        problems.append(
            Problem("karafka.E004", "KARAFKA['KAFKA']['bootstrap.servers'] is required.",
                    "Point it at your Kafka cluster, e.g. 'kafka1:9092,kafka2:9092'.")
        )
    user_producer = raw.get("PRODUCER", {})
    if not isinstance(user_producer, dict):
        problems.append(Problem("karafka.E003", "KARAFKA['PRODUCER'] must be a dict of librdkafka settings."))
        user_producer = {}
    client_id = str(raw.get("CLIENT_ID", DEFAULTS["CLIENT_ID"]))
    kafka = {**KAFKA_DEFAULTS, "client.id": client_id, **user_kafka}
    sync_timeout_ms = _positive_int(raw, "PRODUCER_SYNC_TIMEOUT_MS", problems, "karafka.E009")
    return KarafkaConfig(
        kafka=kafka,
        producer_kafka={
            "client.id": client_id,
            # librdkafka gives up on a message when produce_sync does: a failure is definite.
            "message.timeout.ms": sync_timeout_ms,
            **{k: v for k, v in user_kafka.items() if k not in CONSUMER_ONLY_KEYS},
            **user_producer,
        },
        client_id=client_id,
        concurrency=_positive_int(raw, "CONCURRENCY", problems, "karafka.E005"),
        max_messages=_positive_int(raw, "MAX_MESSAGES", problems, "karafka.E006"),
        max_wait_time_ms=_positive_int(raw, "MAX_WAIT_TIME_MS", problems, "karafka.E007"),
        shutdown_timeout_ms=_positive_int(raw, "SHUTDOWN_TIMEOUT_MS", problems, "karafka.E008"),
        pause_timeout_ms=_positive_int(raw, "PAUSE_TIMEOUT_MS", problems, "karafka.E009"),
        pause_max_timeout_ms=_positive_int(raw, "PAUSE_MAX_TIMEOUT_MS", problems, "karafka.E009"),
        pause_with_exponential_backoff=bool(
            raw.get("PAUSE_WITH_EXPONENTIAL_BACKOFF", DEFAULTS["PAUSE_WITH_EXPONENTIAL_BACKOFF"])
        ),
        status_interval_ms=_positive_int(raw, "STATUS_INTERVAL_MS", problems, "karafka.E009"),
        swarm_node_report_timeout_ms=_positive_int(raw, "SWARM_NODE_REPORT_TIMEOUT_MS", problems, "karafka.E009"),
        producer_sync_timeout_ms=sync_timeout_ms,
        producer_queue_full_timeout_ms=_positive_int(raw, "PRODUCER_QUEUE_FULL_TIMEOUT_MS", problems, "karafka.E009"),
        revocation_timeout_ms=_positive_int(raw, "REVOCATION_TIMEOUT_MS", problems, "karafka.E009"),
        max_buffered_bytes=_positive_int(raw, "MAX_BUFFERED_BYTES", problems, "karafka.E009"),
        outbox_relay_interval_ms=_positive_int(raw, "OUTBOX_RELAY_INTERVAL_MS", problems, "karafka.E009"),
        outbox_relay_after_ms=_positive_int(raw, "OUTBOX_RELAY_AFTER_MS", problems, "karafka.E009"),
        transient_errors=raw.get("TRANSIENT_ERRORS", DEFAULTS["TRANSIENT_ERRORS"]),
        transient_error_timeout_ms=_positive_int(raw, "TRANSIENT_ERROR_TIMEOUT_MS", problems, "karafka.E009"),
        stalled_partition_timeout_ms=_positive_int(raw, "STALLED_PARTITION_TIMEOUT_MS", problems, "karafka.E009"),
        explorer_preview_bytes=_positive_int(raw, "EXPLORER_PREVIEW_BYTES", problems, "karafka.E009"),
        reporting=bool(raw.get("REPORTING", DEFAULTS["REPORTING"])),
        report_interval_ms=_positive_int(raw, "REPORT_INTERVAL_MS", problems, "karafka.E009"),
        reports_topic=str(raw.get("REPORTS_TOPIC", DEFAULTS["REPORTS_TOPIC"])),
        errors_topic=str(raw.get("ERRORS_TOPIC", DEFAULTS["ERRORS_TOPIC"])),
        commands_topic=str(raw.get("COMMANDS_TOPIC", DEFAULTS["COMMANDS_TOPIC"])),
        routes=raw.get("ROUTES", []),
        listeners=raw.get("LISTENERS", []),
        problems=problems,
    )


_cached: KarafkaConfig | None = None


def get_config() -> KarafkaConfig:
    global _cached
    if _cached is None:
        _cached = parse(getattr(settings, "KARAFKA", {}))
    return _cached


def _reset(*, setting: str, **kwargs: Any) -> None:
    global _cached
    if setting == "KARAFKA":
        _cached = None


setting_changed.connect(_reset)
