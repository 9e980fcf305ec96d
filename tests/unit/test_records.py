"""The one schema of process reports and error records: what does not fit is skipped, never shown."""

import json

from karafka_django.instrumentation.records import Readings, read_error, read_report

REPORT = {"id": "h:1", "reported_at": "2026-12-05T10:00:00+00:00", "started_at": "2026-12-05T09:00:00+00:00",
          "report_interval_ms": 5000, "state": "running", "processed": 10, "rss_mb": 60.5,
          "listeners": [{"consumer_group": "g", "max_poll_interval_s": 300}],
          "partitions": [{"consumer_group": "g", "topic": "t", "partition": 0, "lag": 0, "running_s": None}]}


def encoded(record) -> bytes:
    return json.dumps(record).encode()


def test_a_report_as_the_reporter_writes_it_is_read():
    assert read_report(encoded(REPORT)) == REPORT


def test_reports_that_do_not_fit_are_not_read():
    bad = [
        b"not json", b"\xff\xfe", None, encoded([1, 2]),
        encoded({"id": "h:1", "reported_at": REPORT["reported_at"]}),  # only id and reported_at
        encoded({**REPORT, "reported_at": "yesterday"}),
        encoded({**REPORT, "reported_at": "2026-12-05T10:00:00"}),  # no time zone
        encoded({**REPORT, "report_interval_ms": 0}),
        encoded({**REPORT, "partitions": [{"topic": "t"}]}),
        encoded({**REPORT, "partitions": [{**REPORT["partitions"][0], "lag": "12"}]}),
        encoded({**REPORT, "partitions": [{**REPORT["partitions"][0], "running_s": "long"}]}),
        encoded({**REPORT, "listeners": "g"}),
        encoded({**REPORT, "processed": True}),
    ]
    readings = Readings(read_report)
    assert readings.read(bad + [encoded(REPORT)]) == [REPORT]
    assert readings.unreadable == len(bad)


def test_error_records():
    record = {"at": "2026-12-05T10:00:00+00:00", "type": "consumer.consume.error", "error": "ValueError: x", "partition": 1}
    assert read_error(encoded(record)) == record
    assert read_error(encoded({**record, "partition": "one"})) is None
    assert read_error(encoded({"type": "x"})) is None
    assert read_error(b"<html>") is None
