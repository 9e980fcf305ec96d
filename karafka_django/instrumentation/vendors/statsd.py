"""StatsD / DogStatsD metrics (``pip install 'karafka_django[statsd]'``, Datadog's client):

    KARAFKA["LISTENERS"] = [{"class": "karafka_django.instrumentation.vendors.statsd.StatsdListener",
                             "host": "127.0.0.1", "port": 8125}]

Counters ``karafka.messages.consumed``, ``karafka.batches.consumed``, ``karafka.errors`` (tag
``type``), ``karafka.dead_letter_queue.dispatched``; the timing ``karafka.batch.processing_time``
(ms); the gauge ``karafka.consumer.lag`` per partition, every ``statistics.interval.ms`` (a
paused partition's from the broker's end offset, as everywhere). A dead-lettered message is
counted by ``dead_letter_queue.dispatched``, not as consumed. Tags: ``topic``, ``partition``, ``consumer_group`` (DogStatsD tags;
a plain StatsD server ignores them).
"""

from __future__ import annotations

from typing import Any

from datadog.dogstatsd import DogStatsd


def _tags(payload: dict[str, Any], *keys: str) -> list[str]:
    return [f"{key}:{payload[key]}" for key in keys if payload.get(key) is not None]


class StatsdListener:
    def __init__(self, host: str = "127.0.0.1", port: int = 8125, namespace: str = "karafka", tags: tuple[str, ...] | list[str] = (),
                 client: DogStatsd | None = None):
        self.client = client or DogStatsd(host=host, port=port, namespace=namespace, constant_tags=list(tags),
                                          disable_telemetry=True)

    def on_consumer_consumed(self, _event: str, payload: dict[str, Any]) -> None:
        tags = _tags(payload, "topic", "partition", "consumer_group")
        self.client.increment("messages.consumed", payload["size"], tags=tags)
        self.client.increment("batches.consumed", tags=tags)
        self.client.timing("batch.processing_time", payload["time_ms"], tags=tags)

    def on_error_occurred(self, _event: str, payload: dict[str, Any]) -> None:
        self.client.increment("errors", tags=_tags(payload, "type", "topic", "partition", "consumer_group"))

    def on_dead_letter_queue_dispatched(self, _event: str, payload: dict[str, Any]) -> None:
        self.client.increment("dead_letter_queue.dispatched",
                              tags=_tags(payload, "topic", "partition", "consumer_group", "dead_letter_topic"))

    def on_statistics_emitted(self, _event: str, payload: dict[str, Any]) -> None:
        for p in payload["partitions"]:
            if p.lag is not None:
                self.client.gauge("consumer.lag", p.lag,
                                  tags=[f"topic:{p.topic}", f"partition:{p.partition}", f"consumer_group:{p.consumer_group}"])
