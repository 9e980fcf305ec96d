"""OpenTelemetry tracing across Kafka (``pip install 'karafka_django[otel]'``):

    KARAFKA["LISTENERS"] = ["karafka_django.instrumentation.vendors.otel.TracingListener"]

The shared producer opens a ``send <topic>`` span and injects its context into the message's
headers (``traceparent``, by the configured propagator). The server opens one ``process <topic>``
span per batch (messaging semantic conventions), which continues the producer's trace when the
batch carries one context (a lone message) and links to every message's context otherwise; an
exception from ``consume`` is recorded on it. A dead letter dispatch is a span under the
message's own context. Spans go wherever the application's ``TracerProvider`` sends them.
The framework's own traffic (process reports, errors and commands for the admin, every few
seconds) opens no span unless ``trace_framework_topics=True``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from itertools import islice
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import Getter, Setter
from opentelemetry.trace import Link, SpanKind

from ...conf import get_config

MAX_LINKS = 128  # a batch links to at most this many messages' contexts

Headers = list[tuple[str, bytes | None]]


class _HeadersGetter(Getter[Headers]):
    def get(self, carrier: Headers, key: str) -> list[str] | None:
        found = [value.decode("utf-8", "replace") for name, value in carrier if name == key and value is not None]
        return found or None

    def keys(self, carrier: Headers) -> list[str]:
        return [name for name, _ in carrier]


class _HeadersSetter(Setter[Headers]):
    def set(self, carrier: Headers, key: str, value: str) -> None:
        carrier.append((key, value.encode()))


GETTER, SETTER = _HeadersGetter(), _HeadersSetter()


def as_header_list(headers: Any) -> Headers:
    if not headers:
        return []
    pairs = headers.items() if isinstance(headers, dict) else headers
    return [(name, value.encode() if isinstance(value, str) else value) for name, value in pairs]


def _span_context(headers: Headers) -> trace.SpanContext:
    return trace.get_current_span(propagate.extract(headers, getter=GETTER)).get_span_context()


class TracingListener:
    def __init__(self, tracer_provider: trace.TracerProvider | None = None, max_links: int = MAX_LINKS,
                 trace_framework_topics: bool = False):
        self.tracer = trace.get_tracer("karafka_django", tracer_provider=tracer_provider)
        self.max_links = max_links
        self.trace_framework_topics = trace_framework_topics

    def _framework_topic(self, topic: str) -> bool:
        config = get_config()
        return topic in (config.reports_topic, config.errors_topic, config.commands_topic)

    @contextmanager
    def around_producer_produce(self, payload: dict[str, Any]) -> Iterator[None]:
        topic = payload["topic"]
        if not self.trace_framework_topics and self._framework_topic(topic):
            yield
            return
        attributes = {"messaging.system": "kafka", "messaging.operation.type": "send", "messaging.destination.name": topic}
        with self.tracer.start_as_current_span(f"send {topic}", kind=SpanKind.PRODUCER, attributes=attributes):
            fields = propagate.get_global_textmap().fields
            headers = [(name, value) for name, value in as_header_list(payload["headers"]) if name not in fields]
            propagate.inject(headers, setter=SETTER)  # replaces a context copied along (a DLQ dispatch)
            payload["headers"] = headers
            yield

    @contextmanager
    def around_consumer_consume(self, payload: dict[str, Any]) -> Iterator[None]:
        messages, route = payload["messages"], payload["route"]
        metadata = messages.metadata
        contexts = [_span_context(m.raw_headers) for m in islice(messages, self.max_links)]
        links = [Link(c) for c in contexts if c.is_valid]
        carried = {(c.trace_id, c.span_id) for c in contexts}
        # One context for the whole batch: continue that trace; several: a new trace linking to each.
        parent = trace.set_span_in_context(trace.NonRecordingSpan(contexts[0])) if len(carried) == 1 and links else Context()
        attributes = {
            "messaging.system": "kafka", "messaging.operation.type": "process",
            "messaging.destination.name": metadata.topic, "messaging.destination.partition.id": str(metadata.partition),
            "messaging.batch.message_count": metadata.size, "messaging.consumer.group.name": route.consumer_group,
            "messaging.kafka.offset": metadata.first_offset, "karafka.consumer": route.consumer_path,
        }
        with self.tracer.start_as_current_span(f"process {metadata.topic}", context=parent, kind=SpanKind.CONSUMER,
                                               links=links, attributes=attributes):
            yield

    @contextmanager
    def around_dead_letter_queue_dispatch(self, payload: dict[str, Any]) -> Iterator[None]:
        raw, route, error = payload["raw"], payload["route"], payload["error"]
        parent = trace.set_span_in_context(trace.NonRecordingSpan(_span_context(raw.headers() or [])))
        attributes = {
            "messaging.system": "kafka", "messaging.destination.name": route.dead_letter_queue.topic or "",
            "messaging.consumer.group.name": route.consumer_group, "karafka.original_topic": raw.topic(),
            "karafka.original_partition": raw.partition(), "karafka.original_offset": raw.offset(),
            "error.type": type(error).__qualname__ if error is not None else "",
        }
        with self.tracer.start_as_current_span(f"dead_letter_queue {raw.topic()}", context=parent, attributes=attributes):
            yield
