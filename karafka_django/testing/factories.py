"""factory-boy factories for messages, for consumers' unit tests (needs ``factory-boy``)."""

from __future__ import annotations

import factory

from ..deserializers import json_deserializer
from ..messages import Message, message_class
from ..producing.producer import serialize
from . import raw_message


class MessageFactory(factory.Factory):
    """``MessageFactory(payload={"id": 1})``; traits: ``tombstone``, ``traced`` (headers), ``binary``."""

    class Meta:
        model = Message
        exclude = ("payload",)

    topic = "orders"
    partition = 0
    offset = factory.Sequence(int)
    key = factory.LazyAttribute(lambda o: f"key-{o.offset}")
    payload = factory.LazyAttribute(lambda o: {"id": o.offset})
    value = factory.LazyAttribute(lambda o: serialize(o.payload))
    headers = None
    deserializer = json_deserializer

    class Params:
        tombstone = factory.Trait(value=None)
        traced = factory.Trait(headers={"trace_id": "00f067aa0ba902b7"})
        binary = factory.Trait(value=b"\x00\x01\x02")

    @classmethod
    def _create(cls, model_class, topic, partition, offset, key, value, headers, deserializer):
        return message_class(deserializer)(raw_message(topic, partition, offset, value, key, headers))

    _build = _create
