"""One schema for each record that crosses a process boundary: process reports and error records.

The reporter writes them to Kafka; the admin reads them back, from processes of any version and
from whatever else landed in those topics. Reading validates: a record that does not fit is
skipped and counted (the pages say "N unreadable records"), so one malformed record can never
break a page for everyone until it ages out of the topic.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

Check = Callable[[Any], bool]
Fields = dict[str, Check]


def _text(value: Any) -> bool:
    return isinstance(value, str)


def _time(value: Any) -> bool:
    """An ISO 8601 time with its zone (what the reporter writes)."""
    if not isinstance(value, str):
        return False
    try:
        return datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _optional(check: Check) -> Check:
    return lambda value: value is None or check(value)


def _positive(value: Any) -> bool:
    return _integer(value) and value > 0


def _items(fields: dict[str, Check], optional: dict[str, Check]) -> Check:
    return lambda value: isinstance(value, list) and all(_fits(item, fields, optional) for item in value)


def _fits(record: Any, fields: dict[str, Check], optional: dict[str, Check] | None = None) -> bool:
    if not isinstance(record, dict):
        return False
    if not all(name in record and check(record[name]) for name, check in fields.items()):
        return False
    return all(check(record[name]) for name, check in (optional or {}).items() if name in record)


PARTITION: Fields = {"consumer_group": _text, "topic": _text, "partition": _integer, "lag": _optional(_integer)}
PARTITION_OPTIONAL: Fields = {"running_s": _optional(_number), "paused_s": _optional(_number), "stalled_s": _optional(_number),
                      "stalled": _optional(_text), "committed_lag": _optional(_integer)}
LISTENER: Fields = {"consumer_group": _text}
LISTENER_OPTIONAL: Fields = {"max_poll_interval_s": _optional(_number)}
REPORT: Fields = {
    "id": _text, "reported_at": _time, "started_at": _time, "report_interval_ms": _positive, "state": _text,
    "processed": _integer, "rss_mb": _number,
    "listeners": _items(LISTENER, LISTENER_OPTIONAL),
    "partitions": _items(PARTITION, PARTITION_OPTIONAL),
}
TOPIC_PROCESSED: Fields = {"consumer_group": _text, "topic": _text, "processed": _integer}
REPORT_OPTIONAL: Fields = {"topics": _items(TOPIC_PROCESSED, {})}  # since 0.2: messages processed per topic since start
ERROR: Fields = {"at": _time, "type": _text}
ERROR_OPTIONAL: Fields = {"error": _optional(_text), "error_class": _optional(_text), "process": _optional(_text),
                  "topic": _optional(_text), "partition": _optional(_integer), "first_offset": _optional(_integer),
                  "payload_excerpt": _optional(_text), "traceback": _optional(_text), "consumer": _optional(_text)}


def _read(raw: bytes | None, fields: dict[str, Check], optional: dict[str, Check]) -> dict[str, Any] | None:
    try:
        record = json.loads(raw or b"")
    except (ValueError, UnicodeDecodeError):
        return None
    return record if _fits(record, fields, optional) else None


def read_report(raw: bytes | None) -> dict[str, Any] | None:
    """A process report, or None when ``raw`` is not one this version can show."""
    return _read(raw, REPORT, REPORT_OPTIONAL)


def read_error(raw: bytes | None) -> dict[str, Any] | None:
    """An error record, or None when ``raw`` is not one."""
    return _read(raw, ERROR, ERROR_OPTIONAL)


class Readings:
    """Records read from a topic: the valid ones and how many were not."""

    def __init__(self, reader: Callable[[bytes | None], dict[str, Any] | None]):
        self.reader = reader
        self.unreadable = 0

    def read(self, values: list[bytes | None]) -> list[dict[str, Any]]:
        records = []
        for value in values:
            record = self.reader(value)
            if record is None:
                self.unreadable += 1
            else:
                records.append(record)
        return records
