"""Prometheus metrics (optional: ``pip install 'karafka_django[metrics]'``).

Counters and histograms are fed by monitor events (so they cost nothing when not enabled);
lag, worker utilisation and librdkafka's own figures are read from the live server at scrape
time, so they are never stale after a rebalance.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from .snapshot import ServerSnapshot


class PrometheusListener:
    def __init__(self, snapshot: Callable[[], ServerSnapshot]):
        self.registry = CollectorRegistry()
        labels = ["consumer_group", "topic"]
        self.messages = Counter("karafka_messages_consumed", "Messages processed by consumers", labels, registry=self.registry)
        self.batches = Counter("karafka_batches_consumed", "Batches processed by consumers", labels, registry=self.registry)
        self.processing = Histogram(
            "karafka_batch_processing_seconds", "Time consume() took per batch", labels, registry=self.registry,
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120),
        )
        self.errors = Counter("karafka_errors", "Errors by type", ["type"], registry=self.registry)
        self.dead_lettered = Counter("karafka_dead_letter_queue_dispatched", "Messages sent to a DLQ", ["topic"], registry=self.registry)
        self.registry.register(ServerCollector(snapshot))

    def on_consumer_consumed(self, _event: str, p: dict[str, Any]) -> None:
        labels = (p["consumer_group"], p["topic"])
        self.messages.labels(*labels).inc(p["size"])
        self.batches.labels(*labels).inc()
        self.processing.labels(*labels).observe(p["time_ms"] / 1000)

    def on_error_occurred(self, _event: str, p: dict[str, Any]) -> None:
        self.errors.labels(p["type"]).inc()

    def on_dead_letter_queue_dispatched(self, _event: str, p: dict[str, Any]) -> None:
        self.dead_lettered.labels(p["topic"]).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class ServerCollector:
    """Figures read from the running server when Prometheus scrapes."""

    def __init__(self, snapshot: Callable[[], ServerSnapshot]):
        self.snapshot = snapshot

    def collect(self) -> Iterator[Any]:
        snapshot = self.snapshot()
        labels = ["consumer_group", "topic", "partition"]
        lag = GaugeMetricFamily("karafka_consumer_lag", "High watermark minus the offset processed (stored)", labels=labels)
        committed_lag = GaugeMetricFamily("karafka_consumer_lag_committed", "High watermark minus committed offset",
                                          labels=labels)
        rx = CounterMetricFamily("karafka_librdkafka_rx_messages", "Messages fetched by librdkafka",
                                 labels=["subscription_group"])
        rx_bytes = CounterMetricFamily("karafka_librdkafka_rx_bytes", "Bytes received from brokers",
                                       labels=["subscription_group"])
        queued = GaugeMetricFamily("karafka_librdkafka_queued_messages", "Messages waiting in librdkafka's queues",
                                   labels=["subscription_group"])
        for listener in snapshot.listeners:
            for p in listener.partitions:
                for family, value in ((lag, p.lag), (committed_lag, p.committed_lag)):
                    if value is not None:
                        family.add_metric([p.consumer_group, p.topic, str(p.partition)], value)
            totals = listener.client_totals
            if totals:
                rx.add_metric([listener.subscription_group], totals["fetched_messages"])
                rx_bytes.add_metric([listener.subscription_group], totals["fetched_bytes"])
                queued.add_metric([listener.subscription_group], totals["queued_messages"])
        yield from (lag, committed_lag, rx, rx_bytes, queued)
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
        stalled = GaugeMetricFamily("karafka_partition_stalled_seconds",
                                    "How long a partition with work waiting has not moved its consumed offset", labels=labels)
        for p in snapshot.partitions:
            if p.stalled:
                stalled.add_metric([p.consumer_group, p.topic, str(p.partition)], p.stalled_s or 0.0)
        yield stalled
