"""Payload deserializers: callables taking a :class:`~karafka_django.messages.Message`."""

from __future__ import annotations

import json
from typing import Any


def json_deserializer(message: Any) -> Any:
    """The default: UTF-8 JSON; a tombstone (``None`` payload) stays ``None``."""
    raw = message.raw_payload
    return None if raw is None else json.loads(raw)


def orjson_deserializer(message: Any) -> Any:
    """JSON parsed by orjson (``pip install 'karafka_django[orjson]'``): several times faster."""
    import orjson

    raw = message.raw_payload
    return None if raw is None else orjson.loads(raw)


def raw_deserializer(message: Any) -> Any:
    return message.raw_payload


def string_deserializer(message: Any) -> Any:
    raw = message.raw_payload
    return None if raw is None else raw.decode("utf-8")
