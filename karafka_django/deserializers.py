"""Payload deserializers: callables taking a :class:`~karafka_django.messages.Message`.

The built-in ones read nothing but the payload's bytes, so they are :class:`PayloadLoader`
instances: ``Messages.payloads()`` hands them the whole batch's payloads at once, with no
``Message`` object per message (the JSON hot path). Any callable taking a message works too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json.decoder import JSONDecoder
from typing import Any

from django.utils.module_loading import import_string


class PayloadLoader:
    """A deserializer that is a function of the payload's bytes (``loads``); a tombstone (``None``
    payload) stays ``None``. ``loads`` may be a dotted path, imported on first use, so an
    optional extra (orjson) is imported only by the routes that use it."""

    loads: Callable[[bytes], Any]

    def __init__(self, loads: Callable[[bytes], Any] | str, name: str):
        if isinstance(loads, str):
            self._path = loads  # imported by __getattr__ on first use, then a plain attribute
        else:
            self.loads = loads
        self.__name__ = self.__qualname__ = name

    def __getattr__(self, attribute: str) -> Any:
        if attribute != "loads" or "_path" not in self.__dict__:
            raise AttributeError(attribute)
        self.loads = import_string(self._path)
        return self.loads

    def __call__(self, message: Any) -> Any:
        raw = message.raw_payload
        return None if raw is None else self.loads(raw)

    def many(self, payloads: list[bytes | None]) -> list[Any]:
        """The deserialized payloads of a batch, in order (the first failure raises)."""
        loads = self.loads
        return [None if raw is None else loads(raw) for raw in payloads]

    def __repr__(self) -> str:
        return f"<PayloadLoader {self.__name__}>"


_decode_document = JSONDecoder().raw_decode


def loads_json(raw: bytes) -> Any:
    """``json.loads`` for the payloads Kafka carries, in ~60% of its time: plain UTF-8 holding
    one document is decoded and scanned by the stdlib's own C scanner, without the encoding
    detection and wrapper layers ``json.loads`` walks for every input. Anything else (a BOM,
    UTF-16/32, surrounding whitespace, invalid input) is handed to ``json.loads``, so the result
    and the error are exactly the stdlib's."""
    try:
        text = raw.decode()
        document, end = _decode_document(text)
    except (ValueError, AttributeError):  # Unicode- and JSONDecodeError are ValueErrors; a str has no decode
        return json.loads(raw)
    return document if end == len(text) else json.loads(raw)


#: The default: UTF-8 JSON, parsed by the standard library.
json_deserializer = PayloadLoader(loads_json, "json_deserializer")
#: JSON parsed by orjson (``pip install 'karafka_django[orjson]'``): several times faster.
orjson_deserializer = PayloadLoader("orjson.loads", "orjson_deserializer")
#: The text of the payload (UTF-8).
string_deserializer = PayloadLoader(lambda raw: raw.decode("utf-8"), "string_deserializer")


def raw_deserializer(message: Any) -> Any:
    return message.raw_payload
