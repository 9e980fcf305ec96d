"""Message and Messages: thin, lazy views over confluent-kafka messages.

Nothing is copied or decoded until a consumer reads it: a batch wraps the list the listener
fetched, a ``Message`` is created only while iterating, and the payload is deserialized on
first access and cached. That keeps the per-message cost of the framework near zero.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from confluent_kafka import TIMESTAMP_NOT_AVAILABLE
from confluent_kafka import Message as RawMessage

from .deserializers import PayloadLoader
from .errors import DeserializationError

_UNSET = object()

class Message:
    """One message. ``deserializer`` is a class attribute: each route gets a subclass carrying
    its own (see :func:`message_class`), so creating a Message stores one reference only."""

    __slots__ = ("_raw", "_payload")
    deserializer: Callable[[Message], Any] = staticmethod(lambda message: message.raw_payload)

    def __init__(self, raw: Any):
        self._raw = raw
        self._payload = _UNSET

    @property
    def payload(self) -> Any:
        """The deserialized payload; a failure raises :class:`DeserializationError` here."""
        if self._payload is _UNSET:
            try:
                self._payload = self.deserializer(self)
            except Exception as exc:
                raise DeserializationError(self.topic, self.partition, self.offset, exc) from exc
        return self._payload

    @property
    def raw_payload(self) -> bytes | None:
        return self._raw.value()

    @property
    def raw_key(self) -> bytes | None:
        return self._raw.key()

    @property
    def key(self) -> str | None:
        key = self._raw.key()
        return key.decode("utf-8", "replace") if isinstance(key, bytes) else key

    @property
    def headers(self) -> dict[str, str | None]:
        """Header values as text (invalid UTF-8 replaced), the last value of a repeated name:
        convenient for text headers. :attr:`raw_headers` has them as they were sent."""
        return {
            name: value.decode("utf-8", "replace") if isinstance(value, bytes) else value
            for name, value in (self._raw.headers() or ())
        }

    @property
    def raw_headers(self) -> list[tuple[str, bytes | None]]:
        """The headers as sent: (name, bytes) pairs in order, repeated names and binary values
        (trace ids, schema ids) kept."""
        return self._raw.headers() or []

    @property
    def topic(self) -> str:
        return self._raw.topic()

    @property
    def partition(self) -> int:
        return self._raw.partition()

    @property
    def offset(self) -> int:
        return self._raw.offset()

    @property
    def timestamp(self) -> datetime | None:
        kind, millis = self._raw.timestamp()
        if kind == TIMESTAMP_NOT_AVAILABLE:
            return None
        return datetime.fromtimestamp(millis / 1000, tz=UTC)

    def __repr__(self) -> str:
        return f"<Message {self.topic}/{self.partition}@{self.offset}>"


@dataclass(frozen=True)
class BatchMetadata:
    topic: str
    partition: int
    first_offset: int
    last_offset: int
    size: int


@cache
def message_class(deserializer: Callable[[Message], Any]) -> type[Message]:
    """The Message subclass that deserializes with ``deserializer`` (one per deserializer).

    A :class:`PayloadLoader` (the built-in deserializers) is called on the payload's bytes
    straight from ``payload``: half the cost per message of going through the generic call."""
    attributes: dict[str, Any] = {"__slots__": (), "deserializer": staticmethod(deserializer)}
    if isinstance(deserializer, PayloadLoader):
        attributes["payload"] = property(_payload_loaded_by(deserializer), doc=Message.payload.__doc__)
    return type("Message", (Message,), attributes)


def _payload_loaded_by(loader: PayloadLoader) -> Callable[[Message], Any]:
    def payload(message: Message) -> Any:
        value = message._payload
        if value is _UNSET:
            raw = message._raw.value()
            try:
                value = message._payload = None if raw is None else loader.loads(raw)
            except Exception as exc:
                raise DeserializationError(message.topic, message.partition, message.offset, exc) from exc
        return value

    return payload


class Messages:
    """A batch of one topic-partition, in offset order."""

    __slots__ = ("_raw", "_message")

    def __init__(self, raw: list, deserializer: Callable[[Message], Any]):
        self._raw = raw
        self._message = message_class(deserializer)

    @property
    def metadata(self) -> BatchMetadata:
        """Built when read: most consumers never look, and a batch is made per job."""
        first, last = self._raw[0], self._raw[-1]
        return BatchMetadata(first.topic(), first.partition(), first.offset(), last.offset(), len(self._raw))

    def __iter__(self) -> Iterator[Message]:
        return map(self._message, self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def __getitem__(self, index: int) -> Message:
        return self._message(self._raw[index])

    def first(self) -> Message:
        return self[0]

    def last(self) -> Message:
        return self[-1]

    def payloads(self) -> list[Any]:
        """Every message's deserialized payload. A deserializer that reads only the bytes (the
        built-in ones) gets them all at once, with no ``Message`` per message; when one fails,
        the batch is read again message by message, so the failure names its message."""
        many = getattr(self._message.deserializer, "many", None)
        if many is not None:
            try:
                return many(self.raw_payloads())
            except Exception:
                pass
        return [message.payload for message in self]

    # Batch accessors: one C call per message and no wrapper, for consumers that read every
    # message of a large batch (the same work as a raw confluent-kafka loop).

    def offsets(self) -> list[int]:
        return list(map(RawMessage.offset, self._raw))  # type: ignore[arg-type]  # always set on a fetched message

    def raw_payloads(self) -> list[bytes | None]:
        return list(map(RawMessage.value, self._raw))

    def raw_keys(self) -> list[bytes | None]:
        return list(map(RawMessage.key, self._raw))

    def __repr__(self) -> str:
        m = self.metadata
        return f"<Messages {m.topic}/{m.partition} {m.first_offset}..{m.last_offset} ({m.size})>"
