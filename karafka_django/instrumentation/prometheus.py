"""Prometheus metrics (optional: ``pip install 'karafka_django[metrics]'``).

Counters and the processing-time histogram are fed by monitor events (so they cost nothing when
not enabled); lag, partitions, workers, the producer and librdkafka's own figures are read from
the live server at scrape time, so they are never stale after a rebalance. The registry also has
the conventional ``process_*`` and ``python_*`` collectors; no ``_created`` series (they double
the series count for a value nobody alerts on).
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from ..producing.producer import producer
from .snapshot import ServerSnapshot

PARTITION = ["consumer_group", "topic", "partition"]
BUCKETS_S = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120)


class EventCounter:
    """A counter fed by events, collected as a family at scrape time."""

    def __init__(self, name: str, documentation: str, labels: list[str]):
        self.name, self.documentation, self.labels = name, documentation, labels
        self.values: dict[tuple[str, ...], float] = defaultdict(float)
        self.lock = threading.Lock()

    def inc(self, labels: tuple[str, ...], amount: float = 1) -> None:
        with self.lock:
            self.values[labels] += amount

    def family(self) -> Metric:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labels)
        with self.lock:
            for labels, value in self.values.items():
                family.add_metric(list(labels), value)
        return family


class EventHistogram(EventCounter):
    """A histogram fed by events: per label set, the count in each bucket and the sum."""

    def __init__(self, name: str, documentation: str, labels: list[str], buckets: tuple[float, ...]):
        super().__init__(name, documentation, labels)
        self.buckets = buckets
        self.counts: dict[tuple[str, ...], list[int]] = {}

    def observe(self, labels: tuple[str, ...], value: float) -> None:
        with self.lock:
            counts = self.counts.setdefault(labels, [0] * (len(self.buckets) + 1))
            counts[bisect_left(self.buckets, value)] += 1
            self.values[labels] += value

    def family(self) -> Metric:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labels)
        with self.lock:
            for labels, counts in self.counts.items():
                cumulative, total = [], 0
                for bound, count in zip((*map(str, self.buckets), "+Inf"), counts):
                    total += count
                    cumulative.append((bound, total))
                family.add_metric(list(labels), cumulative, self.values[labels])
        return family


class PrometheusListener:
    def __init__(self, snapshot: Callable[[], ServerSnapshot],
                 instrumentation_failures: Callable[[], dict[tuple[str, str], int]]):
        labels = ["consumer_group", "topic"]
        self.messages = EventCounter("karafka_messages_consumed", "Messages processed by consumers", labels)
        self.batches = EventCounter("karafka_batches_consumed", "Batches processed by consumers", labels)
        self.processing = EventHistogram("karafka_batch_processing_seconds", "Time consume() took per batch", labels, BUCKETS_S)
        self.errors = EventCounter("karafka_errors", "Errors by type, consumer group and topic ('' when not a partition's)",
                                   ["type", "consumer_group", "topic"])
        self.dead_lettered = EventCounter("karafka_dead_letter_queue_dispatched", "Messages sent to a DLQ", labels)
        self.rebalances = EventCounter("karafka_rebalances", "Partitions assigned, revoked or lost, by subscription group",
                                       ["subscription_group", "event"])
        self.registry = CollectorRegistry()
        for collector in (ProcessCollector, PlatformCollector, GCCollector):
            collector(registry=self.registry)
        self.registry.register(ServerCollector(snapshot, (self.messages, self.batches, self.processing, self.errors,
                                                          self.dead_lettered, self.rebalances), instrumentation_failures))

    def on_consumer_consumed(self, _event: str, p: dict[str, Any]) -> None:
        labels = (p["consumer_group"], p["topic"])
        self.messages.inc(labels, p["size"])
        self.batches.inc(labels)
        self.processing.observe(labels, p["time_ms"] / 1000)

    def on_error_occurred(self, _event: str, p: dict[str, Any]) -> None:
        self.errors.inc((p["type"], p.get("consumer_group") or "", p.get("topic") or ""))

    def on_dead_letter_queue_dispatched(self, _event: str, p: dict[str, Any]) -> None:
        self.dead_lettered.inc((p["consumer_group"], p["topic"]))

    def on_connection_listener_partitions_assigned(self, _event: str, p: dict[str, Any]) -> None:
        self.rebalances.inc((p["subscription_group"], "assigned"))

    def on_connection_listener_partitions_revoked(self, _event: str, p: dict[str, Any]) -> None:
        self.rebalances.inc((p["subscription_group"], "revoked"))

    def on_connection_listener_partitions_lost(self, _event: str, p: dict[str, Any]) -> None:
        self.rebalances.inc((p["subscription_group"], "lost"))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class ServerCollector:
    """The event-fed families, and figures read from the running server when Prometheus scrapes."""

    def __init__(self, snapshot: Callable[[], ServerSnapshot], counters: tuple[EventCounter, ...],
                 instrumentation_failures: Callable[[], dict[tuple[str, str], int]]):
        self.snapshot = snapshot
        self.counters = counters
        self.instrumentation_failures = instrumentation_failures

    def collect(self) -> Iterator[Any]:
        yield from (counter.family() for counter in self.counters)
        failures = CounterMetricFamily("karafka_instrumentation_failures",
                                       "Failures while reporting (a subscriber, a wrapper, building an error event); "
                                       "processing went on without them", labels=["subscriber", "event"])
        for (where, event), count in self.instrumentation_failures().items():
            failures.add_metric([where, event], count)
        yield failures
        snapshot = self.snapshot()
        yield from self._partitions(snapshot)
        yield from self._clients(snapshot)
        workers = snapshot.workers
        yield GaugeMetricFamily("karafka_workers", "Worker threads (CONCURRENCY)", value=workers.concurrency)
        yield GaugeMetricFamily("karafka_workers_busy", "Workers running a job now", value=workers.busy)
        yield GaugeMetricFamily("karafka_jobs_queued", "Jobs waiting for a worker", value=workers.queued)
        unavailable = GaugeMetricFamily("karafka_dependency_unavailable_seconds",
                                        "How long a dependency (the database, a declared service) has been unavailable",
                                        labels=["dependency"])
        for outage in snapshot.dependencies_unavailable:
            unavailable.add_metric([outage["dependency"]], outage["since_s"])
        yield unavailable

    def _partitions(self, snapshot: ServerSnapshot) -> Iterator[Any]:
        lag = GaugeMetricFamily("karafka_consumer_lag", "High watermark minus the offset processed (stored)", labels=PARTITION)
        committed_lag = GaugeMetricFamily("karafka_consumer_lag_committed", "High watermark minus committed offset",
                                          labels=PARTITION)
        stalled = GaugeMetricFamily("karafka_partition_stalled_seconds",
                                    "How long a partition with work waiting has not moved its consumed offset", labels=PARTITION)
        assigned: dict[tuple[str, str], int] = defaultdict(int)
        paused: dict[tuple[str, str], int] = defaultdict(int)
        for p in snapshot.partitions:
            labels = [p.consumer_group, p.topic, str(p.partition)]
            for family, value in ((lag, p.lag), (committed_lag, p.committed_lag)):
                if value is not None:
                    family.add_metric(labels, value)
            if p.stalled:
                stalled.add_metric(labels, p.stalled_s or 0.0)
            assigned[p.consumer_group, p.topic] += 1
            paused[p.consumer_group, p.topic] += p.fetch_paused
        yield from (lag, committed_lag, stalled)
        for name, documentation, counts in (
                ("karafka_partitions_assigned", "Partitions assigned to this process", assigned),
                ("karafka_partitions_paused", "Assigned partitions not fetched now (backoff, pause, quiet, full buffer)", paused)):
            family = GaugeMetricFamily(name, documentation, labels=["consumer_group", "topic"])
            for (group, topic), count in counts.items():
                family.add_metric([group, topic], count)
            yield family

    def _clients(self, snapshot: ServerSnapshot) -> Iterator[Any]:
        by_group = ["subscription_group"]
        rx = CounterMetricFamily("karafka_librdkafka_rx_messages", "Messages fetched by librdkafka", labels=by_group)
        rx_bytes = CounterMetricFamily("karafka_librdkafka_rx_bytes", "Bytes received from brokers", labels=by_group)
        queued = GaugeMetricFamily("karafka_librdkafka_queued_messages", "Messages waiting in librdkafka's queues", labels=by_group)
        for listener in snapshot.listeners:
            totals = listener.client_totals
            if totals:
                rx.add_metric([listener.subscription_group], totals["fetched_messages"])
                rx_bytes.add_metric([listener.subscription_group], totals["fetched_bytes"])
                queued.add_metric([listener.subscription_group], totals["queued_messages"])
        yield from (rx, rx_bytes, queued)
        state = producer.state()
        yield GaugeMetricFamily("karafka_producer_in_flight", "Messages produced and not yet acknowledged or failed",
                                value=state["in_flight"])
        yield CounterMetricFamily("karafka_producer_delivered", "Messages the shared producer delivered", value=state["delivered"])
        yield CounterMetricFamily("karafka_producer_failed", "Messages the shared producer failed to deliver", value=state["failed"])
