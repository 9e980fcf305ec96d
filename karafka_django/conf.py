"""The one place the ``KARAFKA`` setting is read.

Parsing never raises: every problem becomes a :class:`Problem` that ``checks.py`` reports as a
``karafka.E0xx`` error and that ``karafka_server`` refuses to start with. Everything else in the
package reads the typed :class:`KarafkaConfig`, never ``settings.KARAFKA`` itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable
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
    "max.partition.fetch.bytes", "isolation.level", "statistics.interval.ms", "group.protocol", "group.remote.assignor",
}

#: Kafka's topic names: letters, digits, '.', '_' and '-', at most 249 characters.
TOPIC_NAME = re.compile(r"[A-Za-z0-9._-]{1,249}")


def _as_given(value: Any) -> Any:
    """Parsed and checked where it is used: ROUTES by routing/, LISTENERS by instrumentation/,
    TRANSIENT_ERRORS with the routes (each with check ids of its own)."""
    return value


def _librdkafka(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError("must be a dict of librdkafka settings")
    return value


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("must be an integer >= 1")
    return value


def _optional_positive_int(value: Any) -> int | None:
    return None if value is None else _positive_int(value)


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be True or False")
    return value


def _optional_boolean(value: Any) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise ValueError("must be True, False or None")
    return value


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("must be a non-empty string")
    return value


def _topic(value: Any) -> str:
    if not isinstance(value, str) or not TOPIC_NAME.fullmatch(value):
        raise ValueError("must be a Kafka topic name (letters, digits, '.', '_' and '-', at most 249)")
    return value


@dataclass(frozen=True)
class Setting:
    """One key of ``KARAFKA``: its default, its parser (the value, or ``ValueError`` saying what
    it must be) and the check id of an invalid value. The setting's ``KarafkaConfig`` field is
    its key in lower case."""

    key: str
    default: Any
    parse: Callable[[Any], Any]
    check_id: str
    doc: str  #: what it means, for the settings reference (docs/reference/settings.md is generated from it)


SETTINGS: tuple[Setting, ...] = (
    Setting("KAFKA", {}, _librdkafka, "karafka.E003",
            "librdkafka settings of every client; `bootstrap.servers` is required. Merged over our defaults "
            "(`enable.auto.offset.store=false`, `fetch.queue.backoff.ms=10`, `statistics.interval.ms=5000`, `client.id=CLIENT_ID`): "
            "yours win."),
    Setting("PRODUCER", {}, _librdkafka, "karafka.E014",
            "librdkafka settings for the producer only, over `KAFKA` (whose consumer-only keys it leaves out)."),
    Setting("CLIENT_ID", "karafka", _name, "karafka.E098",
            "the clients' `client.id` and the default consumer group."),
    Setting("CONCURRENCY", 5, _positive_int, "karafka.E005",
            "worker threads of a server process (each may hold one database connection)."),
    Setting("MAX_MESSAGES", None, _optional_positive_int, "karafka.E006",
            "largest batch handed to `consume()`; unset, a batch is what its partition has buffered, up to 1000 "
            "messages and 1 MiB of payloads: large while a backlog drains, small once caught up."),
    Setting("MAX_WAIT_TIME_MS", 1000, _positive_int, "karafka.E007",
            "longest a poll waits when nothing arrives; a message that arrives is handed over at once."),
    Setting("SHUTDOWN_TIMEOUT_MS", 60000, _positive_int, "karafka.E008",
            "how long a stop waits for in-flight batches before it forces (exit code 2)."),
    Setting("PAUSE_TIMEOUT_MS", 1000, _positive_int, "karafka.E009",
            "first backoff after an error, and the default length of `pause()`."),
    Setting("PAUSE_MAX_TIMEOUT_MS", 30000, _positive_int, "karafka.E015",
            "longest backoff."),
    Setting("PAUSE_WITH_EXPONENTIAL_BACKOFF", True, _boolean, "karafka.E071",
            "double the backoff on every failed attempt."),
    Setting("STATUS_INTERVAL_MS", 5000, _positive_int, "karafka.E016",
            "period of the status log line (`app.status`)."),
    Setting("SWARM_NODE_REPORT_TIMEOUT_MS", 30000, _positive_int, "karafka.E017",
            "a swarm node silent this long is killed and restarted."),
    Setting("PRODUCER_SYNC_TIMEOUT_MS", 5000, _positive_int, "karafka.E018",
            "longest `produce_sync` waits; also the producer's `message.timeout.ms`."),
    Setting("PRODUCER_QUEUE_FULL_TIMEOUT_MS", 1000, _positive_int, "karafka.E019",
            "longest `produce_async` waits while librdkafka's local queue is full."),
    Setting("REVOCATION_TIMEOUT_MS", 10000, _positive_int, "karafka.E090",
            "longest a rebalance waits for the running batches of revoked partitions (at most half of `max.poll.interval.ms`)."),
    Setting("MAX_BUFFERED_BYTES", 256 * 1024 * 1024, _positive_int, "karafka.E091",
            "process-wide cap on fetched, not yet processed message bytes; `queued.max.messages.kbytes` defaults to a quarter of it."),
    Setting("OUTBOX_RELAY_INTERVAL_MS", 10000, _positive_int, "karafka.E092",
            "how often `karafka_server` relays outbox rows a dead process left behind."),
    Setting("OUTBOX_RELAY_AFTER_MS", 30000, _positive_int, "karafka.E093",
            "age of an outbox row before the relay sends it (a younger one may still be on its way)."),
    Setting("TRANSIENT_ERRORS", [], _as_given, "karafka.E013",
            "exception classes (dotted paths) meaning a dependency is unavailable, for every route: the partition waits, nothing is "
            "dead-lettered."),
    Setting("TRANSIENT_ERROR_TIMEOUT_MS", 10 * 60 * 1000, _positive_int, "karafka.E094",
            "how long a partition may wait for a dependency before its failures count again."),
    Setting("STALLED_PARTITION_TIMEOUT_MS", 5 * 60 * 1000, _positive_int, "karafka.E095",
            "a partition whose consumed offset has not moved this long while work waits is *stalled*."),
    Setting("EXPLORER_PREVIEW_BYTES", 10_000, _positive_int, "karafka.E096",
            "how much of a message value the admin's explorer shows (the whole value is a download)."),
    Setting("ERROR_PAYLOADS", None, _optional_boolean, "karafka.E076",
            "an excerpt of the failed message in error reports (log, errors topic, Sentry); `None` follows sentry-sdk "
            "2.x's `send_default_pii` (off without Sentry, and with sentry-sdk 3.x)."),
    Setting("REPORTING", False, _boolean, "karafka.E072",
            "publish process reports and errors, and read commands (the admin pages)."),
    Setting("REPORT_INTERVAL_MS", 5000, _positive_int, "karafka.E097",
            "period of the process report."),
    Setting("REPORTS_TOPIC", "karafka_consumers_reports", _topic, "karafka.E073",
            "topic of the process reports (the admin's processes pages)."),
    Setting("ERRORS_TOPIC", "karafka_errors", _topic, "karafka.E074",
            "topic of the error reports (the admin's errors page)."),
    Setting("COMMANDS_TOPIC", "karafka_consumers_commands", _topic, "karafka.E075",
            "topic of the admin's commands to servers (pause, resume, quiet, stop)."),
    Setting("ROUTES", [], _as_given, "karafka.E010",
            "the routes: `topic`, `consumer` (dotted path) and the options of [Declaring consumers](../getting-started.md#declaring-"
            "consumers); `@route` consumers in `consumers.py` are added to them."),
    Setting("LISTENERS", [], _as_given, "karafka.E080",
            "monitor listeners: dotted paths, or dicts with `class` and keyword arguments (OpenTelemetry, StatsD, Sentry, yours)."),
)
KEYS = tuple(setting.key for setting in SETTINGS)


@dataclass(frozen=True)
class KarafkaConfig:
    kafka: dict[str, Any]
    producer_kafka: dict[str, Any]
    client_id: str
    concurrency: int
    max_messages: int | None  # None: batches follow the backlog (processing/buffer.py's AUTO_BATCH_*)
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
    error_payloads: bool | None  # None: instrumentation/privacy.py decides (sentry-sdk 2.x's send_default_pii, else off)
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


def parse(raw: Any) -> KarafkaConfig:
    """Turn a raw ``KARAFKA`` dict into a typed config, collecting problems instead of raising:
    an invalid value is reported with its setting's check id and replaced by the default."""
    problems: list[Problem] = []
    if not isinstance(raw, dict):
        problems.append(Problem("karafka.E001", "settings.KARAFKA must be a dict."))
        raw = {}
    for key in raw:
        if key not in KEYS:
            problems.append(Problem("karafka.E002", f"KARAFKA has an unknown key '{key}'.", did_you_mean(key, KEYS)))
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        value = raw.get(setting.key, setting.default)
        try:
            values[setting.key.lower()] = setting.parse(value)
        except ValueError as exc:
            problems.append(Problem(setting.check_id, f"KARAFKA['{setting.key}'] {exc}, got {value!r}."))
            values[setting.key.lower()] = setting.default
    user_kafka, user_producer = values.pop("kafka"), values.pop("producer")
    if not user_kafka.get("bootstrap.servers"):
        problems.append(Problem("karafka.E004", "KARAFKA['KAFKA']['bootstrap.servers'] is required.",
                                "Point it at your Kafka cluster, e.g. 'kafka1:9092,kafka2:9092'."))
    client_id = values["client_id"]
    producer_kafka = {
        "client.id": client_id,
        # librdkafka gives up on a message when produce_sync does: a failure is definite.
        "message.timeout.ms": values["producer_sync_timeout_ms"],
        **{k: v for k, v in user_kafka.items() if k not in CONSUMER_ONLY_KEYS},
        **user_producer,
    }
    kafka = {**KAFKA_DEFAULTS, "client.id": client_id, **user_kafka}
    return KarafkaConfig(kafka=kafka, producer_kafka=producer_kafka, problems=problems, **values)


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
