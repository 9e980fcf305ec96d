"""Searching a topic for the admin's explorer: across all partitions, by key, payload substring,
header and time range, newest first, within a scan limit the page states.

A time range starts each partition at the first message stamped at or after ``since``
(:class:`~karafka_django.cluster.positions.PositionReader`); without one, each partition's newest
messages are scanned. The limit bounds the messages read, never the matches found among them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django import forms

from ..cluster.positions import PositionReader
from ..cluster.reader import Read, TopicReader

MAX_SCAN = 100_000
SHOWN = 100
EPOCH = datetime.fromtimestamp(0, tz=UTC)


class SearchForm(forms.Form):
    key = forms.CharField(required=False, help_text="the key, exactly")
    contains = forms.CharField(required=False, help_text="a substring of the payload")
    header = forms.CharField(required=False, help_text="a header name, or name=value")
    since = forms.DateTimeField(required=False, help_text="ISO 8601, e.g. 2026-11-25T08:00")
    until = forms.DateTimeField(required=False)
    limit = forms.IntegerField(required=False, min_value=1, max_value=MAX_SCAN, initial=10_000,
                               help_text=f"messages to scan, at most {MAX_SCAN:,}")

    def clean(self) -> dict:
        data = super().clean() or {}
        for name in ("since", "until"):
            if data.get(name) and data[name].timestamp() < 0:
                self.add_error(name, "Kafka's timestamps start in 1970.")
        if data.get("since") and data.get("until") and data["until"] < data["since"]:
            raise forms.ValidationError("'until' is before 'since'.")
        return data


@dataclass(frozen=True)
class SearchResult:
    matches: list[Read]  # newest first, at most SHOWN
    total_matches: int
    scanned: int
    seconds: float


def matches(read: Read, key: str, contains: bytes, header: str, since: datetime | None, until: datetime | None) -> bool:
    if key and read.key != key:
        return False
    if contains and (read.value is None or contains not in read.value):
        return False
    if header:
        name, _, value = header.partition("=")
        if not any(n == name and (not value or (v or b"").decode("utf-8", "replace") == value) for n, v in read.raw_headers):
            return False
    if since is None and until is None:
        return True
    stamp = read.timestamp
    return stamp is not None and (since is None or stamp >= since) and (until is None or stamp <= until)


def search(reader: TopicReader, topic: str, query: dict) -> SearchResult:
    started = time.monotonic()
    partitions = reader.partitions(topic)
    if not partitions:
        raise ValueError(f"topic '{topic}' does not exist")
    limit = query.get("limit") or 10_000
    share = max(1, limit // len(partitions))
    if query.get("since"):
        with PositionReader(reader.kafka) as positions:
            starts = {p: positions.offset(topic, p, query["since"]) for p in partitions}
        scanned = reader.read(topic, {p: (start, start + share) for p, start in starts.items()})
    else:
        # Read to the true end from about ``share`` before it, then keep each partition's last
        # ``share`` (a broker's end offset can be off, the end of the read is not).
        read = reader.read(topic, {p: (None, None) for p in partitions}, count_back=share)
        scanned = [r for p in partitions for r in [r for r in read if r.partition == p][-share:]]
    contains = (query.get("contains") or "").encode()
    found = [r for r in scanned
             if matches(r, query.get("key") or "", contains, query.get("header") or "", query.get("since"), query.get("until"))]
    found.sort(key=lambda r: (r.timestamp or EPOCH, r.offset), reverse=True)
    return SearchResult(found[:SHOWN], len(found), len(scanned), time.monotonic() - started)
