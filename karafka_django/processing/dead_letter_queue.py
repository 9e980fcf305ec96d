"""Dead letter queue dispatch: a message out of retries goes to the route's DLQ topic.

The original key, payload and headers are kept; headers naming the source and the error are
added. The produce is synchronous: only a message the broker acknowledged is marked, so a
failing DLQ keeps the partition retrying instead of losing the message.

A message too large for the dead letter topic (its ``max.message.bytes`` or the producer's
``message.max.bytes``) would block its partition for good: it is dead-lettered without its
payload, with a ``payload_dropped`` header saying why and how large it was. The original is still in
its own topic at ``original_offset`` for as long as that topic keeps it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError

from ..errors import ProduceError
from ..producing.producer import producer
from ..routing.route import Route

#: The headers a dispatch adds to the message's own (a replay takes them off again).
DLQ_HEADERS = ("original_topic", "original_partition", "original_offset", "original_consumer_group",
               "error_class", "error_message")
#: Added when the message was too large for the dead letter topic and went without its payload.
PAYLOAD_DROPPED_HEADER = "payload_dropped"


def headers_for(raw: Any, route: Route, error: BaseException | None) -> list[tuple[str, bytes]]:
    error_class = type(error) if error is not None else None
    return [
        *(raw.headers() or ()),
        ("original_topic", raw.topic().encode()),
        ("original_partition", str(raw.partition()).encode()),
        ("original_offset", str(raw.offset()).encode()),
        ("original_consumer_group", route.consumer_group.encode()),
        ("error_class", f"{error_class.__module__}.{error_class.__qualname__}".encode() if error_class else b""),
        ("error_message", str(error).encode("utf-8", "replace")),
    ]


def dispatch(raw: Any, route: Route, error: BaseException | None,
             send: Callable[..., Any] | None = None) -> None:
    """Produce ``raw`` to the DLQ with ``send`` (the process's producer, or a transaction's);
    raises on failure. A DLQ without topic skips it on purpose."""
    topic = route.dead_letter_queue.topic if route.dead_letter_queue is not None else None
    if topic is None:
        return
    headers = headers_for(raw, route, error)
    send = send or producer.produce_sync
    try:
        send(topic, raw.value(), key=raw.key(), headers=headers)
    except ProduceError as exc:
        if not too_large(exc):
            raise
        dropped = f"{len(raw.value() or b'')} bytes: too large for {topic} ({exc})"
        send(topic, None, key=raw.key(), headers=[*headers, (PAYLOAD_DROPPED_HEADER, dropped.encode())])


def too_large(error: ProduceError) -> bool:
    code = getattr(error.error, "code", None)
    return callable(code) and code() == KafkaError.MSG_SIZE_TOO_LARGE
