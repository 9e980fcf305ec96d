"""One picture of a running server, taken in one place (``Server.snapshot()``) and read by every
figure it shows: the status line, ``/healthz``, Prometheus ``/metrics`` and the admin's reports.

Readers get plain values, never the live objects: a rebalance that replaces coordinators while
a report is written cannot make two figures of one report disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PartitionSnapshot:
    consumer_group: str
    topic: str
    partition: int
    committed: int | None  # librdkafka's statistics: the group's committed offset
    high_watermark: int | None
    #: high watermark - stored offset (what was processed, committed or not): near zero for a
    #: caught-up consumer; high watermark - committed until the first offset is stored; None
    #: until librdkafka knows them
    lag: int | None
    committed_lag: int | None  # high watermark - committed: what a restart would re-read
    paused: bool  # by an operator (admin), until resumed
    fetch_paused: bool
    last_processed_at: float | None  # wall clock
    errors: int  # since the partition last recovered
    running_s: float | None = None  # how long the batch in flight has run
    paused_s: float | None = None  # how long a backoff or a pause has held the partition
    #: why the consumed offset has not moved for STALLED_PARTITION_TIMEOUT_MS with work waiting; since when (s)
    stalled: str | None = None
    stalled_s: float | None = None


@dataclass(frozen=True)
class ListenerSnapshot:
    subscription_group: str
    consumer_group: str
    topics: list[str]
    polled_s_ago: float
    max_poll_interval_s: float
    brokers: str  # connecting | up | degraded | down | failed
    brokers_down_s: float  # how long no broker was reachable (0 while one is)
    failure: str | None  # why the client cannot work (authentication, fatal error)
    brokers_unreachable: tuple[int, ...] = ()  # node ids lost while others answer (state degraded)
    partitions: tuple[PartitionSnapshot, ...] = ()
    broker_ids: frozenset[int] = frozenset()  # the cluster's brokers librdkafka knows
    #: librdkafka's totals (messages and bytes fetched, messages queued); empty before its first statistics
    client_totals: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class WorkersSnapshot:
    concurrency: int
    busy: int
    queued: int  # jobs waiting for a worker
    processed: int
    idle_s: float  # since a worker last finished a job
    processed_by_topic: dict[tuple[str, str], int] = field(default_factory=dict)  # (consumer group, topic)


@dataclass(frozen=True)
class ServerSnapshot:
    node: int | None  # swarm node index, None outside a swarm
    state: str
    metrics: bool  # serves /healthz and /metrics
    workers: WorkersSnapshot
    listeners: tuple[ListenerSnapshot, ...]
    buffered_bytes: int
    #: dependencies unavailable now: {"dependency", "since_s", "retries", "error"} (processing.dependencies)
    dependencies_unavailable: tuple[dict[str, Any], ...] = ()
    transactional_producers: int = 0  # open now (processing.transactions)

    @property
    def partitions(self) -> list[PartitionSnapshot]:
        return [p for listener in self.listeners for p in listener.partitions]

    @property
    def stalled_partitions(self) -> list[dict[str, Any]]:
        """What ``/healthz`` lists: partitions stuck with work waiting (they do not make it unhealthy)."""
        return [{"consumer_group": p.consumer_group, "topic": p.topic, "partition": p.partition, "since_s": p.stalled_s,
                 "reason": p.stalled} for p in self.partitions if p.stalled]

    def status(self) -> dict[str, Any]:
        """The figures of the periodic status line (``app.status``) and of ``/healthz``."""
        return {
            "node": self.node,
            "state": self.state,
            "processed": self.workers.processed,
            "busy": self.workers.busy,
            "queued": self.workers.queued,
            "partitions": len(self.partitions),
            "fetch_paused": sum(p.fetch_paused for p in self.partitions),
            "lag": sum(p.lag for p in self.partitions if p.lag is not None),
            "brokers": ",".join(sorted({listener.brokers for listener in self.listeners})),
            "brokers_unreachable": sorted({n for listener in self.listeners for n in listener.brokers_unreachable}),
            "buffered_mb": round(self.buffered_bytes / 2**20, 1),
            "unavailable": [d["dependency"] for d in self.dependencies_unavailable],
        }
