"""Messages are lazy: payloads are deserialized on first read, errors name the offset."""

import json

import pytest

from karafka_django.deserializers import json_deserializer
from karafka_django.errors import DeserializationError
from karafka_django.messages import Messages
from karafka_django.producing.producer import serialize
from karafka_django.testing import raw_message


def order(offset, value, key=b"k", headers=None):
    """A message of orders/2 produced in November 2023."""
    return raw_message("orders", 2, offset, value, key, headers, timestamp=1_700_000_000)


def test_payload_is_parsed_once_and_only_when_read():
    calls = []

    def counting(message):
        calls.append(message.offset)
        return json_deserializer(message)

    messages = Messages([order(5, b'{"a": 1}'), order(6, b"not json")], counting)
    first = messages.first()
    assert calls == []
    assert first.payload == {"a": 1} and first.payload == {"a": 1}
    assert calls == [5]
    assert messages.metadata.first_offset == 5 and messages.metadata.last_offset == 6 and len(messages) == 2
    with pytest.raises(DeserializationError, match="orders/2@6"):
        _ = messages.last().payload


def test_message_fields():
    message = Messages([order(1, None, key=b"k1", headers=[("trace", b"abc")])], json_deserializer).first()
    assert message.payload is None  # tombstone
    assert (message.key, message.raw_key, message.headers) == ("k1", b"k1", {"trace": "abc"})
    assert message.timestamp.year == 2023


def test_orjson_deserializer_reads_the_same_json():
    from karafka_django.deserializers import orjson_deserializer

    message = Messages([order(1, b'{"a": [1, 2]}')], orjson_deserializer).first()
    assert message.payload == {"a": [1, 2]}


@pytest.mark.parametrize("raw", [
    b'{"a": 1}', b' {"a": [1, 2]}\n', b"\xef\xbb\xbf{}", '{"a": "\u00e9"}'.encode("utf-16"), b'"x"', b"1.5",
    b"", b"nul", b"{}x", b"\xed\xa0\x80", b"\xff",
])
def test_the_default_json_loader_answers_as_json_loads(raw):
    """Its fast path (plain UTF-8, one document) or ``json.loads`` itself: the same value, the same error."""
    def outcome(loads):
        try:
            return loads(raw)
        except Exception as exc:
            return type(exc), str(exc)

    assert outcome(json_deserializer.loads) == outcome(json.loads)


def test_serialize_values_for_the_producer():
    assert serialize({"a": 1}) == b'{"a":1}'
    assert serialize("é") == "é".encode()
    assert serialize(b"raw") == b"raw" and serialize(None) is None


def test_batch_accessors_read_every_message_without_wrappers():
    messages = Messages([order(5, b'{"a": 1}', key=b"k5"), order(6, None, key=None)], json_deserializer)
    assert messages.offsets() == [5, 6]
    assert messages.raw_payloads() == [b'{"a": 1}', None]
    assert messages.raw_keys() == [b"k5", None]


@pytest.mark.parametrize("deserializer", ["json_deserializer", "orjson_deserializer"])
def test_payloads_of_a_batch_read_at_once_equal_each_message_payload(deserializer):
    from karafka_django import deserializers

    loader = getattr(deserializers, deserializer)
    batch = [order(5, b'{"a": 1}'), order(6, None), order(7, b"[2]")]
    assert Messages(batch, loader).payloads() == [{"a": 1}, None, [2]] == [m.payload for m in Messages(batch, loader)]
    with pytest.raises(DeserializationError, match="orders/2@6"):
        Messages([order(5, b"{}"), order(6, b"not json"), order(7, b"{}")], loader).payloads()


def test_payloads_with_a_deserializer_of_messages_read_each_message():
    seen = []

    def by_key(message):
        seen.append(message.offset)
        return message.key

    assert Messages([order(1, b"x", key=b"a"), order(2, b"y", key=b"b")], by_key).payloads() == ["a", "b"]
    assert seen == [1, 2]
