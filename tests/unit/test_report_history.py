"""Health flags and sparklines from a history of reports (pure logic: synthetic reports)."""

from datetime import UTC, datetime, timedelta

from karafka_django.processing.pause import Backoff, Pause
from karafka_django.web.charts import sparkline
from karafka_django.web.history import ReportHistory

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def report(n: int, lag: int = 0, rss: float = 60.0, processed: int = 0, running_s=None, paused_s=None, at=None) -> dict:
    return {"id": "host:1", "reported_at": (at or T0 + timedelta(seconds=5 * n)).isoformat(), "rss_mb": rss,
            "processed": processed, "listeners": [{"consumer_group": "app", "max_poll_interval_s": 300.0}],
            "partitions": [{"consumer_group": "app", "topic": "orders", "partition": 0, "lag": lag,
                            "running_s": running_s, "paused_s": paused_s}]}


def flags_of(reports: list[dict]) -> dict:
    history = ReportHistory()
    history.add(reports, now=datetime.fromisoformat(reports[-1]["reported_at"]))
    return history.flags("host:1")


def test_a_quiet_process_has_no_flags():
    assert flags_of([report(n, lag=3, rss=60 + n % 2) for n in range(20)]) == {"process": [], "partitions": {}}


def test_a_lag_that_grew_in_each_of_the_last_reports_is_flagged_and_one_that_dipped_is_not():
    grew = flags_of([report(n, lag=100 * n) for n in range(8)])["partitions"][("app", "orders", 0)]
    assert grew == ["lag grew in each of the last 5 reports (200 -> 700)"]
    assert flags_of([report(n, lag=[1, 2, 3, 2, 4, 5, 6][n]) for n in range(7)])["partitions"] == {}


def test_a_batch_past_half_the_poll_interval_and_a_long_pause_are_flagged():
    flagged = flags_of([report(0, running_s=151.0, paused_s=61.0)])["partitions"][("app", "orders", 0)]
    assert flagged == ["batch running 151 s (max.poll.interval 300 s)", "paused 61 s"]
    assert flags_of([report(0, running_s=149.0, paused_s=59.0)])["partitions"] == {}


def test_an_rss_that_grows_report_after_report_is_flagged():
    assert flags_of([report(n, rss=60 + n) for n in range(10)])["process"] == [
        "RSS grew in each of the last 10 reports (60 -> 69 MB)"]
    assert flags_of([report(n, rss=60 + n * 0.1) for n in range(10)])["process"] == [], "too little to matter"


def test_reports_older_than_the_window_are_dropped_and_throughput_is_per_second():
    history = ReportHistory()
    history.add([report(0, processed=0, at=T0 - timedelta(minutes=20)), report(1, processed=0), report(2, processed=50),
                 report(3, processed=150)], now=T0 + timedelta(seconds=15))
    assert len(history.of("host:1")) == 3
    assert history.throughput_series("host:1") == [10.0, 20.0]


def test_a_sparkline_is_an_inline_svg_without_script():
    svg = sparkline([0, 5, 10])
    assert svg.startswith("<svg") and "<polyline" in svg and "script" not in svg
    assert 'points="0.0,26.0 80.0,14.0 160.0,2.0"' in svg
    assert "<polyline" not in sparkline([1])


def test_a_pause_knows_how_long_it_has_held_the_partition():
    pause = Pause(Backoff(1000, 1000, False))
    assert pause.held_for(10.0) is None
    pause.fail(10.0)
    assert pause.held_for(10.5) == 0.5 and pause.held_for(11.5) is None
